// Model preparation: the checks on the model path, read_model, the batch/shape rules of the
// reshape (like benchmark_app -b / -shape), and the port descriptions reported to users.
#include "inferclock/model.hpp"

#include <set>
#include <sys/stat.h>

#include <openvino/core/layout.hpp>

#include "detail.hpp"
#include "inferclock/devices.hpp"
#include "inferclock/errors.hpp"

namespace inferclock {

using detail::join;
using detail::ov_message;

namespace {

void check_model_path(const std::string& path) {
    struct stat st{};
    if (::stat(path.c_str(), &st) != 0) throw ModelError("model file not found: '" + path + "'");
    if (S_ISDIR(st.st_mode) && path.find("saved_model") == std::string::npos) {
        // TF SavedModel directories are legitimate; anything else that is a directory is not.
        struct stat pb{};
        if (::stat((path + "/saved_model.pb").c_str(), &pb) != 0)
            throw ModelError("model path '" + path +
                             "' is a directory, not a model file (expected .xml, .onnx, "
                             ".tflite, .pdmodel, .pb or a TF SavedModel directory)");
    }
    if (S_ISREG(st.st_mode) && st.st_size == 0)
        throw ModelError("model file '" + path + "' is empty");
}

// The shape an input without an entry in `shapes` takes: `batch` in its batch dimension.
ov::PartialShape batched_shape(const ov::Output<ov::Node>& in, int64_t batch) {
    const std::string name = in.get_any_name();
    ov::PartialShape ps = in.get_partial_shape();
    if (ps.rank().is_dynamic())
        throw ModelError("input '" + name +
                         "' has a dynamic rank; give its full shape with shapes={'" + name +
                         "': [...]}");
    // Batch dimension: from the layout when the model has one, else the first dim of an input
    // of rank >= 2. Rank 0/1 inputs have no batch dimension.
    int64_t bidx = -1;
    const auto layout = ov::layout::get_layout(in);
    if (!layout.empty() && ov::layout::has_batch(layout)) {
        bidx = ov::layout::batch_idx(layout);
        if (bidx < 0) bidx += ps.rank().get_length();  // "...N" layouts count from the end
    } else if (ps.rank().get_length() >= 2)
        bidx = 0;
    if (bidx < 0) {
        if (batch != 1)
            throw ModelError("input '" + name + "' (" + ps.to_string() +
                             ") has no batch dimension, so only batch_size=1 is possible; got "
                             "batch_size=" +
                             std::to_string(batch));
    } else {
        ps[bidx] = batch;
    }
    for (int64_t i = 0; i < ps.rank().get_length(); ++i) {
        if (ps[i].is_dynamic())
            throw ModelError("input '" + name + "' has a dynamic dimension " + std::to_string(i) +
                             " (shape " + in.get_partial_shape().to_string() +
                             ") besides the batch; give its shape with shapes={'" + name +
                             "': [...]} (like benchmark_app -shape)");
    }
    return ps;
}

void reshape(ov::Model& model, int64_t batch, const ShapeMap& shapes) {
    std::map<std::string, ov::PartialShape> target;
    std::set<std::string> used;
    bool changed = false;
    for (const auto& in : model.inputs()) {
        const std::string name = in.get_any_name();
        const ov::PartialShape ps = in.get_partial_shape();
        auto it = shapes.end();
        for (const auto& n : in.get_names())
            if (shapes.count(n)) it = shapes.find(n);
        if (it == shapes.end()) {
            target[name] = batched_shape(in, batch);
        } else {
            used.insert(it->first);
            if (ps.rank().is_static() &&
                static_cast<size_t>(ps.rank().get_length()) != it->second.size())
                throw ModelError("shapes['" + it->first + "'] has " +
                                 std::to_string(it->second.size()) + " dims but input '" + name +
                                 "' has rank " + std::to_string(ps.rank().get_length()) + " (" +
                                 ps.to_string() + ")");
            target[name] =
                ov::PartialShape(std::vector<ov::Dimension>(it->second.begin(), it->second.end()));
        }
        changed = changed || target[name] != ps;
    }
    for (const auto& kv : shapes) {
        if (used.count(kv.first)) continue;
        std::vector<std::string> names;
        for (const auto& in : model.inputs()) names.push_back(in.get_any_name());
        throw ModelError("shapes names an input '" + kv.first +
                         "' the model does not have; inputs: " + join(names));
    }
    if (!changed) return;
    try {
        model.reshape(target);
    } catch (const std::exception& e) {
        throw ModelError("could not reshape the model to batch " + std::to_string(batch) + ": " +
                         ov_message(e));
    }
}

PortInfo port_info(const ov::Output<ov::Node>& port, const std::string& partial_shape) {
    PortInfo p;
    p.name = port.get_names().empty() ? port.get_node()->get_friendly_name() : port.get_any_name();
    p.element_type = port.get_element_type().get_type_name();
    p.partial_shape = partial_shape;
    if (port.get_partial_shape().is_static())
        for (auto d : port.get_shape()) p.shape.push_back(static_cast<int64_t>(d));
    return p;
}

}  // namespace

PreparedModel prepare_model(const std::string& path, int64_t batch, const ShapeMap& shapes) {
    PreparedModel out;
    const ClockSource src = process_clock().source;
    check_model_path(path);
    {
        detail::Stopwatch sw(src);
        try {
            out.model = core().read_model(path);
        } catch (const std::exception& e) {
            throw ModelError("could not read model '" + path + "': " + ov_message(e));
        }
        out.read_ms = sw.ms();
    }
    // Inputs report the shape the model declares, before the reshape.
    std::vector<std::string> declared;
    for (const auto& in : out.model->inputs())
        declared.push_back(in.get_partial_shape().to_string());
    {
        detail::Stopwatch sw(src);
        reshape(*out.model, batch, shapes);
        out.reshape_ms = sw.ms();
    }
    for (size_t i = 0; i < out.model->inputs().size(); ++i)
        out.inputs.push_back(port_info(out.model->input(i), declared[i]));
    for (const auto& o : out.model->outputs())
        out.outputs.push_back(port_info(o, o.get_partial_shape().to_string()));
    return out;
}

}  // namespace inferclock
