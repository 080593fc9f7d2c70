"""vs_benchmark_app's runners: benchmark_app and ic.run in fresh processes, their compiled
configurations side by side, interleaved A/B pairs, and the bare C++ infer() loop.

Split out of ``vs_benchmark_app.py`` (which says what is measured and why); the model matrix
is ``_ba_matrix.py``.
"""

from __future__ import annotations

import json
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, __file__.rsplit("/", 1)[0])
import numpy as np
import openvino as ov
import openvino.opset13 as ops
from pypi_models import shapes_arg

import inferclock as ic
from inferclock._workers.run import prepare

# MatMul of [1,128] x [128,256] + ReLU: about 8 us per inference on the 2-core Zen 4 VM
# (one thread), most of it OpenVINO's per-call cost, which is what a harness must not add to.
MM_K, MM_N = 128, 256

BARE_CPP = r"""
// Bare loop: compile with the given properties, then time N back-to-back infer() calls.
#include <openvino/openvino.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <random>
#include <string>
#include <vector>

int main(int argc, char** argv) {
    if (argc < 6) {
        std::fprintf(stderr, "usage: bare MODEL BATCH N WARMUP REQUESTS [K=V]...\n");
        return 2;
    }
    const std::string path = argv[1];
    const int64_t batch = std::atoll(argv[2]), n = std::atoll(argv[3]), warm = std::atoll(argv[4]);
    const size_t nreq = static_cast<size_t>(std::atoi(argv[5]));
    ov::AnyMap props;
    for (int i = 6; i < argc; ++i) {
        const std::string kv = argv[i];
        const auto eq = kv.find('=');
        props[kv.substr(0, eq)] = kv.substr(eq + 1);
    }
    ov::Core core;
    auto model = core.read_model(path);
    // The batch goes into dim 0 of the first input; other inputs keep their (static) shapes.
    const ov::Output<ov::Node> in0 = model->input(0);
    auto ps = in0.get_partial_shape();
    ps[0] = batch;
    model->reshape(std::map<ov::Output<ov::Node>, ov::PartialShape>{{in0, ps}});
    auto cm = core.compile_model(model, "CPU", props);
    std::mt19937 gen(0);
    std::uniform_real_distribution<float> uni(0.f, 1.f);
    std::vector<ov::InferRequest> reqs;
    for (size_t r = 0; r < nreq; ++r) {
        reqs.push_back(cm.create_infer_request());
        for (const auto& in : cm.inputs()) {
            ov::Tensor t = reqs.back().get_tensor(in);
            if (t.get_element_type() == ov::element::f32) {
                float* d = t.data<float>();
                for (size_t i = 0; i < t.get_size(); ++i) d[i] = uni(gen);
            } else {
                std::memset(t.data(), 0, t.get_byte_size());
            }
        }
    }
    for (int64_t i = 0; i < warm; ++i) reqs[i % nreq].infer();
    size_t k = 0;
    const auto t0 = std::chrono::steady_clock::now();
    for (int64_t i = 0; i < n; ++i) {
        reqs[k].infer();
        k = (k + 1 == nreq) ? 0 : k + 1;
    }
    const auto t1 = std::chrono::steady_clock::now();
    const double ns = std::chrono::duration<double, std::nano>(t1 - t0).count();
    std::printf("{\"ns_per_iter\": %.3f, \"streams\": \"%s\", \"threads\": \"%s\", "
                "\"precision\": \"%s\"}\n",
                ns / static_cast<double>(n),
                cm.get_property("NUM_STREAMS").as<std::string>().c_str(),
                cm.get_property("INFERENCE_NUM_THREADS").as<std::string>().c_str(),
                cm.get_property("INFERENCE_PRECISION_HINT").as<std::string>().c_str());
    return 0;
}
"""


@dataclass
class BA:
    """What one benchmark_app run printed."""

    count: int
    duration_s: float
    median_ns: float
    mean_ns: float
    config: dict[str, str]
    wall_s: float

    def per_s(self, batch: int) -> float:
        # Computed from Count and Duration: its printed FPS counts inferences, not samples,
        # when the model has no layout with an N (e.g. the MatMul).
        return self.count * batch / self.duration_s


def build_matmul(d: Path) -> Path:
    rng = np.random.default_rng(0)
    x = ops.parameter([-1, MM_K], ov.Type.f32, name="x")
    w = ops.constant((rng.standard_normal((MM_K, MM_N)) * 0.05).astype(np.float32))
    model = ov.Model([ops.relu(ops.matmul(x, w, False, False))], [x], "matmul_8us")
    path = d / "matmul.xml"
    ov.save_model(model, str(path), compress_to_fp16=False)
    return path


