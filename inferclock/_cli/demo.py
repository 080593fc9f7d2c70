"""The ``inferclock demo`` command: a sweep of built-in models on this machine, a report, the
table.

The grid and stopping settings are chosen so the full demo ends in about 5 minutes on 2 cores
and ``--quick`` in about 1, with every cell in 3 fresh processes (the sweep's default; 2 in
``--quick``) so process-to-process speed modes show: a short fixed warm-up (the cold first
inference is already timed apart), then the adaptive stop (CI of the median within
``target_ci``) bounded by ``max_time``. Slow cells (ResNet-50 at batch 8 in f32 takes a few
hundred ms per inference on 2 cores) stop at ``max_time`` with few samples; their rows say
so (``n``, ``stop_reason``, ``stop_note``, the confidence their interval really has),
nothing is hidden.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from inferclock._common.errors import ConfigError


@dataclass(frozen=True)
class DemoPlan:
    models: tuple[str, ...]
    precisions: tuple[str, ...]
    batch_sizes: tuple[int, ...]
    modes: tuple[str, ...]
    run: dict[str, Any]  # warm-up and stopping

    @property
    def cells(self) -> int:
        return len(self.models) * len(self.precisions) * len(self.batch_sizes) * len(self.modes)


FULL = DemoPlan(
    models=("resnet50", "ssdlite_mobilenet_v2"),
    precisions=("f32", "bf16", "int8"),
    batch_sizes=(1, 8),
    modes=("latency", "throughput"),
    run={"warmup": 0.2, "target_ci": 0.01, "min_time": 0.3, "max_time": 1.2, "processes": 3},
)
QUICK = DemoPlan(
    models=("mobilenet_v2", "ssdlite_mobilenet_v2"),
    precisions=("f32", "int8"),
    batch_sizes=(1, 8),
    modes=("latency", "throughput"),
    run={"warmup": 0.1, "target_ci": 0.02, "min_time": 0.2, "max_time": 0.5, "processes": 2},
)


def cpu_flags(root: str = "/") -> set[str]:
    """The CPU feature flags the kernel lists (x86 'flags', arm64 'Features')."""
    from inferclock._platform.environment import cpuinfo

    flags: set[str] = cpuinfo(root)["flags"]
    return flags


def bf16_native(flags: set[str] | None = None) -> bool:
    """True when the CPU has bf16 arithmetic (AVX512_BF16 or AMX-BF16 on x86, BF16 on arm64)."""
    f = cpu_flags() if flags is None else flags
    return bool(f & {"avx512_bf16", "amx_bf16", "bf16"})


def _cpu_name() -> str:
    from inferclock._platform.environment import cpuinfo

    return str(cpuinfo()["model"])


def output_dir(out_dir: str | os.PathLike[str] | None, quick: bool = False) -> Path:
    """The demo's output directory (``-o``), created if missing and checked writable before
    any work; ConfigError saying why when it cannot hold results.jsonl and report/."""
    d = Path(out_dir or ("inferclock-demo-quick" if quick else "inferclock-demo")).expanduser()
    what = f"demo output directory {str(d)!r}"
    if d.exists() and not d.is_dir():
        raise ConfigError(
            f"{what} exists and is not a directory: -o takes a directory, which the demo fills "
            "with results.jsonl and report/; give a new or existing directory"
        )
    try:
        d.mkdir(parents=True, exist_ok=True)
        # A file made and removed: os.access() says yes to root on a read-only mount.
        with tempfile.TemporaryFile(dir=d):
            pass
    except OSError as e:
        raise ConfigError(f"{what} cannot be written: {e.strerror or e}") from None
    for name, want_dir in (("results.jsonl", False), ("report", True)):
        inside = d / name
        if inside.exists() and inside.is_dir() != want_dir:
            kind = "a directory" if want_dir else "a file"
            raise ConfigError(f"{what}: {str(inside)!r} is in the way (the demo writes {kind})")
    return d


def add_parser(sub: Any, formatter: type[argparse.HelpFormatter], models: str) -> None:
    p = sub.add_parser(
        "demo",
        help="sweep built-in models on this machine and write a report "
        "(about 5 min; --quick 1 min)",
        description="Sweep built-in models (ResNet-50 and the SSDLite detector) over f32, bf16 "
        "(where the CPU runs it) and int8, batch 1, 8 and 32, latency and throughput modes, "
        "with the adaptive stop; write results.jsonl and report/ into the output directory and "
        "print the table. No downloads: the models are built locally with random weights. "
        "--quick: MobileNetV2 and the detector, f32 and int8, batch 1 and 8. Run it again to "
        "resume an interrupted demo.",
    )
    p.add_argument("--quick", action="store_true", help="the small version (about 1 minute)")
    p.add_argument(
        "-o",
        "--output",
        metavar="DIR",
        help="output directory (default ./inferclock-demo, --quick: ./inferclock-demo-quick)",
    )


def run(args: argparse.Namespace) -> int:
    """Sweep built-in models on this machine, write results.jsonl and report/, print the table."""
    return run_demo(args.output, quick=args.quick)


def run_demo(out_dir: str | None, quick: bool = False) -> int:
    """Run the demo; returns the exit status (0, or 130 when interrupted)."""
    from inferclock._render.report import report
    from inferclock._sweeps.sweep import SweepInterrupted, sweep

    plan = QUICK if quick else FULL
    if importlib.util.find_spec("matplotlib") is None:
        raise ImportError(
            "the demo writes a report with matplotlib: pip install 'inferclock[all]' "
            "(or 'inferclock[report]')"
        )
    skips = {
        "int8": (
            importlib.util.find_spec("nncf") is None,
            "NNCF is not installed, so int8 is skipped "
            "(pip install 'inferclock[all]' or 'inferclock[int8]' to include it)",
        ),
        "bf16": (
            not bf16_native(),
            "this CPU has no native bf16 (no avx512_bf16/amx_bf16 flag): bf16 skipped",
        ),
    }
    for precision, (skip, why) in skips.items():
        if skip and precision in plan.precisions:
            print(f"note: {why}", file=sys.stderr)
            kept = tuple(p for p in plan.precisions if p != precision)
            plan = dataclasses.replace(plan, precisions=kept)
    d = output_dir(out_dir, quick)
    out = d / "results.jsonl"
    cores = len(os.sched_getaffinity(0))
    print(
        f"inferclock demo{' --quick' if quick else ''}: {plan.cells} cells "
        f"({', '.join(plan.models)} x {'/'.join(plan.precisions)} x batch "
        f"{'/'.join(map(str, plan.batch_sizes))} x {'/'.join(plan.modes)}) on {_cpu_name()}, "
        f"{cores} CPU(s); each cell in {plan.run['processes']} fresh processes, each stopping "
        f"when the 95% CI of the median is within {plan.run['target_ci']:.0%} or after "
        f"{plan.run['max_time']:g} s.",
        flush=True,
    )
    if out.exists() and out.stat().st_size > 0:
        print(f"resuming {out} (delete it, or pass -o NEWDIR, to start over)", flush=True)
    t0 = time.monotonic()
    try:
        table = sweep(
            list(plan.models),
            precisions=plan.precisions,
            batch_sizes=plan.batch_sizes,
            modes=plan.modes,
            out=out,
            save_raw=True,
            cache_dir=None,  # every cell compiles once: a cache would only cost time and disk
            **plan.run,
        )
    except SweepInterrupted as e:
        print(
            f"\n{e.hint}\nto resume: inferclock demo{' --quick' if quick else ''}"
            + (f" -o {out_dir}" if out_dir else ""),
            file=sys.stderr,
        )
        return 130
    swept = time.monotonic() - t0
    md = report(table, d / "report", title="inferclock demo")
    print()
    print(table.to_markdown())
    print(
        f"demo done in {time.monotonic() - t0:.0f} s (sweep {swept:.0f} s): "
        f"results {out}, report {md}"
    )
    return 0
