"""Compare two result tables cell by cell: the ratio B/A of each cell's metric, with an interval.

Cells are matched by ``key``. For each cell present (without error) on both sides:

* **Metric.** A throughput-mode cell is judged on throughput (samples/s, higher is better),
  a latency-mode cell on its median latency (lower is better); ``metric="p99"`` (any
  percentile the rows carry) or ``"median"``/``"throughput"`` judges every cell on that one.
  The table names each cell's metric.
* **Estimate and interval**: each side's value combines its runs within and between worker
  processes (``_analysis.cell.combine_rows``, the method ``ResultTable.summary`` uses, described in
  ``_common.intervals``): on the log scale, the mean of the processes' values, with a standard error
  that is the larger of the between-process and the pooled within-run errors. The ratio's
  interval is exp(difference +- t x SE) with Welch-Satterthwaite degrees of freedom. ``method``
  says which term set the width: "between" (processes disagree more than their own intervals
  say) or "within".
* **Verdict** with threshold t (default 5%), in the metric's bad direction: ``slower`` when
  the whole interval says B is worse by more than t (latency ratio above ``1 + t``,
  throughput ratio below ``1 / (1 + t)``); ``faster`` when it says B is better by more than t;
  ``same`` when the whole interval lies within ``[1 / (1 + t), 1 + t]``; otherwise
  ``inconclusive``.

``Comparison.regressions`` are the ``slower`` cells. ``Comparison.missing`` are the cells A
measured that B has no successful row for (only in A, or error rows only in B): nothing says
they did not get slower. ``Comparison.gate()`` is the CI verdict (``inferclock compare
--fail-above``): it fails on a regression beyond its threshold, on a missing cell (unless
``allow_missing``), and when no cell at all was compared. ``environment_diff`` lists the
machine-fingerprint fields that differ between the sides (volatile readings left out).

**Hosts.** Each side is one host (``_platform.host``: a machine, or a Dask worker of a cluster
sweep): ``a_host``/``b_host`` (CLI ``--a-host``/``--b-host``) keep only that host's rows of a side,
so two workers of one cluster file compare against each other. A side holding several hosts
without one is refused unless ``allow_mixed`` (which pools them by cell).
"""

from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass, field
from typing import Any

from inferclock._analysis import cell as _cell
from inferclock._analysis.gate import Gate, check_threshold, gate_of, parse_threshold
from inferclock._analysis.table import ResultTable
from inferclock._common import checks as _checks, intervals as _intervals
from inferclock._common.errors import ConfigError, ConfigTypeError
from inferclock._common.jsonl import Row
from inferclock._common.text import fmt_num, markdown_table
from inferclock._common.util import is_real
from inferclock._platform import host as _host
from inferclock._timing import schema as _schema

__all__ = ["CellComparison", "Comparison", "Gate", "check_threshold", "compare", "parse_threshold"]

Verdict = _cell.Verdict


