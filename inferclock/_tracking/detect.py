"""Change detection over one cell's history: where its series of values steps by more than
its noise.

The method: the series' natural logs (a step is a ratio), segmented by ruptures' PELT search
(``ruptures.Pelt(model="l2", min_size=MIN_SIZE)``; ruptures is a maintained library,
https://centre-borelli.github.io/ruptures-docs/) with the penalty ``PENALTY * sigma**2 *
ln(n)``, where ``sigma`` is a robust noise estimate: the MAD of successive differences
(scaled by 1.4826 / sqrt(2)), which a few steps hardly move. A breakpoint is reported only when
the medians of the segments before and after it differ (on the log scale) by more than
``Z`` standard errors of that difference (``sigma * sqrt(1/n_before + 1/n_after)``) *and*
by more than ``MIN_RELATIVE`` (3%), so a flat noisy series gives no step.
"""

from __future__ import annotations

import importlib
import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

MIN_SIZE = 3  # runs on each side of a step, at least
PENALTY = 3.0  # in units of sigma**2 * ln(n)
Z = 4.0  # standard errors the medians must differ by
MIN_RELATIVE = 0.03  # and at least this relative change
_SIGMA_FLOOR = 1e-4  # a perfectly flat series (log scale)


@dataclass(frozen=True)
class Change:
    index: int  # first point after the step
    before: float  # median of the segment before
    after: float  # median of the segment after


def noise(logs: npt.NDArray[np.float64]) -> float:
    """Robust standard deviation of one point (log scale) from successive differences."""
    if len(logs) < 3:
        return _SIGMA_FLOOR
    d = np.diff(logs)
    mad = float(np.median(np.abs(d - np.median(d))))
    return max(1.4826 * mad / math.sqrt(2.0), _SIGMA_FLOOR)


def changes(values: list[float]) -> list[Change]:
    """The steps of a series of positive values, in order."""
    x = np.log(np.asarray(values, dtype=np.float64))
    n = len(x)
    if n < 2 * MIN_SIZE:
        return []
    # ruptures ships no type information: imported by name so type checks need no override
    ruptures = importlib.import_module("ruptures")

    sigma = noise(x)
    pen = PENALTY * sigma**2 * math.log(n)
    bkps = ruptures.Pelt(model="l2", min_size=MIN_SIZE, jump=1).fit(x).predict(pen=pen)
    bounds = [0, *[int(b) for b in bkps if 0 < b < n], n]
    out = []
    for i in range(1, len(bounds) - 1):
        a, b = x[bounds[i - 1] : bounds[i]], x[bounds[i] : bounds[i + 1]]
        ma, mb = float(np.median(a)), float(np.median(b))
        se = sigma * math.sqrt(1.0 / len(a) + 1.0 / len(b))
        if abs(mb - ma) > max(Z * se, math.log1p(MIN_RELATIVE)):
            out.append(Change(bounds[i], math.exp(ma), math.exp(mb)))
    return out
