"""What ``inferclock timeit`` gives: the combined per-execution figures, one result row per
process (the rows ``compare``, ``history`` and ``publish`` read like any other), the text the
command prints and the JSON object of ``--json``.

A row is a run's row (``_timing.schema``): identity (``model`` and ``key`` are the name, the
statement by default; ``host`` the machine), the options as given (``device`` "python",
``mode`` "latency", ``batch_size`` 1), the measurement per execution (``latency_*_ns``, its
interval and percentiles; ``throughput_fps`` executions per second), bookkeeping, ``process``
(its index, so ``compare`` combines the processes as a sweep's) and the timeit fields: the
statement, its setup and the executions per sample.
"""

from __future__ import annotations

import math
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from inferclock._common.jsonl import Row
from inferclock._timing.measure import Measurement
from inferclock._timing.statement import StatementRun

#: Who writes these rows, as a row the schema refuses names it.
WRITER = "inferclock timeit"


def fmt_time(ns: float | None, unit: tuple[str, float] | None = None) -> str:
    """``ns`` in the unit that suits it (or ``unit``), 4 significant digits: "5.214 us"."""
    if ns is None or not math.isfinite(ns):
        return "-"
    name, scale = unit or time_unit(ns)
    return f"{ns / scale:.4g} {name}"


def time_unit(ns: float) -> tuple[str, float]:
    """The unit (name, ns per unit) a duration of ``ns`` is best read in."""
    for name, scale in (("s", 1e9), ("ms", 1e6), ("us", 1e3)):
        if abs(ns) >= scale:
            return name, scale
    return "ns", 1.0


def _pct_name(p: float) -> str:
    return f"p{p:g}"


@dataclass(frozen=True)
class TimeitResult:
    """A statement's timing: ``measurement`` per execution, combined over ``runs`` (one per
    process); ``env`` the machine's fingerprint."""

    name: str
    stmt: str
    setup: str
    number: int
    calibrated: bool
    measurement: Measurement
    runs: tuple[StatementRun, ...]
    inprocess: bool
    env: dict[str, Any]
    elapsed_s: float
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def processes(self) -> int:
        return len(self.runs)

    @property
    def instability(self) -> tuple[str, ...]:
        return self.measurement.instability

    def header(self) -> Row:
        """A new results file's header (the versions and fingerprint ``compare`` and
        ``history`` read, and what was timed)."""
        return {
            "inferclock_version": self.env.get("inferclock"),
            "openvino_version": self.env.get("openvino"),
            "environment": dict(self.env),
            "source": "timeit",
        }

    def rows(self) -> list[Row]:
        """One result row per process, each checked against the schema."""
        from inferclock._platform.host import host_id
        from inferclock._timing import options as _options, schema as _schema

        host, host_name = host_id(self.env), socket.gethostname()
        given = {o.row: o.row_value(self.options[o.name])
                 for o in _options.options() if self.options.get(o.name) is not None}  # fmt: skip
        out = []
        for i, run in enumerate(self.runs):
            row: Row = {"key": self.name, "model": self.name, "model_path": None,
                        "model_sha256": None, "host": host}  # fmt: skip
            row.update(dict.fromkeys(_schema.OPTION_FIELDS))
            row.update(given)
            row.update(device="python", batch_size=1, mode="latency", processes=self.processes)
            row.update(dict.fromkeys(_schema.MEASURED_FIELDS))
            row.update(_measured(run.measurement, self.inprocess))
            row.update(started_at=run.started_at, finished_at=run.finished_at, error=None,
                       error_kind=None, process=i, repeat=0, raw_latencies=None,
                       warnings=None, host_name=host_name)  # fmt: skip
            row.update(timeit_statement=self.stmt, timeit_setup=self.setup,
                       timeit_number=run.number)  # fmt: skip
            _schema.check(row, WRITER)
            out.append(row)
        return out

    def to_dict(self) -> dict[str, Any]:
        """The ``--json`` object: what was timed, the per-execution figures (ns) with their
        intervals, each process's, the instability reasons."""
        m, s = self.measurement, self.measurement.stats
        tp = m.throughput_ci
        return {
            "name": self.name, "stmt": self.stmt, "setup": self.setup,
            "number": self.number, "number_calibrated": self.calibrated,
            "processes": self.processes, "inprocess": self.inprocess,
            "interval_scope": m.interval_scope, "n": s.n,
            "executions": s.n * self.number,
            "median_ns": s.median_ns, "ci_low_ns": s.ci_ns[0], "ci_high_ns": s.ci_ns[1],
            "ci_confidence": s.ci_confidence,
            "percentiles": {
                _pct_name(p.p): {"value_ns": p.value_ns, "low_ns": p.low_ns,
                                 "high_ns": p.high_ns, "confidence": p.confidence}
                for p in s.percentiles
            },
            "min_ns": s.min_ns, "mean_ns": s.mean_ns, "max_ns": s.max_ns,
            "stdev_ns": s.stdev_ns, "cv": s.cv,
            "per_second": m.throughput, "per_second_ci": list(tp) if tp else None,
            "process_medians_ns": [r.measurement.stats.median_ns for r in self.runs],
            "process_spread": m.process_spread, "multimodal": m.multimodal,
            "multimodal_note": m.multimodal_note, "instability": list(m.instability),
            "stop_reason": m.stop_reason, "elapsed_s": self.elapsed_s,
            "host": _host(self.env),
        }  # fmt: skip

    def summary(self) -> str:
        """A few lines: the median with its interval, the percentiles in order, how many
        samples of how many executions in how many processes, the process medians."""
        m, s = self.measurement, self.measurement.stats
        unit = time_unit(s.median_ns)
        lo, hi = s.ci_ns
        lines = [
            f"{self.name}: median {fmt_time(s.median_ns, unit)} per execution, "
            f"{s.ci_confidence:.0%} interval [{_bare(lo, unit)}, {_bare(hi, unit)}] "
            f"({m.interval_scope})",
            "  " + "  ".join(
                f"{_pct_name(p.p)} {fmt_time(p.value_ns, unit)} "
                f"[{_bare(p.low_ns, unit)}, {_bare(p.high_ns, unit)}]"
                for p in s.percentiles
            ),
            f"  min {fmt_time(s.min_ns, unit)}  mean {fmt_time(s.mean_ns, unit)}  "
            f"cv {s.cv:.1%}",
        ]  # fmt: skip
        where = "in this process" if self.inprocess else f"{self.processes} process(es)"
        how = "calibrated" if self.calibrated else "given"
        lines.append(
            f"  {where}: {s.n:,} samples of {self.number:,} execution(s) "
            f"(number {how}), {self.elapsed_s:.1f} s"
        )
        if len(self.runs) > 1:
            meds = ", ".join(_bare(r.measurement.stats.median_ns, unit) for r in self.runs)
            spread = m.process_spread
            lines.append(
                f"  process medians {meds} {unit[0]}"
                + (f" (spread {spread:.1%})" if spread is not None else "")
            )
        if m.multimodal_note:
            lines.append(f"  MULTIMODAL: {m.multimodal_note}")
        return "\n".join(lines)


