"""Statistics shared by ``measure``, the engine, sweeps and reports: one run's summary.

One module so every number inferclock prints is computed the same way (the interval arithmetic
itself lives in ``_common.intervals``):

* Percentiles use numpy's default method by default ("linear", Hyndman & Fan type 7: the p-th
  percentile of sorted x[0..n-1] is interpolated at rank (n - 1) * p / 100); ``method="loadgen"``
  reports the order statistic MLPerf LoadGen reports, x[int(n * (p * 0.01))]
  (``_common.intervals.loadgen_index``), the median included.
* Confidence intervals of the median and of every reported percentile are order statistics
  whose ranks come from the exact Binomial law with n replaced by an effective sample size,
  n / tau, tau the integrated autocorrelation time of the series 1{x_t <= x_(q)} of the run's
  samples in time order (``_common.autocorr``). They assume no shape of the latency
  distribution (skewed, often multi-modal) and hold when consecutive timings are alike, as
  they are on real machines; for independent samples (tau = 1) they are the exact
  distribution-free intervals. Each carries the coverage it has: below the confidence asked
  for when n (or n / tau) is too small (87.5% for the median at n = 4; (min, max) is then
  given).
* Warm-up is steady when two consecutive windows have medians within a relative tolerance.
* The adaptive stop ends when the CI half-width is at most ``target_ci`` times the median and
  the two halves of the run agree (``drift``): a narrow CI over a short window says nothing
  about a machine whose speed shifts from one second to the next (seen on shared VMs).

May import: _common.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from inferclock._common import autocorr as _autocorr, checks as _checks, intervals as _intervals
from inferclock._common.deprecation import renamed
from inferclock._common.errors import ConfigError, ConfigTypeError
from inferclock._common.util import is_real

__all__ = [
    "Percentile",
    "Stats",
    "ci_halfwidth_ratio",
    "drift",
    "median_ci",
    "median_ci_ranks",
    "summarize",
    "windows_agree",
]

#: Percentiles ``summarize`` reports unless told otherwise.
DEFAULT_PERCENTILES: tuple[float, ...] = (50.0, 90.0, 95.0, 99.0)


def median_ci_ranks(n: int, confidence: float = 0.95) -> tuple[int, int]:
    """0-based ranks (lo, hi) of n sorted independent samples bounding the median.

    P(x[lo] <= median <= x[hi]) >= confidence for any continuous distribution, from the exact
    Binomial(n, 1/2) law (``_common.intervals.quantile_ranks``). For n too small to reach the
    confidence (n < 6 at 95%), returns (0, n - 1). ``median_ci`` widens them for correlated
    samples.
    """
    lo, hi, _ = _intervals.quantile_ranks(n, 0.5, confidence)
    return lo, hi


def median_ci(samples: npt.ArrayLike, confidence: float = 0.95) -> tuple[float, float]:
    """Confidence interval of the median of ``samples`` (in time order: ranks from the
    effective sample size, ``_common.autocorr``)."""
    x = np.asarray(samples)
    if x.size == 0:
        raise ValueError("median_ci needs at least one sample")
    low, high, _ = _autocorr.quantile_ci(x, 0.5, confidence)
    return low, high


def ci_halfwidth_ratio(samples: npt.ArrayLike, confidence: float = 0.95) -> float:
    """Half-width of the median's interval over the median: the adaptive stop compares it to
    target_ci. The interval is the one ``summarize`` reports (``median_ci``); infinite while it
    cannot reach ``confidence`` (n < 6 at 95%, or too few effective samples: n / tau)."""
    x = np.asarray(samples, dtype=np.float64).ravel()
    if x.size < _intervals.min_count(0.5, confidence):
        return math.inf
    lo_a, hi_a, coverage_a, _ = _autocorr.serial_ranks(x, 0.5, confidence)
    if float(coverage_a) < confidence:
        return math.inf
    lo, hi = int(lo_a), int(hi_a)
    mid = (x.size - 1) // 2, x.size // 2
    part = np.partition(x, sorted({lo, hi, *mid}))
    median = 0.5 * (float(part[mid[0]]) + float(part[mid[1]]))
    if median <= 0:
        return math.inf
    return 0.5 * (float(part[hi]) - float(part[lo])) / median


def windows_agree(a: npt.ArrayLike, b: npt.ArrayLike, tolerance: float) -> bool:
    """True when the medians of two windows are within ``tolerance`` (relative) of each other."""
    ma, mb = float(np.median(np.asarray(a))), float(np.median(np.asarray(b)))
    return abs(ma - mb) <= tolerance * max(ma, mb)


def drift(samples: npt.ArrayLike) -> float:
    """Relative change of the median from the first half of a run to the second half
    (0.02: the second half ran 2% slower). NaN with fewer than 2 samples."""
    x = np.asarray(samples)
    if x.size < 2:
        return math.nan
    first, second = float(np.median(x[: x.size // 2])), float(np.median(x[x.size // 2 :]))
    return second / first - 1.0 if first > 0 else math.nan


@dataclass(frozen=True)
class Percentile:
    """One percentile of a run in ns, with its distribution-free interval.

    ``low_ns``/``high_ns`` are order statistics bounding the p/100 quantile of the population
    (``_common.intervals.quantile_ranks``); ``confidence`` is the coverage they actually have, below
    the confidence asked for when n is too small. p = 0 and p = 100 (the population's minimum
    and maximum) have no distribution-free bound: None, None and confidence 0.0 (not NaN, so
    records compare equal and stay valid JSON).
    """

    p: float  # in [0, 100]
    value_ns: float  # read by the summary's ``method``
    low_ns: float | None
    high_ns: float | None
    confidence: float

    @property
    def value_ms(self) -> float:
        return self.value_ns / 1e6


@dataclass(frozen=True)
class Stats:
    """Summary of timings in nanoseconds; every figure rests on ``n`` samples."""

    n: int
    min_ns: float
    mean_ns: float
    median_ns: float
    p90_ns: float
    p95_ns: float
    p99_ns: float
    max_ns: float
    stdev_ns: float
    cv: float
    mad_ns: float
    ci_ns: tuple[float, float]  # the median's interval, asked for at ``ci_level``
    ci_confidence: float = 0.95  # the coverage ci_ns actually has (< ci_level: n too small)
    percentiles: tuple[Percentile, ...] = ()
    method: str = "linear"  # how p90_ns.. and ``percentiles`` were read (_intervals.METHODS)
    ci_level: float = 0.95  # the confidence asked for

    @property
    def min_ms(self) -> float:
        return self.min_ns / 1e6

    @property
    def mean_ms(self) -> float:
        return self.mean_ns / 1e6

    @property
    def median_ms(self) -> float:
        return self.median_ns / 1e6

    @property
    def p90_ms(self) -> float:
        return self.p90_ns / 1e6

    @property
    def p95_ms(self) -> float:
        return self.p95_ns / 1e6

    @property
    def p99_ms(self) -> float:
        return self.p99_ns / 1e6

    @property
    def max_ms(self) -> float:
        return self.max_ns / 1e6

    @property
    def stdev_ms(self) -> float:
        return self.stdev_ns / 1e6

    @property
    def mad_ms(self) -> float:
        return self.mad_ns / 1e6

    @property
    def ci_ms(self) -> tuple[float, float]:
        return self.ci_ns[0] / 1e6, self.ci_ns[1] / 1e6

    # The interval is at ``ci_level``, not always 95%: the old names, for one release.
    ci95_ns = renamed("ci_ns", "ci95_ns")
    ci95_ms = renamed("ci_ms", "ci95_ms")

    def percentile(self, p: float) -> Percentile:
        """The record of percentile ``p`` (one of those ``summarize`` was asked for)."""
        if not is_real(p):
            raise ConfigTypeError(f"percentile p must be a number in [0, 100], got {p!r}")
        for rec in self.percentiles:
            if rec.p == float(p):
                return rec
        have = ", ".join(f"p{r.p:g}" for r in self.percentiles) or "none were computed"
        raise ConfigError(f"no percentile p{float(p):g} in these stats; available: {have}")

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["ci_ns"] = list(self.ci_ns)
        d["percentiles"] = [asdict(p) for p in self.percentiles]
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Stats:
        """The inverse of ``to_dict``; a dict from before percentiles gets the defaults."""
        fields = dict(d)
        if "ci95_ns" in fields:  # written before the interval was renamed ci_ns
            fields["ci_ns"] = fields.pop("ci95_ns")
        fields["ci_ns"] = tuple(fields["ci_ns"])
        fields["percentiles"] = tuple(Percentile(**p) for p in fields.get("percentiles", ()))
        return cls(**fields)

    def __str__(self) -> str:
        lo, hi = self.ci_ns
        ci = f"{_fmt_pct(self.ci_level)} CI {_fmt_ns(lo)} .. {_fmt_ns(hi)}"
        if self.ci_confidence < self.ci_level - 1e-9:  # say what the interval really holds
            few = self.n >= _intervals.min_count(0.5, self.ci_level)  # but n / tau is not
            why = "autocorrelated samples are too few" if few else "is too small"
            ci = (
                f"{_fmt_pct(self.ci_confidence)} CI {_fmt_ns(lo)} .. {_fmt_ns(hi)}: "
                f"n={self.n} {why} for {_fmt_pct(self.ci_level)}"
            )
        return (
            f"median {_fmt_ns(self.median_ns)} [{ci}], "
            f"p90 {_fmt_ns(self.p90_ns)}, p95 {_fmt_ns(self.p95_ns)}, p99 {_fmt_ns(self.p99_ns)}, "
            f"min {_fmt_ns(self.min_ns)}, cv {self.cv:.1%}, n={self.n}"
        )


def empty() -> Stats:
    """The statistics of no samples (every figure NaN)."""
    return Stats(0, *(math.nan,) * 10, (math.nan, math.nan), ci_confidence=math.nan)


def _fmt_ns(ns: float) -> str:
    for unit, scale in (("s", 1e9), ("ms", 1e6), ("us", 1e3)):
        if abs(ns) >= scale:
            return f"{ns / scale:.4g} {unit}"
    return f"{ns:.4g} ns"


def _fmt_pct(fraction: float) -> str:
    """0.95 -> '95%', 0.875 -> '87.5%', 0.96875 -> '96.9%'."""
    return f"{100 * fraction:.3g}%"


def _check_args(
    percentiles: object, method: object, confidence: object
) -> tuple[tuple[float, ...], float]:
    """(percentiles sorted and unique, confidence), or a Config(Type)Error naming the argument."""
    if not isinstance(method, str):
        raise ConfigTypeError(
            f"method must be a string, one of: {', '.join(_intervals.METHODS)}; got {method!r}"
        )
    if method not in _intervals.METHODS:
        raise ConfigError(
            f"unknown percentile method {method!r}; choose one of: {', '.join(_intervals.METHODS)}"
        )
    if not is_real(confidence):
        raise ConfigTypeError(f"confidence must be a number in (0, 1), got {confidence!r}")
    conf = float(confidence)  # type: ignore[arg-type]
    if not 0.0 < conf < 1.0:
        raise ConfigError(f"confidence must be in (0, 1) such as 0.95, got {confidence!r}")
    return _checks.percentile_list("percentiles", percentiles), conf


def _linear(xs: npt.NDArray[np.float64], p: float) -> float:
    """np.percentile(xs, p) of a sorted ``xs``, read by index (same virtual index and lerp)."""
    h = (xs.size - 1) * (p / 100.0)
    f = math.floor(h)
    a, b, t = float(xs[f]), float(xs[min(f + 1, xs.size - 1)]), h - f
    return b - (b - a) * (1.0 - t) if t >= 0.5 else a + (b - a) * t


def _loadgen(xs: npt.NDArray[np.float64], p: float) -> float:
    return float(xs[_intervals.loadgen_index(xs.size, p)])


def summarize(
    samples_ns: npt.ArrayLike | Sequence[float],
    percentiles: Iterable[float] = DEFAULT_PERCENTILES,
    method: str = "linear",
    confidence: float = 0.95,
) -> Stats:
    """Stats of a sample of durations in ns, in the order they were timed (the intervals
    account for autocorrelation; see the module docstring for the methods).

    ``percentiles``: those reported with intervals in ``Stats.percentiles`` (sorted, duplicates
    dropped); ``method``: how they, the median, and p90/p95/p99 are read (one of
    ``_common.intervals.METHODS``); ``confidence``: asked of the median's and the percentiles'
    intervals.
    """
    wanted, conf = _check_args(percentiles, method, confidence)
    x = np.asarray(samples_ns, dtype=np.float64)
    if x.ndim != 1 or x.size == 0:
        raise ValueError("summarize needs a non-empty 1-d array of durations")
    n = int(x.size)
    # Sorted once (numpy's vectorized sort beats partitions at this many ranks): every order
    # statistic below is then an index. No partition of xs: numpy's is slow on sorted data.
    xs = np.sort(x)
    taus: dict[float, float] = {}  # tau of the indicator at each threshold value

    def ranks(q: float) -> tuple[int, int, float]:
        threshold = float(xs[_autocorr.threshold_rank(n, q)])
        if threshold not in taus:
            taus[threshold] = float(_autocorr.indicator_time(x, threshold))
        lo, hi, achieved = _autocorr.effective_ranks(n, taus[threshold], q, conf)
        return int(lo), int(hi), float(achieved)

    lo, hi, coverage = ranks(0.5)
    bounds = {p: ranks(p / 100.0) for p in wanted if 0.0 < p / 100.0 < 1.0}  # 1e-320 / 100 is 0
    read = _loadgen if method == "loadgen" else _linear
    value = {p: read(xs, p) for p in {50.0, 90.0, 95.0, 99.0, *wanted}}
    records = []
    for p in wanted:
        plo, phi, achieved = bounds.get(p, (-1, -1, 0.0))
        low, high = (float(xs[plo]), float(xs[phi])) if plo >= 0 else (None, None)
        records.append(Percentile(p, value[p], low, high, achieved))
    p50 = 0.5 * (float(xs[(n - 1) // 2]) + float(xs[n // 2]))  # np.median of sorted xs
    mean = float(np.mean(xs))
    stdev = float(np.std(xs, ddof=1)) if n > 1 else 0.0
    return Stats(
        n=n,
        min_ns=float(xs[0]),
        mean_ns=mean,
        median_ns=value[50.0] if method == "loadgen" else p50,  # np.median when linear
        p90_ns=value[90.0],
        p95_ns=value[95.0],
        p99_ns=value[99.0],
        max_ns=float(xs[-1]),
        stdev_ns=stdev,
        cv=stdev / mean if mean > 0 else math.nan,
        mad_ns=float(np.median(np.abs(x - p50))),
        ci_ns=(float(xs[lo]), float(xs[hi])),
        ci_confidence=coverage,
        percentiles=tuple(records),
        method=method,
        ci_level=conf,
    )
