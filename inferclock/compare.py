"""Compare two result tables cell by cell: ratio of medians with a confidence interval.

Cells are matched by ``key``. For each cell present (without error) on both sides:

* **Point estimate.** ``ratio = median_b / median_a`` where each side's median is the median of
  its per-run medians (a run is one row: one process x repeat). A ratio above 1 means B is
  slower.
* **Confidence interval** (95% by default), by a two-level bootstrap that keeps the spread
  between processes (small models on small VMs switch between fast and slow modes from one
  process to the next, so pooling all samples as if independent would be overconfident). Each
  replicate resamples each side's runs with replacement, draws a bootstrap median for each
  chosen run, and takes the median of those; the CI is the percentile interval of the
  replicates' ratio b/a. A run's bootstrap median is drawn

  - from its **raw samples** (the row's ``raw_latencies`` .npy) exactly and cheaply: the median
    of a resample of n sorted values x is x[ceil(n V) - 1] with V ~ Beta((n+1)/2, (n+1)/2), the
    law of the middle order statistic of n uniforms; or, without raw samples,
  - from the row's distribution-free **median CI**, as a log-normal whose 95% interval matches
    it: ``median * exp(N(0, s))`` with ``s = ln(high / low) / (2 * 1.96)``.

  The method used is named per cell ("raw", "ci" or "mixed"). The bootstrap is seeded, so the
  same inputs always give the same intervals.
* **Verdict** with threshold t (default 5%): ``slower`` when the whole CI is above ``1 + t``
  (B slower by more than t, confidently); ``faster`` when the whole CI is below ``1 / (1 + t)``
  (A slower than B by more than t; symmetric on a log scale); ``same`` when the whole CI lies
  within ``[1 / (1 + t), 1 + t]`` (equal within the threshold); otherwise ``inconclusive``: the
  interval is too wide, or crosses a threshold, to say either.

``Comparison.regressions`` are the ``slower`` cells. ``Comparison.missing`` are the cells A
measured that B has no successful row for (only in A, or error rows only in B): nothing says
they did not get slower. ``Comparison.gate()`` is the CI verdict (``inferclock compare
--fail-above``): it fails on a regression beyond its threshold, on a missing cell (unless
``allow_missing``), and when no cell at all was compared.
"""

from __future__ import annotations

import math
import os
import statistics
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from inferclock import _checks
from inferclock._errors import ConfigError, ConfigTypeError
from inferclock._gate import Gate, check_threshold, gate_of, parse_threshold
from inferclock._jsonl import Row
from inferclock._markdown import fmt_num, markdown_table
from inferclock._util import is_real
from inferclock.results import ResultTable

__all__ = ["CellComparison", "Comparison", "Gate", "check_threshold", "compare", "parse_threshold"]

Verdict = Literal["faster", "slower", "same", "inconclusive"]


@dataclass(frozen=True)
class CellComparison:
    """One cell present on both sides: medians, their ratio b/a with CI, and the verdict."""

    key: str
    model: str
    device: str
    precision: str
    batch_size: int
    mode: str
    median_a_ns: float
    median_b_ns: float
    ratio: float
    ci_low: float
    ci_high: float
    verdict: Verdict
    method: str
    runs_a: int
    runs_b: int
    n_a: int
    n_b: int
    throughput_ratio: float | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Comparison:
    """Result of :func:`compare`: matched cells plus the cells that could not be matched."""

    cells: tuple[CellComparison, ...]
    only_a: tuple[str, ...]
    only_b: tuple[str, ...]
    failed_a: tuple[str, ...]
    failed_b: tuple[str, ...]
    threshold: float
    confidence: float
    environment_diff: tuple[str, ...] = field(default=())
    #: Cells A measured (a successful row) that B has no successful row for, in A's order.
    missing: tuple[str, ...] = field(default=())

    @property
    def regressions(self) -> tuple[CellComparison, ...]:
        """Cells where B is slower than A by more than the threshold (whole CI above it)."""
        return tuple(c for c in self.cells if c.verdict == "slower")

    def gate(self, threshold: float | None = None, *, allow_missing: bool = False) -> Gate:
        """The CI verdict: fail on a cell slower by more than ``threshold`` (default: this
        comparison's; whole CI above ``1 + threshold``), on a cell of A without a successful
        counterpart in B (unless ``allow_missing``), and when no cell was compared at all."""
        return gate_of(self, threshold, allow_missing)

    @property
    def improvements(self) -> tuple[CellComparison, ...]:
        return tuple(c for c in self.cells if c.verdict == "faster")

    @property
    def worst_ratio(self) -> float | None:
        """Largest b/a ratio of medians over matched cells (None when nothing matched)."""
        return max((c.ratio for c in self.cells), default=None)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["regressions"] = [c.key for c in self.regressions]
        d["worst_ratio"] = self.worst_ratio
        return d

    def to_markdown(self) -> str:
        t = self.threshold
        parts = [
            f"Ratio = median B / median A (above 1: B slower), {self.confidence:.0%} CI by "
            f"bootstrap; threshold {t:.1%} (same: CI within "
            f"[{1 / (1 + t):.3f}, {1 + t:.3f}]; slower/faster: CI entirely outside it)."
        ]
        if self.cells:
            body = [
                [
                    c.model,
                    c.device,
                    c.precision,
                    str(c.batch_size),
                    c.mode,
                    fmt_num(c.median_a_ns / 1e6),
                    fmt_num(c.median_b_ns / 1e6),
                    f"{c.ratio:.3f} [{c.ci_low:.3f}, {c.ci_high:.3f}]",
                    f"**{c.verdict}**" if c.verdict in ("slower", "faster") else c.verdict,
                    f"{c.runs_a}/{c.runs_b}",
                    c.method,
                ]
                for c in self.cells
            ]
            parts.append(
                markdown_table(
                    [
                        "model",
                        "device",
                        "precision",
                        "batch",
                        "mode",
                        "A median ms",
                        "B median ms",
                        "B/A [CI]",
                        "verdict",
                        "runs A/B",
                        "CI from",
                    ],
                    body,
                )
            )
            counts = {
                v: sum(c.verdict == v for c in self.cells)
                for v in ("slower", "faster", "same", "inconclusive")
            }
            worst = self.worst_ratio
            parts.append(
                ", ".join(f"{n} {v}" for v, n in counts.items())
                + (f"; worst ratio {worst:.3f}" if worst is not None else "")
            )
        else:
            parts.append("_No cell measured successfully on both sides._")
        for label, keys in (
            ("Only in A", self.only_a),
            ("Only in B", self.only_b),
            ("Failed in A (error rows only)", self.failed_a),
            ("Failed in B (error rows only)", self.failed_b),
        ):
            if keys:
                parts.append(f"{label}: " + ", ".join(f"`{k}`" for k in keys))
        if self.environment_diff:
            parts.append("Environments differ: " + "; ".join(self.environment_diff))
        return "\n\n".join(parts) + "\n"


