// Model preparation: read a model file, give its inputs the batch size or the full shapes asked
// for, and describe its ports. Each step is timed on the process clock.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <openvino/core/model.hpp>

namespace inferclock {

using ShapeMap = std::map<std::string, std::vector<int64_t>>;  // input name -> full shape

struct PortInfo {
    std::string name;
    std::string element_type;    // OpenVINO's name: f32, u8, i64...
    std::vector<int64_t> shape;  // after the reshape; empty for a dynamic output
    std::string partial_shape;   // inputs: as the model declared it; outputs: after the reshape
};

struct PreparedModel {
    std::shared_ptr<ov::Model> model;
    std::vector<PortInfo> inputs, outputs;
    double read_ms = 0, reshape_ms = 0;
};

// Read `path` (anything ov::Core::read_model reads) and reshape it: inputs named in `shapes`
// take that shape, the others `batch` in their batch dimension (from the layout, else the
// first dimension of a rank >= 2 input). ModelError names the file, input or dimension at fault.
PreparedModel prepare_model(const std::string& path, int64_t batch, const ShapeMap& shapes);

}  // namespace inferclock
