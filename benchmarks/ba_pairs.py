"""What the interleaved pairs of vs_benchmark_app.py can and cannot show, case by case.

Run: python benchmarks/ba_pairs.py LOG [--out FILE.md]
LOG is the stdout of ``vs_benchmark_app.py`` (it prints every pair's raw figures). For each
case this computes the ratio ic.run / benchmark_app of the median latency and of the rate
over the pairs (the geometric mean of the pairs' ratios), with a paired 95% interval: the
log ratios of the pairs (each pair's two runs ran back to back, so a drift of the machine
hits both) with Student's t at pairs - 1 degrees of freedom (``_common.distributions.t_quantile``).
It also gives each tool's spread across its processes (max / min of the per-process medians),
and a verdict on the 2% latency goal:

* ``agree``: the whole interval lies within [0.98, 1.02]: agreement within 2% is shown;
* ``differ``: the whole interval lies outside it: a difference of more than 2% is shown;
* ``unresolved``: the interval straddles a bound: with this machine's process-to-process
  noise, five pairs cannot say either.

Below 0.5 ms (benchmark_app's median) the latency goal does not apply (see the bare-loop
figures in the log). The rate goal (ic.run at least benchmark_app's): ``ok`` when the ratio
is at least 1, ``shown below`` when the whole interval lies under 0.98, else ``unresolved``.
"""

from __future__ import annotations

import argparse
import math
import re
import statistics
import sys
from dataclasses import dataclass, field
from pathlib import Path

from inferclock._common.distributions import t_quantile

_CASE = re.compile(r"^\[(\d+)/(\d+)\] (\S+), (\d+) thread\(s\), (\w+)")
_RAW = re.compile(r"^\s+(ba_med|ic_med|ba_rate|ic_rate): (.*)$")


@dataclass
class Case:
    model: str
    threads: int
    mode: str
    raw: dict[str, list[float]] = field(default_factory=dict)


def parse(text: str) -> list[Case]:
    cases: list[Case] = []
    for line in text.splitlines():
        m = _CASE.match(line)
        if m:
            cases.append(Case(m.group(3), int(m.group(4)), m.group(5)))
            continue
        r = _RAW.match(line)
        if r and cases:
            cases[-1].raw[r.group(1)] = [float(x.replace(",", "")) for x in r.group(2).split(", ")]
    return [c for c in cases if len(c.raw) == 4]


def paired(ic: list[float], ba: list[float]) -> tuple[float, float, float]:
    """The pairs' ratio ic/ba (geometric mean of the pairs' ratios) and its paired 95%
    interval (+- t x its standard error, on the log scale)."""
    logs = [math.log(a / b) for a, b in zip(ic, ba, strict=True)]
    n = len(logs)
    mean = statistics.fmean(logs)
    if n < 2:
        return math.exp(mean), math.nan, math.nan
    se = statistics.stdev(logs) / math.sqrt(n)
    t = t_quantile(0.975, n - 1)
    return math.exp(mean), math.exp(mean - t * se), math.exp(mean + t * se)


def verdict(lo: float, hi: float, tol: float = 0.02) -> str:
    if lo >= 1 - tol and hi <= 1 + tol:
        return "agree"
    if hi < 1 - tol or lo > 1 + tol:
        return "differ"
    return "unresolved"


def spread(v: list[float]) -> str:
    return f"{max(v) / min(v):.2f}x"


def table(cases: list[Case]) -> str:
    head = [
        "model", "threads", "mode", "ic median ms", "benchmark_app median ms",
        "latency ratio [paired 95% CI]", "process spread ic / ba", "latency 2% goal",
        "rate ratio [paired 95% CI]", "rate goal",
    ]  # fmt: skip
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    counts: dict[str, int] = {}
    for c in cases:
        ic_med, ba_med = c.raw["ic_med"], c.raw["ba_med"]
        r, lo, hi = paired(ic_med, ba_med)
        fr, flo, fhi = paired(c.raw["ic_rate"], c.raw["ba_rate"])
        sub = statistics.median(ba_med) < 0.5e6
        lat = "n/a (< 0.5 ms)" if sub else verdict(lo, hi)
        if not sub:
            counts[lat] = counts.get(lat, 0) + 1
        rate = "ok" if fr >= 1 else ("shown below" if fhi < 0.98 else "unresolved")
        counts[f"rate {rate}"] = counts.get(f"rate {rate}", 0) + 1
        lines.append(
            "| "
            + " | ".join(
                [
                    c.model,
                    str(c.threads),
                    c.mode,
                    f"{statistics.median(ic_med) / 1e6:.4g}",
                    f"{statistics.median(ba_med) / 1e6:.4g}",
                    f"{r:.3f} [{lo:.3f}, {hi:.3f}]",
                    f"{spread(ic_med)} / {spread(ba_med)}",
                    lat,
                    f"{fr:.3f} [{flo:.3f}, {fhi:.3f}]",
                    rate,
                ]
            )
            + " |"
        )
    summary = ", ".join(f"{v} {k}" for k, v in sorted(counts.items()))
    return "\n".join(lines) + f"\n\nCases: {len(cases)}; {summary}.\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("log", type=Path, help="stdout of vs_benchmark_app.py")
    p.add_argument("--out", type=Path, help="also write the table here")
    a = p.parse_args(argv)
    cases = parse(a.log.read_text())
    if not cases:
        print(f"no case with raw figures in {a.log}", file=sys.stderr)
        return 2
    text = table(cases)
    print(text)
    if a.out:
        a.out.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
