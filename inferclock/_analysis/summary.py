"""A cell's summary line: the rows of one cell on one host (its processes and repeats)
combined into a :class:`CellSummary` by ``_analysis.cell`` (the method ``compare`` uses), and the
order tables list cells in. A host is a ``_platform.host.group_key`` (machine id and label): two
Dask workers on one machine are two hosts, and no summary pools rows of two hosts."""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from inferclock._analysis import cell as _cell, stability as _stability
from inferclock._platform import host as _host
from inferclock._timing import schema as _schema


@dataclass(frozen=True)
class CellSummary:
    """The rows of one cell on one host (its processes and repeats) combined into one line.

    ``median_ns`` and ``throughput_fps`` with their intervals (``ci95_*``, ``throughput_ci_*``)
    combine the runs within and between processes (``_common.intervals.combine``, the method
    ``compare`` uses); ``ci_confidence`` is the coverage the median's interval actually has
    (below 0.95 only when the runs were too short for 95%). ``p99_ns`` is the runs' p99s
    combined as the median is (``_analysis.cell.percentile_figure``, the figure
    ``ic.run(processes=k)`` gives). ``multimodal``: the processes fall into separate speed modes
    (``_analysis.stability.modes``; None with one process). ``spread`` is (max - min) / median
    of the per-run medians, None for a single run. The start-up times are medians over runs. An
    open-loop cell (server, multistream) has its asked rate ``qps``; its latencies are due-time
    ones, and ``verdict`` is "VALID" only when every run with a verdict is VALID ("INVALID" when
    any is, None when no run has one). ``host`` names the host (``_platform.host.label``: its
    ``host_name``, else its machine id ``host_id``). ``instability``: why its figures may not be
    trusted (``_analysis.stability``).
    """

    key: str
    model: str
    device: str
    precision_requested: str
    precision_executed: str | None
    batch_size: int
    mode: str
    socket: int | None
    runs: int
    n: int
    median_ns: float
    ci95_low_ns: float | None
    ci95_high_ns: float | None
    p99_ns: float | None
    throughput_fps: float | None
    spread: float | None
    read_ms: float | None
    reshape_ms: float | None
    compile_ms: float | None
    first_infer_ms: float | None
    compile_cache: str | None
    errors: int
    host: str | None = None
    ci_confidence: float | None = None
    processes: int = 1
    multimodal: bool | None = None
    throughput_ci_low_fps: float | None = None
    throughput_ci_high_fps: float | None = None
    qps: float | None = None
    verdict: str | None = None
    host_id: str | None = None
    #: why the cell's figures may not be trusted (``_analysis.stability``), empty if no sign
    instability: tuple[str, ...] = ()
    #: LoadGen's early-stopping estimate of the official percentile (latency: p90; open-loop:
    #: the run's), the median over the runs that have one; its percentile
    early_stopping_ns: float | None = None
    early_stopping_percentile: float | None = None

    @property
    def config(self) -> str | None:
        """What the key names beyond the six usual fields (a tune point's
        ``streams=2,requests=4``), or None."""
        extra = self.key.split("|")[6:]
        return "|".join(extra) if extra else None

    @property
    def mode_label(self) -> str:
        """The mode as tables show it: ``"server @200 qps"`` for an open-loop cell, with the
        cell's ``config`` when it has one."""
        label = self.mode if self.qps is None else f"{self.mode} @{self.qps:g} qps"
        return label if self.config is None else f"{label} {self.config}"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _num(row: Mapping[str, Any], field: str) -> float | None:
    v = _schema.get(row, field)
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        return None
    return float(v)


def _nums(rows: Sequence[Mapping[str, Any]], field: str) -> list[float]:
    """The finite numbers ``field`` holds in ``rows`` (missing, null, NaN and bools left out)."""
    return [v for v in (_num(r, field) for r in rows) if v is not None]


def _median_of(rows: Sequence[Mapping[str, Any]], field: str) -> float | None:
    vals = _nums(rows, field)
    return statistics.median(vals) if vals else None


def _instability(rows: Sequence[Mapping[str, Any]], median: float) -> tuple[str, ...]:
    """The cell's instability: its samples counted over runs, the largest run's CV, the
    fastest run's minimum, its speed modes (``_analysis.stability.reasons``)."""
    n = sum(int(_schema.get(r, "n") or 0) for r in rows)
    cvs, mins = _nums(rows, "latency_cv"), _nums(rows, "latency_min_ns")
    note = _cell.modes_note(rows)
    return _stability.reasons(n, max(cvs, default=None), min(mins, default=None), median, note)


