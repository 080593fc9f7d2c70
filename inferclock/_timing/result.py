"""The record of one ``ic.run``: every timed inference, its statistics, start-up and context."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from inferclock._common.deprecation import renamed
from inferclock._platform.topology import format_cpulist
from inferclock.stats import Stats

if TYPE_CHECKING:
    from inferclock._timing.early_stopping import PercentileEstimate
    from inferclock._timing.serve import ServerStats

#: LoadGen's SingleStream target percentile (its official metric's) and the p99 it also
#: estimates (``loadgen/results.cc``); latency mode is SingleStream.
SINGLE_STREAM_PERCENTILES = (90.0, 99.0)


@dataclass(frozen=True)
class InitTimes:
    """Start-up cost, timed with the clock before any warm-up (milliseconds)."""

    read_ms: float
    reshape_ms: float
    compile_ms: float
    first_infer_ms: float
    cache: str  # "cold", "hot" (compiled model loaded from OpenVINO's cache) or "off"

    @property
    def total_ms(self) -> float:
        return self.read_ms + self.reshape_ms + self.compile_ms + self.first_infer_ms

    def to_dict(self) -> dict[str, Any]:
        return {
            "read_ms": self.read_ms,
            "reshape_ms": self.reshape_ms,
            "compile_ms": self.compile_ms,
            "first_infer_ms": self.first_infer_ms,
            "cache": self.cache,
        }


@dataclass(frozen=True)
class RunResult:
    """One measurement of one model on one device, precision, batch size and mode."""

    model: str
    model_path: str | None
    model_sha256: str | None
    device: str
    batch_size: int
    mode: str
    precision_requested: str
    precision_executed: str | None
    precision_hint: str | None
    precision_mix: dict[str, Any] | None
    samples_ns: npt.NDArray[np.int64]  # one latency per timed inference (per request in async)
    warmup_ns: npt.NDArray[np.int64]
    latency: Stats
    throughput: float  # samples per second over the steady window
    init: InitTimes
    config: dict[str, str]
    inputs: list[dict[str, Any]]
    socket: int | None
    cpus: list[int] | None  # CPU mask applied to the process that ran OpenVINO
    streams: int | None
    threads: int | None
    requests: int
    warmup_steady: bool | None
    drift: float  # median of the run's second half over its first half, minus 1
    stop_reason: str
    interrupted: bool
    elapsed_s: float
    macs: int | None  # per inference of one batch
    started_at: str
    finished_at: str
    isolated: bool  # ran in a fresh worker process
    #: batch-means 95% interval of ``throughput`` (None, None: too few sub-windows)
    throughput_ci: tuple[float | None, float | None] = (None, None)
    stop_note: str | None = None  # why the figures deserve a second look (time cap, n, drift)
    #: throughput mode (else None), since the async loop started: completions OpenVINO
    #: finished without calling back (untimed; those in the window count in ``throughput``),
    #: and times a request waited on a full completion ring
    async_lost: int | None = None
    async_stalls: int | None = None
    #: with processes > 1: each process's own result, and whether they fall into separate
    #: speed modes, with the note naming them (``latency``'s median and CI combine the
    #: processes: see ``_analysis.cell``)
    process_runs: tuple[RunResult, ...] = ()
    multimodal: bool | None = None
    multimodal_note: str | None = None
    #: why the figures may not be trusted (``_analysis.stability``; an InstabilityWarning
    #: said the same), empty when there is no sign of it
    instability: tuple[str, ...] = ()
    #: server / multistream: the schedule, the four-tick breakdown and the verdict (then
    #: ``latency`` is from each query's due time)
    server: ServerStats | None = None
    #: backend "loadgen": LoadGen's summary (``_timing.loadgen_log.parse_summary``) and how the
    #: run went (log folder, completion path); ``latency`` is then inferclock's own measurement
    #: of the same samples, from LoadGen's issue to the completion callback
    loadgen: dict[str, Any] | None = None
    options: dict[str, Any] = field(default_factory=dict)  # requested options, as row fields
    env_vars: dict[str, str] = field(default_factory=dict)  # OMP_*, TBB_*... where it ran
    env: dict[str, Any] = field(default_factory=dict)  # the machine fingerprint

    latencies_ns = renamed("samples_ns", "latencies_ns")  # the old name, for one release

    @property
    def n(self) -> int:
        return int(self.samples_ns.size)

    @property
    def verdict(self) -> str | None:
        """Server / multistream with a latency bound: "VALID" or "INVALID" (else None); backend
        "loadgen": LoadGen's result."""
        if self.loadgen is not None:
            return str(self.loadgen.get("result"))
        return self.server.verdict if self.server else None

    @property
    def verdict_reason(self) -> str | None:
        if self.loadgen is not None:
            return self.stop_note
        return self.server.verdict_reason if self.server else None

    @cached_property
    def early_stopping(self) -> tuple[PercentileEstimate, ...]:
        """LoadGen's early-stopping percentile estimates (``_timing.early_stopping``), the
        official one first: latency mode (SingleStream) p90 then p99; server and multistream
        the run's ``percentile`` over due-time latencies, a skipped query counting as never
        completed; () in throughput mode (LoadGen's Offline has none)."""
        from inferclock._timing import early_stopping as es

        if self.server is not None:
            lat = self.samples_ns.astype(np.float64)
            if self.server.skipped:
                lat = np.concatenate([lat, np.full(self.server.skipped, np.inf)])
            return (es.estimate(lat, self.server.percentile),)
        if self.mode == "latency":
            return tuple(es.estimate(self.samples_ns, p) for p in SINGLE_STREAM_PERCENTILES)
        return ()

    @property
    def gflops(self) -> float | None:
        """Achieved GFLOP/s (2 FLOPs per MAC) at the measured throughput."""
        if not self.macs or not math.isfinite(self.throughput):
            return None
        return 2.0 * self.macs / self.batch_size * self.throughput / 1e9

    def measured(self) -> dict[str, Any]:
        """The measurement's row fields (``schema.MEASURED_FIELDS``, in that order)."""
        # The schema is imported where rows are made (the parent), not by a worker that only
        # builds this record: building the schema's table costs an import ~4 ms.
        from inferclock._timing.schema import LATENCY_STATS

        s = self.latency
        row: dict[str, Any] = {
            "precision_executed": self.precision_executed,
            "precision_hint": self.precision_hint,
            "precision_mix": self.precision_mix,
            "cpus": _cpulist(self.cpus),
            "streams": self.streams,
            "threads": self.threads,
            "requests": self.requests,
            "n": s.n,
            "warmup_n": int(self.warmup_ns.size),
            "warmup_steady": self.warmup_steady,
            "stop_reason": self.stop_reason,
        }
        for name in LATENCY_STATS:
            row[f"latency_{name}_ns"] = getattr(s, f"{name}_ns")
        row["latency_cv"] = s.cv
        row["latency_drift"] = self.drift
        row["latency_ci95_low_ns"], row["latency_ci95_high_ns"] = s.ci_ns
        row["latency_ci_confidence"] = s.ci_confidence
        row["latency_percentiles"] = {
            _pname(p.p): {
                "value_ns": p.value_ns, "low_ns": p.low_ns, "high_ns": p.high_ns,
                "confidence": p.confidence,
            }
            for p in s.percentiles
        }  # fmt: skip
        row["throughput_fps"] = self.throughput
        row["throughput_ci_low_fps"], row["throughput_ci_high_fps"] = self.throughput_ci
        row["async_lost"], row["async_stalls"] = self.async_lost, self.async_stalls
        row.update({k: v for k, v in self.init.to_dict().items() if k != "cache"})
        row["compile_cache"] = self.init.cache
        row["macs"] = self.macs
        row["gflops"] = self.gflops
        row["config"] = self.config
        row["inputs"] = self.inputs
        row["env_vars"] = self.env_vars
        row["interrupted"] = self.interrupted
        row["isolated"] = self.isolated
        row["duration_s"] = self.elapsed_s
        row["stop_note"] = self.stop_note
        row["multimodal"] = self.multimodal
        row["multimodal_note"] = self.multimodal_note
        row["instability"] = list(self.instability) or None
        row["verdict"] = self.verdict
        row["verdict_reason"] = self.verdict_reason
        row["server"] = self.server.to_dict() if self.server else None
        row["early_stopping"] = [e.to_dict() for e in self.early_stopping] or None
        row["loadgen"] = self.loadgen
        return row

    def to_dict(self, samples: bool = False) -> dict[str, Any]:
        """A flat row (``_timing.rows.result_row``; its fields are ``_schema``'s), plus the raw
        samples when asked."""
        from inferclock._timing.rows import result_row
        from inferclock._timing.schema import check

        row = result_row(self)
        if samples:
            row["latencies_ns"] = self.samples_ns.tolist()  # the row field keeps its name
            row["warmup_ns"] = self.warmup_ns.tolist()
        check(row, "RunResult.to_dict")
        return row

    def to_json(self, samples: bool = False) -> str:
        from inferclock._common.jsonl import strict_dumps
        from inferclock._timing.schema import check

        d = self.to_dict(samples)
        d["env"] = self.env
        check(d, "RunResult.to_json")
        return strict_dumps(d)

    def summary(self) -> str:
        s = self.latency
        lo, hi = s.ci_ms
        conf = s.ci_confidence
        ci = f"{conf:.1%} CI" if math.isfinite(conf) and conf < 0.95 - 1e-9 else "95% CI"
        # What the interval covers: one process cannot see the spread between processes.
        ci += (
            f" of {len(self.process_runs)} processes"
            if self.process_runs
            else " within one process"
        )
        tlo, thi = self.throughput_ci
        tp_ci = f" [95% CI {tlo:.2f} .. {thi:.2f}]" if tlo is not None and thi is not None else ""
        # Beside the median (p50): p90 and p99 always, and every percentile asked for, in
        # ascending order (p90, p95, p99, p99.9), never the asked ones after p99.
        tail = {90.0: s.p90_ns, 99.0: s.p99_ns}
        tail.update((p.p, p.value_ns) for p in s.percentiles if p.p != 50.0)
        pct = ", ".join(f"{_pname(p)} {v / 1e6:.4f}" for p, v in sorted(tail.items()))
        # Each percentile with its distribution-free interval and what that interval holds.
        intervals = ", ".join(
            f"{_pname(p.p)} {p.value_ns / 1e6:.4f} ["
            + (
                f"{p.low_ns / 1e6:.4f} .. {p.high_ns / 1e6:.4f}, {p.confidence:.1%}]"
                if p.low_ns is not None and p.high_ns is not None
                else "no interval]"
            )
            for p in s.percentiles
        )
        lines = [
            f"{self.model} on {self.device}, batch {self.batch_size}, {self.mode}, precision "
            f"{self.precision_requested} (ran {self.precision_executed or '?'})"
            + ("  [INTERRUPTED]" if self.interrupted else ""),
            f"  latency   median {s.median_ms:.4f} ms [{ci} {lo:.4f} .. {hi:.4f}], "
            f"{pct}, "
            f"min {s.min_ms:.4f} ms, n={s.n} "
            f"({self.stop_reason}), warm-up {self.warmup_ns.size}"
            + ("" if self.warmup_steady is not False else " (not steady)")
            + (f", drift {self.drift:+.1%}" if abs(self.drift) > 0.02 else ""),
            f"  percentiles ({s.method}) {intervals}",
            *_early_stopping_lines(self),
            f"  throughput {self.throughput:.2f} samples/s{tp_ci}"
            + (f", {self.gflops:.1f} GFLOP/s" if self.gflops else ""),
            f"  start-up  read {self.init.read_ms:.1f} ms, reshape {self.init.reshape_ms:.1f} ms, "
            f"compile {self.init.compile_ms:.1f} ms ({self.init.cache}), first inference "
            f"{self.init.first_infer_ms:.2f} ms",
            "  config    "
            + ", ".join(
                f"{k}={self.config[k]}"
                for k in (
                    "PERFORMANCE_HINT",
                    "NUM_STREAMS",
                    "INFERENCE_NUM_THREADS",
                    "OPTIMAL_NUMBER_OF_INFER_REQUESTS",
                    "INFERENCE_PRECISION_HINT",
                    "ENABLE_CPU_PINNING",
                    "EXECUTION_DEVICES",
                )
                if k in self.config
            )
            + f", requests={self.requests}"
            + (f", cpus={_cpulist(self.cpus)}" if self.cpus else ""),
        ]
        if self.process_runs:
            meds = ", ".join(f"{r.latency.median_ms:.4f}" for r in self.process_runs)
            lines.insert(
                2,
                f"  processes {len(self.process_runs)}: medians {meds} ms"
                + (
                    f"  [MULTIMODAL: {self.multimodal_note or 'two speed modes'}]"
                    if self.multimodal
                    else ""
                ),
            )
        if self.server:
            lines[1:1] = _server_lines(self.server)
        if self.loadgen is not None:
            from inferclock._timing.loadgen_log import summary_lines

            lines[1:1] = summary_lines(self.loadgen, s)
        if self.stop_note and not self.server:
            lines.append(f"  note      {self.stop_note}")
        if self.instability:
            lines.append(f"  UNSTABLE  {'; '.join(self.instability)}")
        return "\n".join(lines)


