// Input sets: tensors of the compiled model's input types and shapes, filled with seeded random
// values (or the user's arrays) before timing, and bound once to the requests that read them,
// so no loop ever calls set_tensor.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <openvino/runtime/compiled_model.hpp>
#include <openvino/runtime/infer_request.hpp>

#include "inferclock/model.hpp"

namespace inferclock {

class InputSets {
   public:
    // `ports` describe the compiled model's inputs in order (names, types and shapes to check
    // user data against). Values are seeded: the same seed gives the same tensors.
    InputSets(const ov::CompiledModel& compiled, std::vector<PortInfo> ports, int sets,
              uint64_t seed);

    size_t size() const { return sets_.size(); }
    // Request r reads set r % size().
    void bind(std::vector<ov::InferRequest>& requests) const;
    // Copy user data into input `name` of set `set` (ConfigError / ModelError when the set,
    // name, element type, shape or byte size do not match).
    void set(int set, const std::string& name, const std::string& element_type,
             const std::vector<int64_t>& shape, const void* data, size_t nbytes);
    const ov::Tensor& tensor(int set, const std::string& name) const;

   private:
    size_t index_of(int set, const std::string& name) const;

    std::vector<PortInfo> ports_;
    std::vector<ov::Output<const ov::Node>> inputs_;  // the compiled model's input ports
    std::vector<std::vector<ov::Tensor>> sets_;       // [set][input]
};

}  // namespace inferclock