def _check_side(x: Any, side: str) -> None:
    if not isinstance(x, (ResultTable, str, os.PathLike)):
        raise ConfigTypeError(
            f"compare: {side} must be a ResultTable or a results file path, got {type(x).__name__}"
        )


def _as_table(x: ResultTable | str | os.PathLike[str]) -> ResultTable:
    return x if isinstance(x, ResultTable) else ResultTable.load(x)


def _group_ok(table: ResultTable) -> dict[str, list[Row]]:
    groups: dict[str, list[Row]] = {}
    for r in table.ok():
        m = r.get("latency_median_ns")
        if isinstance(m, (int, float)) and not isinstance(m, bool) and m > 0:
            groups.setdefault(r["key"], []).append(r)
    return groups


_Z95 = 1.959963984540054
_MAX_BOOT = 1_000_000  # replicates; beyond it the arrays would not fit in memory


def _run_draws(
    table: ResultTable, row: Mapping[str, Any], rng: np.random.Generator, b: int
) -> tuple[npt.NDArray[np.float64], bool]:
    """``b`` bootstrap draws of one run's median, and whether raw samples were used."""
    raw = table.raw_latencies(row)
    if raw is not None:
        x = np.sort(raw.astype(np.float64))
        n = x.size
        k = (n + 1) / 2.0
        v = rng.beta(k, n + 1 - k, size=b)
        idx = np.clip(np.ceil(n * v).astype(np.int64) - 1, 0, n - 1)
        return x[idx], True
    med = float(row["latency_median_ns"])
    lo, hi = row.get("latency_ci95_low_ns"), row.get("latency_ci95_high_ns")
    s = 0.0
    if isinstance(lo, (int, float)) and isinstance(hi, (int, float)) and 0 < lo <= hi:
        s = math.log(hi / lo) / (2 * _Z95)
    return med * np.exp(rng.normal(0.0, s, size=b)), False


def _pooled_draws(
    table: ResultTable, rows: Sequence[Row], rng: np.random.Generator, b: int
) -> tuple[npt.NDArray[np.float64], list[bool]]:
    per_run = [_run_draws(table, r, rng, b) for r in rows]
    d = np.stack([p[0] for p in per_run])  # (runs, b)
    used_raw = [p[1] for p in per_run]
    if len(rows) == 1:
        return d[0], used_raw
    # Resample runs with replacement so the spread between processes enters the interval.
    sel = rng.integers(0, len(rows), size=(b, len(rows)))
    picked = d[sel, np.arange(b)[:, None]]  # (b, runs)
    return np.median(picked, axis=1), used_raw


def _verdict(lo: float, hi: float, threshold: float) -> Verdict:
    up, down = 1.0 + threshold, 1.0 / (1.0 + threshold)
    if lo > up:
        return "slower"
    if hi < down:
        return "faster"
    if lo >= down and hi <= up:
        return "same"
    return "inconclusive"