def _early_stopping_lines(r: RunResult) -> list[str]:
    """LoadGen's early-stopping estimates beside the plain percentile of the same rank."""
    parts = []
    for e in r.early_stopping:
        p = f"p{e.percentile:g}"
        if r.server is not None:
            plain = r.server.percentile_latency_ns
        else:
            plain = next((x.value_ns for x in r.latency.percentiles if x.p == e.percentile), None)
        beside = "" if plain is None else f" (plain {p} {plain / 1e6:.4f} ms)"
        if e.value_ns is None:
            parts.append(f"{p} none: {e.reason}")
        else:
            parts.append(
                f"{p} {e.value_ns / 1e6:.4f} ms{beside}, {e.discarded} of {e.queries} highest "
                "passed over"
            )
    return [f"  early stopping (LoadGen's estimate) {'; '.join(parts)}"] if parts else []


def _server_lines(s: ServerStats) -> list[str]:
    def ms(ns: float | None) -> str:
        return "-" if ns is None or not math.isfinite(ns) else f"{ns / 1e6:.3f}"

    il, d, w = s.issue_latency, s.issue_delay_ns, s.queue_wait_ns
    if s.scenario == "multistream":
        head = (
            f"  {s.scenario:<9} {s.completed} queries of {s.samples_per_query} samples, each "
            f"issued when the previous one completed, {s.achieved_qps:.1f} queries/s over "
            f"{s.elapsed_s:.2f} s"
        )
    else:
        head = (
            f"  {s.scenario:<9} {s.qps:g} qps asked ({s.arrival}, seed {s.seed}), offered "
            f"{s.offered_qps:.1f}, achieved {s.achieved_qps:.1f} qps; {s.completed} of "
            f"{s.scheduled} queries done over {s.elapsed_s:.2f} s"
        )
    limit = f"max_async_queries {s.outstanding_limit}" if s.outstanding_limit else "no limit"
    late = "gap after the previous query" if s.scenario == "multistream" else "issue delay"
    return [
        head,
        f"  verdict   {s.verdict or '-'}: {s.verdict_reason}",
        (
            "  latency above is per query, from its issue to its last sample's completion "
            "(LoadGen 6.0's MultiStream); from its first sample's start: "
            if s.scenario == "multistream"
            else "  latency above is from each query's due time (what a user sees); from the "
            "issue (start on a request): "
        )
        + f"median {ms(il.median_ns)}, p99 {ms(il.p99_ns)} ms",
        f"  issuer    {late} p50 {d['p50'] / 1e3:.1f} us, p99 {d['p99'] / 1e3:.1f} us; "
        f"queue wait p50 {ms(w['p50'])}, p99 {ms(w['p99'])} ms, deepest queue "
        f"{s.max_queue_depth}, most outstanding {s.max_outstanding} ({limit}), nice "
        f"{s.issuer_nice}" + ("  [CUT: a prefix]" if s.runaway else ""),
    ]


def _pname(p: float) -> str:
    """50.0 -> 'p50', 99.9 -> 'p99.9': the key of a percentile in rows."""
    return f"p{p:g}"


def _cpulist(cpus: list[int] | None) -> str | None:
    return format_cpulist(cpus) if cpus else None