def _bare(ns: float | None, unit: tuple[str, float]) -> str:
    return "-" if ns is None or not math.isfinite(ns) else f"{ns / unit[1]:.4g}"


def _host(env: Mapping[str, Any]) -> str | None:
    from inferclock._platform.host import host_id

    return host_id(env)


def _measured(m: Measurement, inprocess: bool) -> Row:
    """One process's measured row fields (names as ``RunResult.measured``)."""
    from inferclock._analysis.stability import reasons
    from inferclock._platform.topology import format_cpulist
    from inferclock._timing.schema import LATENCY_STATS

    s = m.stats
    unstable = m.instability or reasons(s.n, s.cv, s.min_ns, s.median_ns, None)
    tp = m.throughput_ci
    row: Row = {
        "cpus": format_cpulist(m.cpus) if m.cpus else None,
        "n": s.n, "warmup_n": int(m.warmup_ns.size), "warmup_steady": m.warmup_steady,
        "stop_reason": m.stop_reason,
    }  # fmt: skip
    for name in LATENCY_STATS:
        row[f"latency_{name}_ns"] = getattr(s, f"{name}_ns")
    row.update(
        latency_cv=s.cv, latency_drift=m.drift, latency_ci95_low_ns=s.ci_ns[0],
        latency_ci95_high_ns=s.ci_ns[1], latency_ci_confidence=s.ci_confidence,
        latency_percentiles={
            _pct_name(p.p): {"value_ns": p.value_ns, "low_ns": p.low_ns, "high_ns": p.high_ns,
                             "confidence": p.confidence}
            for p in s.percentiles
        },
        throughput_fps=m.throughput, throughput_ci_low_fps=tp[0] if tp else None,
        throughput_ci_high_fps=tp[1] if tp else None, isolated=not inprocess,
        duration_s=m.elapsed_s, interrupted=m.stop_reason == "interrupted",
        instability=list(unstable) or None,
    )  # fmt: skip
    return row
