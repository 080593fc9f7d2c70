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

**States.** Every cell ends in a named state (``Comparison.states``; ``_analysis.states``):
the judged ones above, "no interval" (a side without an interval: judged on the point
ratio), and "unreadable" (a row's value of the metric is absent, null, NaN, <= 0, not a number,
or its interval invalid), "missing in B", "error in B" (nothing says they did not get
slower), "error in A" and "only in B". Lines of either file that held no row are named by file
and line (``Comparison.skipped``); rows read twice are dropped and rows that are not
measurements named (``Comparison.notes``). ``Comparison.regressions`` are the ``slower`` cells
(a no-interval cell slower on its point ratio included). ``Comparison.gate()`` is the CI
verdict (``inferclock compare --fail-above``, ``_analysis.gate``): it passes only when every
cell is same, faster, or not worse than its threshold. ``environment_diff`` lists the
machine-fingerprint fields that differ between the sides (volatile readings left out).

**Hosts.** Each side is one host (``_platform.host``: a machine, or a Dask worker of a cluster
sweep): ``a_host``/``b_host`` (CLI ``--a-host``/``--b-host``) keep only that host's rows of a side,
so two workers of one cluster file compare against each other. A side holding several hosts
without one is refused unless ``allow_mixed`` (which pools them by cell).
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from typing import Any

from inferclock._analysis import cell as _cell
from inferclock._analysis.compare_cells import CellComparison, cell_state, fields_kept
from inferclock._analysis.gate import Gate, check_threshold, gate_of, parse_threshold
from inferclock._analysis.states import CellState, has_metric
from inferclock._analysis.table import ResultTable
from inferclock._common import checks as _checks
from inferclock._common.errors import ConfigError, ConfigTypeError
from inferclock._common.jsonl import Row
from inferclock._common.util import is_real
from inferclock._platform import host as _host
from inferclock._timing import schema as _schema

__all__ = ["CellComparison", "Comparison", "Gate", "check_threshold", "compare", "parse_threshold"]

Verdict = _cell.Verdict


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
    #: Every cell of A, then those only in B, in its named state with the reason.
    states: tuple[CellState, ...] = field(default=())
    #: Lines of A and B that held no row: "side path:line: why".
    skipped: tuple[str, ...] = field(default=())
    #: Duplicate rows dropped and rows that are not measurements, per side.
    notes: tuple[str, ...] = field(default=())

    def state_of(self, key: str) -> CellState | None:
        return next((s for s in self.states if s.key == key), None)

    @property
    def unreadable(self) -> tuple[str, ...]:
        """Cells whose metric could not be read on a side (see ``states``)."""
        return tuple(s.key for s in self.states if s.state == "unreadable")

    @property
    def regressions(self) -> tuple[CellComparison, ...]:
        """Cells where B is worse than A by more than the threshold (whole interval beyond
        it, in the metric's bad direction)."""
        return tuple(c for c in self.cells if c.verdict == "slower")

    def gate(
        self,
        threshold: float | None = None,
        *,
        allow_missing: bool = False,
        allow_inconclusive: bool = False,
    ) -> Gate:
        """The CI verdict at ``threshold`` (default: this comparison's): passes only when every
        cell is same, faster or not worse than the threshold (``_analysis.states.outcome``).
        ``allow_missing`` lets unreadable, missing and failed cells of B and skipped lines
        pass; ``allow_inconclusive`` lets cells whose interval reaches past the threshold
        pass. Nothing compared at all always fails."""
        return gate_of(self, threshold, allow_missing, allow_inconclusive)

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
        """The comparison as markdown: every cell with its state and reason, the counts."""
        from inferclock._analysis.compare_text import comparison_markdown

        return comparison_markdown(self)


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
    x: ResultTable | str | os.PathLike[str],
    allow_mixed: bool,
    host: str | None,
    side: str,
    metric: str,
) -> ResultTable:
    """Side ``side`` ("a" or "b") as a table of host ``host`` (all hosts with None). A file is
    streamed, each row cut to the fields comparing on ``metric`` reads (``fields_kept``)."""
    if not isinstance(x, ResultTable):
        # A host picked out of a file of several is one host: no pooling to refuse.
        x = ResultTable.load(
            x, allow_mixed=allow_mixed or host is not None, keep=fields_kept(metric)
        )
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
    ta = _as_table(a, allow_mixed, a_host, "a", metric)
    tb = _as_table(b, allow_mixed, b_host, "b", metric)
    ga, gb = _group(ta.ok()), _group(tb.ok())
    ia, ib = _group(ta.invalid()), _group(tb.invalid())
    keys_a, keys_b = ta.keys(), tb.keys()
    set_a, set_b = set(keys_a), set(keys_b)
    cells: list[CellComparison] = []
    states: list[CellState] = []
    for key in keys_a:
        state, cell = cell_state(key, ga, gb, ia, ib, key in set_b, metric, threshold, confidence)
        states.append(state)
        if cell is not None:
            cells.append(cell)
    states += [CellState(k, "only in B", "B measured it, A did not") for k in keys_b
               if k not in set_a]  # fmt: skip
    matched = [k for k in keys_a if k in ga and k in gb]
    carried = (
        has_metric(r, _cell.metric_for(metric, _schema.get(r, "mode")))
        for k in matched
        for r in (*ga[k], *gb[k])
    )
    if matched and not any(carried):  # a metric no row has: a mistake, not a cell state
        raise ConfigError(
            f"compare: metric {metric!r} is in no row of the matched cells "
            f"({', '.join(matched[:5])}): rows carry the percentiles they were run "
            "with (option percentiles=[...]), the median and throughput"
        )
    return Comparison(
        cells=tuple(cells),
        only_a=tuple(k for k in keys_a if k not in set_b),
        only_b=tuple(k for k in keys_b if k not in set_a),
        failed_a=tuple(k for k in keys_a if k in set_b and k not in ga and k not in ia),
        failed_b=tuple(k for k in keys_b if k in set_a and k not in gb and k not in ib),
        threshold=threshold,
        confidence=confidence,
        environment_diff=_env_diff(ta, tb),
        missing=tuple(s.key for s in states if s.state in ("missing in B", "error in B")),
        host_a=a_host,
        host_b=b_host,
        states=tuple(states),
        skipped=tuple(f"{side} {line}" for side, t in (("A", ta), ("B", tb)) for line in t.skipped),
        # Skipped lines are listed on their own (``skipped``): they fail a gate.
        notes=tuple(
            f"{side}: {n}" for side, t in (("A", ta), ("B", tb)) for n in t.notes(skipped=False)
        ),
    )


def _group(table: ResultTable) -> dict[str, list[Row]]:
    groups: dict[str, list[Row]] = {}
    for r in table:
        groups.setdefault(_schema.at(r, "key"), []).append(r)
    return groups