def _verdict(rows: Sequence[Mapping[str, Any]]) -> str | None:
    """A cell's verdict: INVALID when any run's is, VALID when all that have one are."""
    v = {_schema.get(r, "verdict") for r in rows} - {None}
    return None if not v else "VALID" if v == {"VALID"} else "INVALID"


def _early_stopping(rows: Sequence[Mapping[str, Any]]) -> tuple[float | None, float | None]:
    """(the median of the runs' official early-stopping estimates, its percentile)."""
    official = [e[0] for r in rows if isinstance(e := _schema.get(r, "early_stopping"), list) and e]
    values = [v for o in official if isinstance(v := o.get("value_ns"), (int, float))]
    pct = official[0].get("percentile") if official else None
    return (statistics.median(values) if values else None), pct


def _joined(values: Iterable[Any]) -> str | None:
    seen = list(dict.fromkeys(str(v) for v in values if v is not None))
    return "/".join(seen) if seen else None


_PRECISION_ORDER = {"f32": 0, "bf16": 1, "f16": 2, "int8": 3, "default": 4}


def precision_rank(precision: str) -> tuple[int, str]:
    """Sort key putting precisions in their usual order (f32, bf16, f16, int8, others)."""
    return _PRECISION_ORDER.get(precision, len(_PRECISION_ORDER)), precision


def _sort_key(s: CellSummary) -> tuple[Any, ...]:
    return (
        s.model,
        s.device,
        s.mode,
        precision_rank(s.precision_requested),
        s.batch_size,
        s.qps or 0.0,  # open-loop cells by rate, not by their keys' text
        str(s.socket),
        s.key,
    )


def summarize_cells(rows_in: Iterable[Mapping[str, Any]]) -> list[CellSummary]:
    """One :class:`CellSummary` per cell and host that has at least one row without error,
    in table order."""
    groups: dict[tuple[str, str | None, str | None], list[Mapping[str, Any]]] = {}
    for r in rows_in:
        groups.setdefault((_schema.at(r, "key"), *_host.group_key(r)), []).append(r)
    out: list[CellSummary] = []
    for (key, host_id, host), rows in groups.items():
        good = [
            r for r in rows
            if _schema.get(r, "error") is None and _num(r, "latency_median_ns") is not None
        ]  # fmt: skip
        if not good:
            continue
        medians = [float(_schema.at(r, "latency_median_ns")) for r in good]
        med = statistics.median(medians)
        lat = _cell.combine_rows(good, "median")
        p99 = _cell.percentile_figure(good, 99)
        tp = _cell.combine_rows(good, "throughput")
        first = good[0]
        batch = _schema.get(first, "batch_size")
        mode = _schema.get(first, "mode")
        es_ns, es_pct = _early_stopping(good)
        out.append(
            CellSummary(
                key=key,
                model=str(_schema.get(first, "model")),
                device=str(_schema.get(first, "device")),
                precision_requested=str(_schema.get(first, "precision_requested")),
                precision_executed=_joined(_schema.get(r, "precision_executed") for r in good),
                batch_size=int(batch) if isinstance(batch, int) else 0,
                mode=str(mode),
                socket=_schema.get(first, "socket"),
                runs=len(good),
                n=sum(int(_schema.get(r, "n") or 0) for r in good),
                median_ns=lat.estimate if lat else med,
                ci95_low_ns=lat.low if lat else None,
                ci95_high_ns=lat.high if lat else None,
                p99_ns=p99.estimate if p99 else None,
                throughput_fps=tp.estimate if tp else _median_of(good, "throughput_fps"),
                spread=(max(medians) - min(medians)) / med if len(good) > 1 and med else None,
                host=host,
                host_id=host_id,
                ci_confidence=lat.confidence if lat and lat.low is not None else None,
                processes=lat.processes if lat else 1,
                multimodal=_cell.multimodal(good, _cell.metric_for("auto", mode)),
                throughput_ci_low_fps=tp.low if tp else None,
                throughput_ci_high_fps=tp.high if tp else None,
                qps=_num(first, "qps"),
                verdict=_verdict(good),
                read_ms=_median_of(good, "read_ms"),
                reshape_ms=_median_of(good, "reshape_ms"),
                compile_ms=_median_of(good, "compile_ms"),
                first_infer_ms=_median_of(good, "first_infer_ms"),
                compile_cache=_joined(_schema.get(r, "compile_cache") for r in good),
                errors=len(rows) - len(good),
                instability=_instability(good, lat.estimate if lat else med),
                early_stopping_ns=es_ns,
                early_stopping_percentile=es_pct,
            )
        )
    out.sort(key=_sort_key)
    return out