def build_bare(d: Path) -> Path:
    ovdir = Path(ov.__file__).parent
    lib = next((ovdir / "libs").glob("libopenvino.so.*"))
    src, exe = d / "bare.cpp", d / "bare"
    src.write_text(BARE_CPP)
    subprocess.run(
        [
            "g++",
            "-O2",
            "-std=c++17",
            f"-I{ovdir / 'include'}",
            str(src),
            "-o",
            str(exe),
            str(lib),
            f"-Wl,-rpath,{lib.parent}",
        ],
        check=True,
    )
    return exe


def input_shape(path: Path, batch: int) -> str:
    ps = ov.Core().read_model(str(path)).input().get_partial_shape()
    dims = [batch] + [d.get_length() for d in list(ps)[1:]]
    return "[" + ",".join(str(x) for x in dims) + "]"


def _ns(value: str, unit: str) -> float:
    return float(value) * {"ms": 1e6, "us": 1e3}[unit]


def run_ba(
    path: Path,
    batch: int,
    hint: str,
    seconds: float | None,
    threads: int | None,
    tmp: Path,
    precision: str = "f32",
    *,
    shapes: Mapping[str, Sequence[int]] | None = None,
    input_precision: str | None = "f32",
) -> BA:
    """One benchmark_app run. ``shapes``: every input to reshape, by name (``-shape
    a[..],b[..]``); default: the first input at ``batch``. ``input_precision``: ``-ip``
    (None: the model's own input types)."""
    cmd = ["benchmark_app", "-m", str(path), "-d", "CPU", "-hint", hint]
    if precision != "default":
        cmd += ["-infer_precision", precision]
    if input_precision is not None:
        cmd += ["-ip", input_precision]
    if shapes:
        cmd += ["-shape", shapes_arg(shapes)]
    elif shapes is None:
        cmd += ["-shape", input_shape(path, batch)]
    if seconds is not None:
        cmd += ["-t", str(round(seconds))]  # whole seconds only
    if threads is not None:
        # benchmark_app refuses -nthreads unless -hint none; a config file keeps the hint.
        cfg = tmp / f"threads{threads}.json"
        cfg.write_text(json.dumps({"CPU": {"INFERENCE_NUM_THREADS": str(threads)}}))
        cmd += ["-load_config", str(cfg)]
    t0 = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    text = out.stdout + out.stderr
    m = {
        "count": re.search(r"Count:\s+(\d+) iterations", text),
        "duration": re.search(r"Duration:\s+([\d.]+) ms", text),
        "median": re.search(r"Median:\s+([\d.]+) (ms|us)", text),
        "mean": re.search(r"Average:\s+([\d.]+) (ms|us)", text),
    }
    if out.returncode != 0 or not all(m.values()):
        raise RuntimeError(f"benchmark_app failed ({' '.join(cmd)}):\n{text[-3000:]}")
    config: dict[str, str] = {}
    step8 = text.split("[Step 8/11]", 1)[-1].split("[Step 9/11]", 1)[0]
    for key, val in re.findall(r"\]\s+([A-Z_]+): (.*)", step8):
        config[key] = val.strip()
    return BA(
        count=int(m["count"].group(1)),  # type: ignore[union-attr]
        duration_s=float(m["duration"].group(1)) / 1e3,  # type: ignore[union-attr]
        median_ns=_ns(*m["median"].groups()),  # type: ignore[union-attr]
        mean_ns=_ns(*m["mean"].groups()),  # type: ignore[union-attr]
        config=config,
        wall_s=wall,
    )


def run_ic(
    path: Path,
    batch: int,
    mode: str,
    seconds: float,
    threads: int | None,
    shapes: Mapping[str, Sequence[int]] | None = None,
) -> ic.RunResult:
    return ic.run(
        str(path),
        batch_size=batch,
        mode=mode,
        duration=seconds,
        threads=threads,
        isolate=True,
        shapes={k: list(v) for k, v in shapes.items()} if shapes else None,
    )


def cfg_same(line: str) -> bool:
    return line.endswith("(same)")


def cfg_line(ba: BA, r: ic.RunResult) -> str:
    keys = (
        "PERFORMANCE_HINT",
        "NUM_STREAMS",
        "INFERENCE_NUM_THREADS",
        "OPTIMAL_NUMBER_OF_INFER_REQUESTS",
        "ENABLE_CPU_PINNING",
    )
    a = ",".join(ba.config.get(k, "?") for k in keys)
    b = ",".join(str(r.config.get(k, "?")) for k in keys)
    same = (
        "same" if a.replace("True", "YES").lower() == b.replace("True", "YES").lower() else "DIFFER"
    )
    return f"hint/streams/threads/opt_req/pinning: benchmark_app {a} | ic.run {b} ({same})"


