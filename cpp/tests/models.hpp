// Models the engine tests build and serialize to a temp dir (shared by test_engine.cpp and
// test_serve.cpp).
#pragma once

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include <openvino/core/graph_util.hpp>
#include <openvino/op/add.hpp>
#include <openvino/op/concat.hpp>
#include <openvino/op/constant.hpp>
#include <openvino/op/convert.hpp>
#include <openvino/op/floor.hpp>
#include <openvino/op/matmul.hpp>
#include <openvino/op/multiply.hpp>
#include <openvino/op/parameter.hpp>
#include <openvino/op/relu.hpp>
#include <openvino/op/reshape.hpp>

namespace inferclock::testing {

inline std::string temp_dir() {
    static std::string dir = [] {
        const char* base = std::getenv("TMPDIR");
        std::string tmpl = std::string(base ? base : "/tmp") + "/inferclock-ctest-XXXXXX";
        return std::string(::mkdtemp(tmpl.data()));
    }();
    return dir;
}

inline std::shared_ptr<ov::Node> hidden(const std::shared_ptr<ov::Node>& x) {
    std::vector<float> w(64 * 64);
    for (size_t i = 0; i < w.size(); ++i) w[i] = static_cast<float>(i % 7) * 0.01f - 0.03f;
    auto weights = ov::op::v0::Constant::create(ov::element::f32, {64, 64}, w);
    return std::make_shared<ov::op::v0::Relu>(std::make_shared<ov::op::v0::MatMul>(x, weights));
}

// x[N,64] @ W -> relu.
inline std::string matmul_model() {
    static std::string path = [] {
        auto x =
            std::make_shared<ov::op::v0::Parameter>(ov::element::f32, ov::PartialShape{-1, 64});
        x->output(0).set_names({"x"});
        auto model = std::make_shared<ov::Model>(ov::OutputVector{hidden(x)},
                                                 ov::ParameterVector{x}, "matmul");
        const std::string xml = temp_dir() + "/matmul.xml";
        ov::serialize(model, xml, temp_dir() + "/matmul.bin");
        return xml;
    }();
    return path;
}

// As matmul_model, then reshaped to [-1, 64 * (1 + floor(k))]: fine for the generated k in
// [0,1), an inference-time error (64 elements do not divide into rows of 384) for k = 5.
inline std::string poisonable_model() {
    static std::string path = [] {
        using namespace ov::op;
        auto x = std::make_shared<v0::Parameter>(ov::element::f32, ov::PartialShape{-1, 64});
        x->output(0).set_names({"x"});
        auto k = std::make_shared<v0::Parameter>(ov::element::f32, ov::PartialShape{1});
        k->output(0).set_names({"k"});
        auto width = std::make_shared<v1::Multiply>(
            std::make_shared<v1::Add>(std::make_shared<v0::Floor>(k),
                                      v0::Constant::create(ov::element::f32, {1}, {1.f})),
            v0::Constant::create(ov::element::f32, {1}, {64.f}));
        auto target = std::make_shared<v0::Concat>(
            ov::OutputVector{v0::Constant::create(ov::element::i64, {1}, {-1}),
                             std::make_shared<v0::Convert>(width, ov::element::i64)},
            0);
        auto out = std::make_shared<v1::Reshape>(hidden(x), target, false);
        auto model = std::make_shared<ov::Model>(ov::OutputVector{out}, ov::ParameterVector{x, k},
                                                 "poisonable");
        const std::string xml = temp_dir() + "/poisonable.xml";
        ov::serialize(model, xml, temp_dir() + "/poisonable.bin");
        return xml;
    }();
    return path;
}

}  // namespace inferclock::testing