@dataclass(frozen=True)
class CellComparison:
    """One cell present on both sides: its metric on each side, their ratio b/a with its
    interval, and the verdict (in the metric's bad direction)."""

    key: str
    model: str
    device: str
    precision: str
    batch_size: int
    mode: str
    metric: str  # "median", "throughput" or a percentile such as "p99"
    value_a: float  # ns for latency metrics, samples/s for throughput
    value_b: float
    ratio: float  # value_b / value_a
    ci_low: float
    ci_high: float
    verdict: Verdict
    method: str  # "between" or "within": which variation set the interval's width
    runs_a: int
    runs_b: int
    n_a: int
    n_b: int
    median_a_ns: float
    median_b_ns: float
    throughput_ratio: float | None
    multimodal_a: bool | None = None
    multimodal_b: bool | None = None

    @property
    def higher_is_better(self) -> bool:
        return _cell.higher_is_better(self.metric)

    @property
    def slowdown(self) -> float:
        """How many times worse B is (above 1: worse), whatever the metric's direction."""
        return 1.0 / self.ratio if self.higher_is_better else self.ratio

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
    #: The hosts each side was restricted to (``a_host``/``b_host`` as given), or None.
    host_a: str | None = None
    host_b: str | None = None

    @property
    def regressions(self) -> tuple[CellComparison, ...]:
        """Cells where B is worse than A by more than the threshold (whole interval beyond
        it, in the metric's bad direction)."""
        return tuple(c for c in self.cells if c.verdict == "slower")

    def gate(self, threshold: float | None = None, *, allow_missing: bool = False) -> Gate:
        """The CI verdict: fail on a cell worse by more than ``threshold`` (default: this
        comparison's) in its metric, on a cell of A without a successful counterpart in B
        (unless ``allow_missing``), and when no cell was compared at all."""
        return gate_of(self, threshold, allow_missing)

    @property
    def improvements(self) -> tuple[CellComparison, ...]:
        return tuple(c for c in self.cells if c.verdict == "faster")

    @property
    def worst_ratio(self) -> float | None:
        """Largest slow-down factor (``CellComparison.slowdown``) over matched cells (None
        when nothing matched)."""
        return max((c.slowdown for c in self.cells), default=None)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["regressions"] = [c.key for c in self.regressions]
        d["worst_ratio"] = self.worst_ratio
        return d

    def to_markdown(self) -> str:
        t = self.threshold
        parts = [
            f"Ratio = B / A of each cell's metric (latency: above 1 is worse; throughput: "
            f"below 1 is worse), {self.confidence:.0%} interval combining the variation within "
            f"and between processes; threshold {t:.1%} (same: interval within "
            f"[{1 / (1 + t):.3f}, {1 + t:.3f}]; slower/faster: entirely beyond it)."
        ]
        if self.cells:
            body = [
                [
                    c.model,
                    c.device,
                    c.precision,
                    str(c.batch_size),
                    c.mode,
                    c.metric,
                    _value(c.metric, c.value_a) + (" (multimodal)" if c.multimodal_a else ""),
                    _value(c.metric, c.value_b) + (" (multimodal)" if c.multimodal_b else ""),
                    f"{c.ratio:.3f} [{c.ci_low:.3f}, {c.ci_high:.3f}]",
                    f"**{c.verdict}**" if c.verdict in ("slower", "faster") else c.verdict,
                    f"{c.runs_a}/{c.runs_b}",
                    c.method,
                ]
                for c in self.cells
            ]
            header = ["model", "device", "precision", "batch", "mode", "metric", "A", "B"]
            header += ["B/A [CI]", "verdict", "runs A/B", "width from"]
            parts.append(markdown_table(header, body))
            counts = {
                v: sum(c.verdict == v for c in self.cells)
                for v in ("slower", "faster", "same", "inconclusive")
            }
            worst = self.worst_ratio
            parts.append(
                ", ".join(f"{n} {v}" for v, n in counts.items())
                + (f"; worst slow-down {worst:.3f}x" if worst is not None else "")
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
        if self.host_a is not None or self.host_b is not None:
            parts.append(f"Hosts: A {self.host_a or '(all)'}, B {self.host_b or '(all)'}.")
        if self.environment_diff:
            parts.append("Machines differ: " + "; ".join(self.environment_diff))
        return "\n\n".join(parts) + "\n"


def _value(metric: str, v: float) -> str:
    return f"{fmt_num(v)} /s" if metric == "throughput" else f"{fmt_num(v / 1e6)} ms"


def _check_side(x: Any, side: str) -> None:
    if not isinstance(x, (ResultTable, str, os.PathLike)):
        raise ConfigTypeError(
            f"compare: {side} must be a ResultTable or a results file path, got {type(x).__name__}"
        )


def _check_host(x: Any, name: str) -> str | None:
    if x is None or (isinstance(x, str) and x):
        return x
    err = ConfigError if isinstance(x, str) else ConfigTypeError
    raise err(f"compare: {name} must be a host name or id (a non-empty str) or None, got {x!r}")


def _as_table(
    x: ResultTable | str | os.PathLike[str], allow_mixed: bool, host: str | None, side: str
) -> ResultTable:
    """Side ``side`` ("a" or "b") as a table of host ``host`` (all hosts with None)."""
    if not isinstance(x, ResultTable):
        # A host picked out of a file of several is one host: no pooling to refuse.
        x = ResultTable.load(x, allow_mixed=allow_mixed or host is not None)
    if host is not None:
        keep = {id(r) for r in _host.pick(x.rows, host, f"compare: {side.upper()}")}
        x = x.filter(lambda r: id(r) in keep)
    hosts = list(dict.fromkeys(_host.group_key(r) for r in x if _host.label(r) is not None))
    if len(hosts) > 1 and not allow_mixed:
        cluster = any(_host.from_cluster(h) for h in x.headers)
        raise ConfigError(
            f"compare: {side.upper()} holds rows of {len(hosts)} hosts; "
            + (
                "they are a cluster sweep's: pass --a-host/--b-host (a_host=, b_host=) to pick one"
                if cluster
                else "compare one host per side (a_host=, b_host=; CLI --a-host/--b-host), or "
                "pass allow_mixed=True to pool them"
            )
            + f" (hosts: {_host.describe(hosts)})"
        )
    return x


def _group_ok(table: ResultTable) -> dict[str, list[Row]]:
    groups: dict[str, list[Row]] = {}
    for r in table.ok():
        groups.setdefault(_schema.at(r, "key"), []).append(r)
    return groups


def _env_diff(a: ResultTable, b: ResultTable) -> tuple[str, ...]:
    if not a.headers or not b.headers:
        return ()
    ea, eb = a.headers[0].get("environment"), b.headers[0].get("environment")
    if not isinstance(ea, dict) or not isinstance(eb, dict):
        return ()
    return tuple(_host.differences(ea, eb))


def compare(
    a: ResultTable | str | os.PathLike[str],
    b: ResultTable | str | os.PathLike[str],
    threshold: float = 0.05,
    *,
    metric: str = "auto",
    confidence: float = 0.95,
    allow_mixed: bool = False,
    a_host: str | None = None,
    b_host: str | None = None,
) -> Comparison:
    """Compare B against A cell by cell (the method and verdicts: docs/statistics.md, "compare").

    ``a`` and ``b`` are ResultTables or results file paths. ``threshold`` is relative (0.05 =
    5%). ``metric``: "auto" (throughput for throughput-mode cells, the median latency for
    latency-mode ones), "median", "throughput" or a percentile such as "p99". Cells only on
    one side, or with only error rows on one side, are listed, not compared; those A measured
    and B did not are also in ``missing`` (see :meth:`Comparison.gate`).

    ``a_host``/``b_host`` keep only that host's rows of a side: a ``host_name`` (a Dask
    worker's or a machine's name), a host id, or a prefix of an id that one host has; one
    that the side does not hold is a ConfigError naming its hosts. ``a`` and ``b`` may be the
    same file, e.g. two workers of one cluster sweep: ``compare(f, f, a_host="w1",
    b_host="w2")``. A side holding rows of several hosts is refused unless ``allow_mixed``
    (then pooled by cell). Arguments are checked before any file is read: ConfigError
    (ConfigTypeError for a wrong type) naming the argument and its valid values.
    """
    threshold = check_threshold("threshold", threshold)
    metric = _cell.check_metric(metric)
    if not is_real(confidence) or not 0.5 <= float(confidence) < 1:
        err = ConfigError if is_real(confidence) else ConfigTypeError
        raise err(f"confidence must be a number in [0.5, 1) such as 0.95, got {confidence!r}")
    confidence = float(confidence)
    allow_mixed = bool(_checks.boolean()("allow_mixed", allow_mixed))
    _check_side(a, "a")
    _check_side(b, "b")
    a_host, b_host = _check_host(a_host, "a_host"), _check_host(b_host, "b_host")
    ta, tb = _as_table(a, allow_mixed, a_host, "a"), _as_table(b, allow_mixed, b_host, "b")
    ga, gb = _group_ok(ta), _group_ok(tb)
    keys_a, keys_b = ta.keys(), tb.keys()
    cells: list[CellComparison] = []
    missing_metric: list[str] = []
    for key in [k for k in keys_a if k in ga and k in gb]:
        ra, rb = ga[key], gb[key]
        first = ra[0]
        mode = _schema.get(first, "mode")
        m = _cell.metric_for(metric, mode)
        ca, cb = _cell.combine_rows(ra, m, confidence), _cell.combine_rows(rb, m, confidence)
        if ca is None or cb is None:
            missing_metric.append(key)
            continue
        r, lo, hi = _intervals.ratio(ca, cb, confidence)
        lo = math.nan if lo is None else lo  # no interval on a side: inconclusive
        hi = math.nan if hi is None else hi
        ma, mb = _cell.combine_rows(ra, "median"), _cell.combine_rows(rb, "median")
        ta_, tb_ = _cell.combine_rows(ra, "throughput"), _cell.combine_rows(rb, "throughput")
        batch = _schema.get(first, "batch_size")
        cells.append(
            CellComparison(
                key=key, model=str(_schema.get(first, "model")),
                device=str(_schema.get(first, "device")),
                precision=str(_schema.get(first, "precision_requested")),
                batch_size=batch if isinstance(batch, int) else 0, mode=str(mode),
                metric=m, value_a=ca.estimate, value_b=cb.estimate, ratio=r, ci_low=lo,
                ci_high=hi,
                verdict=_cell.judge(lo, hi, threshold, _cell.higher_is_better(m)),
                method="between" if ca.between or cb.between else "within",
                runs_a=len(ra), runs_b=len(rb),
                n_a=sum(int(_schema.get(r, "n") or 0) for r in ra),
                n_b=sum(int(_schema.get(r, "n") or 0) for r in rb),
                median_a_ns=ma.estimate if ma else math.nan,
                median_b_ns=mb.estimate if mb else math.nan,
                throughput_ratio=tb_.estimate / ta_.estimate if ta_ and tb_ else None,
                multimodal_a=ca.multimodal if ca.processes > 1 else None,
                multimodal_b=cb.multimodal if cb.processes > 1 else None,
            )
        )  # fmt: skip
    if missing_metric and not cells:
        raise ConfigError(
            f"compare: metric {metric!r} is in no row of the matched cells "
            f"({', '.join(missing_metric[:5])}): rows carry the percentiles they were run "
            "with (option percentiles=[...]), the median and throughput"
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
        host_a=a_host,
        host_b=b_host,
    )