@dataclass
class Case:
    label: str
    path: Path
    batch: int
    mode: str  # latency | throughput
    seconds: float
    threads: int | None
    pairs: int
    shapes: Mapping[str, Sequence[int]] | None = None  # None: the first input at batch
    input_precision: str | None = "f32"  # benchmark_app -ip; None: the model's own types


def ab(case: Case, tmp: Path, cfgs: list[str] | None = None) -> dict[str, list[float]]:
    """Interleaved pairs; the first tool alternates so drift hits both alike. The last
    pair's configuration line (see ``cfg_line``) is appended to ``cfgs``."""
    hint = "latency" if case.mode == "latency" else "throughput"
    res: dict[str, list[float]] = {k: [] for k in ("ba_med", "ic_med", "ba_rate", "ic_rate")}
    cfg = ""
    for i in range(case.pairs):
        order = ("ba", "ic") if i % 2 == 0 else ("ic", "ba")
        ba: BA | None = None
        r: ic.RunResult | None = None
        for who in order:
            if who == "ba":
                ba = run_ba(
                    case.path,
                    case.batch,
                    hint,
                    case.seconds,
                    case.threads,
                    tmp,
                    shapes=case.shapes,
                    input_precision=case.input_precision,
                )
            else:
                r = run_ic(
                    case.path, case.batch, case.mode, case.seconds, case.threads, case.shapes
                )
        assert ba is not None and r is not None
        assert r.precision_executed == "f32", r.precision_executed
        res["ba_med"].append(ba.median_ns)
        res["ic_med"].append(r.latency.median_ns)
        res["ba_rate"].append(ba.per_s(case.batch))
        # Sync: iterations over the wall time of the timed loop (harness cost included);
        # async: samples over the steady window.
        res["ic_rate"].append(
            r.n / r.elapsed_s * case.batch if case.mode == "latency" else r.throughput
        )
        cfg = cfg_line(ba, r)
    if cfgs is not None:
        cfgs.append(cfg)
    print(f"  {case.label}: {case.pairs} pairs x {case.seconds:g} s; {cfg}", flush=True)
    for k, v in res.items():
        print(f"    {k}: " + ", ".join(f"{x:,.1f}" for x in v), flush=True)
    return res


def bare_vs_ic(
    mm: Path, bare: Path, pairs: int, threads: int | None, n: int
) -> dict[str, list[float]]:
    # The exact compile properties ic.run passes (hint, precision, threads).
    spec = prepare(str(mm), threads=threads, iterations=n)
    props = [f"{k}={v}" for k, v in spec.properties.items()]
    res: dict[str, list[float]] = {"bare1": [], "bare4": [], "ic": [], "ic1": []}
    ic_cfg = bare_cfg = ""
    for i in range(pairs):
        steps = ["bare1", "ic1", "bare4", "ic"]
        for s in steps if i % 2 == 0 else steps[::-1]:
            if s in ("ic", "ic1"):
                # ic1: one input set (one request), the same work as the bare 1-request loop;
                # ic: the default, input sets rotated over 4 requests, as bare4 does.
                sets = 1 if s == "ic1" else spec.options.input_sets
                r = ic.run(str(mm), threads=threads, iterations=n, isolate=True, input_sets=sets)
                res[s].append(r.elapsed_s / r.n * 1e9)
                got = (r.config.get("NUM_STREAMS"), r.config.get("INFERENCE_NUM_THREADS"))
                ic_cfg = f"ic.run streams/threads {got[0]}/{got[1]}"
            else:
                nreq = "1" if s == "bare1" else str(spec.options.input_sets)
                out = subprocess.run(
                    [str(bare), str(mm), "1", str(n), "2000", nreq, *props],
                    capture_output=True,
                    text=True,
                )
                if out.returncode != 0:
                    raise RuntimeError(
                        f"bare loop failed (rc {out.returncode}): {out.stderr.strip()[-500:]}"
                    )
                got_bare = json.loads(out.stdout)
                res[s].append(got_bare["ns_per_iter"])
                bare_cfg = f"bare streams/threads/precision {got_bare['streams']}/" + (
                    f"{got_bare['threads']}/{got_bare['precision']}"
                )
    print(
        f"  bare loop vs ic.run, threads={threads or 'default'}, {pairs} rounds x {n} "
        f"iterations; props {' '.join(props)}; {bare_cfg}; {ic_cfg}",
        flush=True,
    )
    for k, v in res.items():
        print(f"    {k} ns/iter: " + ", ".join(f"{x:.1f}" for x in v), flush=True)
    return res


def med(v: list[float]) -> float:
    return statistics.median(v)


def verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"
