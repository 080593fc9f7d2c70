// Input sets: seeded random tensors per element type (values each type can hold and a model can
// digest), user data copied in after checks, and the binding of sets to requests.
#include "inferclock/inputs.hpp"

#include <cstring>
#include <random>

#include "detail.hpp"
#include "inferclock/errors.hpp"

namespace inferclock {

namespace {

template <class T, class Dist>
void fill(ov::Tensor& t, Dist d, std::mt19937_64& rng) {
    auto* p = static_cast<T*>(t.data());
    for (size_t i = 0, n = t.get_size(); i < n; ++i) p[i] = static_cast<T>(d(rng));
}

// [0,1) for floats, the full range of u8/i8 (image-like), small non-negative ints for i32/i64
// (ids, indices), 0/1 for booleans, zeros for anything else.
void fill_random(ov::Tensor& t, std::mt19937_64& rng) {
    namespace et = ov::element;
    const auto type = t.get_element_type();
    using Real = std::uniform_real_distribution<float>;
    if (type == et::f32)
        fill<float>(t, Real(0.f, 1.f), rng);
    else if (type == et::f16)
        fill<ov::float16>(t, Real(0.f, 1.f), rng);
    else if (type == et::bf16)
        fill<ov::bfloat16>(t, Real(0.f, 1.f), rng);
    else if (type == et::f64)
        fill<double>(t, std::uniform_real_distribution<double>(0., 1.), rng);
    else if (type == et::u8)
        fill<uint8_t>(t, std::uniform_int_distribution<int>(0, 255), rng);
    else if (type == et::i8)
        fill<int8_t>(t, std::uniform_int_distribution<int>(-128, 127), rng);
    else if (type == et::i32)
        fill<int32_t>(t, std::uniform_int_distribution<int32_t>(0, 9), rng);
    else if (type == et::i64)
        fill<int64_t>(t, std::uniform_int_distribution<int64_t>(0, 9), rng);
    else if (type == et::boolean)
        fill<uint8_t>(t, std::uniform_int_distribution<int>(0, 1), rng);
    else
        std::memset(t.data(), 0, t.get_byte_size());
}

}  // namespace

InputSets::InputSets(const ov::CompiledModel& compiled, std::vector<PortInfo> ports, int sets,
                     uint64_t seed)
    : ports_(std::move(ports)), inputs_(compiled.inputs()) {
    std::mt19937_64 rng(seed);
    sets_.assign(static_cast<size_t>(sets), {});
    for (auto& set : sets_) {
        for (const auto& in : inputs_) {
            ov::Tensor t(in.get_element_type(), in.get_shape());
            fill_random(t, rng);
            set.push_back(t);
        }
    }
}

void InputSets::bind(std::vector<ov::InferRequest>& requests) const {
    for (size_t r = 0; r < requests.size(); ++r) {
        const auto& set = sets_[r % sets_.size()];
        for (size_t i = 0; i < set.size(); ++i) requests[r].set_tensor(inputs_[i], set[i]);
    }
}

size_t InputSets::index_of(int set, const std::string& name) const {
    if (set < 0 || set >= static_cast<int>(sets_.size()))
        throw ConfigError("input set " + std::to_string(set) + " out of range (0.." +
                          std::to_string(sets_.size() - 1) + ")");
    for (size_t i = 0; i < ports_.size(); ++i)
        if (ports_[i].name == name) return i;
    std::vector<std::string> names;
    for (const auto& p : ports_) names.push_back(p.name);
    throw ModelError("the model has no input '" + name + "'; inputs: " + detail::join(names));
}

void InputSets::set(int set, const std::string& name, const std::string& element_type,
                    const std::vector<int64_t>& shape, const void* data, size_t nbytes) {
    const size_t i = index_of(set, name);
    const PortInfo& want = ports_[i];
    if (element_type != want.element_type)
        throw ModelError("input '" + name + "' takes " + want.element_type + ", got " +
                         element_type);
    if (shape != want.shape)
        throw ModelError("input '" + name + "' takes shape " + detail::shape_text(want.shape) +
                         ", got " + detail::shape_text(shape));
    ov::Tensor& t = sets_[static_cast<size_t>(set)][i];
    if (nbytes != t.get_byte_size())
        throw ModelError("input '" + name + "': " + std::to_string(nbytes) + " bytes given, " +
                         std::to_string(t.get_byte_size()) + " expected");
    std::memcpy(t.data(), data, nbytes);
}

const ov::Tensor& InputSets::tensor(int set, const std::string& name) const {
    return sets_[static_cast<size_t>(set)][index_of(set, name)];
}

}  // namespace inferclock