def _env_diff(a: ResultTable, b: ResultTable) -> tuple[str, ...]:
    if not a.headers or not b.headers:
        return ()
    ha, hb = a.headers[0], b.headers[0]
    ea, eb = ha.get("environment"), hb.get("environment")
    out = []
    for name in ("openvino_version", "inferclock_version"):
        va, vb = ha.get(name), hb.get(name)
        if va != vb:
            out.append(f"{name}: {va!r} vs {vb!r}")
    if isinstance(ea, dict) and isinstance(eb, dict):
        for k in sorted(set(ea) | set(eb)):
            va, vb = ea.get(k), eb.get(k)
            scalar = all(v is None or isinstance(v, (str, int, float, bool)) for v in (va, vb))
            if scalar and va != vb:
                out.append(f"{k}: {va!r} vs {vb!r}")
    return tuple(out)


def compare(
    a: ResultTable | str | os.PathLike[str],
    b: ResultTable | str | os.PathLike[str],
    threshold: float = 0.05,
    *,
    confidence: float = 0.95,
    n_boot: int = 4000,
    seed: int = 0,
) -> Comparison:
    """Compare B against A cell by cell (see the module docstring for the method and verdicts).

    ``a`` and ``b`` are ResultTables or results file paths. ``threshold`` is relative (0.05 =
    5%). Cells only on one side, or with only error rows on one side, are listed, not compared;
    those A measured and B did not are also in ``missing`` (see :meth:`Comparison.gate`).
    Arguments are checked before any file is read: ConfigError (ConfigTypeError for a wrong
    type) naming the argument and its valid values.
    """
    threshold = check_threshold("threshold", threshold)
    if not is_real(confidence) or not 0.5 <= float(confidence) < 1:
        err = ConfigError if is_real(confidence) else ConfigTypeError
        raise err(f"confidence must be a number in [0.5, 1) such as 0.95, got {confidence!r}")
    confidence = float(confidence)
    n_boot = _checks.integer(100, _MAX_BOOT)("n_boot", n_boot)
    seed = _checks.integer(0)("seed", seed)
    _check_side(a, "a")
    _check_side(b, "b")
    ta, tb = _as_table(a), _as_table(b)
    ga, gb = _group_ok(ta), _group_ok(tb)
    keys_a, keys_b = ta.keys(), tb.keys()
    cells: list[CellComparison] = []
    alpha = 1.0 - confidence
    for key in [k for k in keys_a if k in ga and k in gb]:
        ra, rb = ga[key], gb[key]
        rng = np.random.default_rng([seed, zlib.crc32(key.encode("utf-8"))])
        da, raw_a = _pooled_draws(ta, ra, rng, n_boot)
        db, raw_b = _pooled_draws(tb, rb, rng, n_boot)
        lo, hi = (float(v) for v in np.quantile(db / da, [alpha / 2, 1 - alpha / 2]))
        med_a = statistics.median(float(r["latency_median_ns"]) for r in ra)
        med_b = statistics.median(float(r["latency_median_ns"]) for r in rb)
        used = raw_a + raw_b
        method = "raw" if all(used) else "ci" if not any(used) else "mixed"
        fps_a = [float(r["throughput_fps"]) for r in ra if _pos(r.get("throughput_fps"))]
        fps_b = [float(r["throughput_fps"]) for r in rb if _pos(r.get("throughput_fps"))]
        first = ra[0]
        batch = first.get("batch_size")
        cells.append(
            CellComparison(
                key=key,
                model=str(first.get("model")),
                device=str(first.get("device")),
                precision=str(first.get("precision_requested")),
                batch_size=batch if isinstance(batch, int) else 0,
                mode=str(first.get("mode")),
                median_a_ns=med_a,
                median_b_ns=med_b,
                ratio=med_b / med_a,
                ci_low=lo,
                ci_high=hi,
                verdict=_verdict(lo, hi, threshold),
                method=method,
                runs_a=len(ra),
                runs_b=len(rb),
                n_a=sum(int(r.get("n") or 0) for r in ra),
                n_b=sum(int(r.get("n") or 0) for r in rb),
                throughput_ratio=(
                    statistics.median(fps_b) / statistics.median(fps_a) if fps_a and fps_b else None
                ),
            )
        )
    set_a, set_b = set(keys_a), set(keys_b)
    return Comparison(
        cells=tuple(cells),
        only_a=tuple(k for k in keys_a if k not in set_b),
        only_b=tuple(k for k in keys_b if k not in set_a),
        failed_a=tuple(k for k in keys_a if k in set_b and k not in ga),
        failed_b=tuple(k for k in keys_b if k in set_a and k not in gb),
        threshold=threshold,
        confidence=confidence,
        environment_diff=_env_diff(ta, tb),
        missing=tuple(k for k in keys_a if k in ga and k not in gb),
    )


def _pos(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and v > 0
