"""Cost of a phase mark: ic.phase / ic.mark against the same step without them.

Run: python benchmarks/phase_overhead.py   (prints a markdown table; variants interleaved)

Each step runs K phases (a loop over K entries, the same loop in the bare step). Inside
ic.measure a mark records a span; outside it (timeit) it is a no-op. Per round, cost per mark
= (median step with marks - median bare step) / K and the ratio of the two medians; the
table gives the median over ROUNDS interleaved rounds. A numpy MLP training step with 5
phases shows that cost against real work: one measure alternates the step with and without
its phases call by call (the same arrays), so drift hits both alike.
Goal: a few tens of ns per mark (issue 14).
"""

from __future__ import annotations

import statistics
import sys
import timeit
from collections.abc import Callable

import numpy as np

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from _common import loadavg, machine, table, today

import inferclock as ic

ROUNDS = 7
K = 10  # phases per step
N_STEPS = 20_000  # timed steps per variant and round (ic.measure)
N_UNTIMED = 20_000  # steps per variant and round (timeit, no measure running)
NAMES = tuple(f"p{i}" for i in range(K))
PHASES = tuple(ic.phase(n) for n in NAMES)


def bare() -> None:
    for _ in PHASES:
        pass


def with_hoisted() -> None:
    for p in PHASES:
        with p:
            pass


def with_lookup() -> None:
    for n in NAMES:
        with ic.phase(n):
            pass


def marks() -> None:
    for n in NAMES:
        ic.mark(n)


VARIANTS: dict[str, Callable[[], None]] = {
    "with P: (hoisted Phase object)": with_hoisted,
    'with ic.phase("name"):': with_lookup,
    'ic.mark("name")': marks,
}


def mlp(batch: int = 64) -> tuple[Callable[[], None], Callable[[], None]]:
    """A two-layer MLP's SGD step in numpy (backward by hand): with 5 phases, and without."""
    rng = np.random.default_rng(0)
    x_all = rng.standard_normal((2048, 32))
    y_all = rng.integers(0, 8, 2048)
    w1, w2 = rng.standard_normal((32, 64)) * 0.2, rng.standard_normal((64, 8)) * 0.2
    rows = np.arange(batch)
    st: dict[str, np.ndarray] = {}  # arrays passed from phase to phase

    def data() -> None:
        idx = rng.integers(0, 2048, batch)
        st["x"], st["y"] = x_all[idx], y_all[idx]

    def forward() -> None:
        st["h"] = st["x"] @ w1
        st["a"] = np.maximum(st["h"], 0.0)
        st["z"] = st["a"] @ w2

    def loss() -> None:
        e = np.exp(st["z"] - st["z"].max(axis=1, keepdims=True))
        st["p"] = e / e.sum(axis=1, keepdims=True)

    def backward() -> None:
        g = st["p"]
        g[rows, st["y"]] -= 1.0
        st["dw2"] = st["a"].T @ g
        st["dw1"] = st["x"].T @ ((g @ w2.T) * (st["h"] > 0))

    def optimizer() -> None:
        np.subtract(w1, 0.01 * st["dw1"], out=w1)
        np.subtract(w2, 0.01 * st["dw2"], out=w2)

    parts = (data, forward, loss, backward, optimizer)
    pairs = tuple(zip((ic.phase(f.__name__) for f in parts), parts, strict=True))

    def step_phased() -> None:
        for p, f in pairs:
            with p:
                f()

    def step_bare() -> None:
        for _, f in pairs:
            f()

    return step_phased, step_bare


def alternating(a: Callable[[], None], b: Callable[[], None]) -> Callable[[], None]:
    """A step that calls a, then b, then a... (the first call is a)."""
    flip = [False]

    def step() -> None:
        flip[0] = not flip[0]
        (a if flip[0] else b)()

    return step


def timed_ns(fn: Callable[[], None], n: int) -> float:
    return ic.measure(fn, warmup=2000, iterations=n).stats.median_ns


def untimed_ns(fn: Callable[[], None], n: int) -> float:
    return timeit.Timer(fn).timeit(n) / n * 1e9


def main() -> None:
    load_before = loadavg()
    alternate = alternating(*mlp())
    res: dict[tuple[str, str], list[float]] = {}
    for r in range(ROUNDS):  # interleaved, the order turned each round
        order = ["bare", *VARIANTS]
        order = order[r % len(order) :] + order[: r % len(order)]
        for name in order:
            fn = bare if name == "bare" else VARIANTS[name]
            res.setdefault(("in", name), []).append(timed_ns(fn, N_STEPS))
            res.setdefault(("out", name), []).append(untimed_ns(fn, N_UNTIMED))
        # An even warm-up: timed calls 0, 2, 4... are the phased ones.
        x = ic.measure(alternate, warmup=2000, iterations=6000).samples_ns
        res.setdefault(("in", "mlp phased"), []).append(float(np.median(x[0::2])))
        res.setdefault(("in", "mlp bare"), []).append(float(np.median(x[1::2])))
    med = {k: statistics.median(v) for k, v in res.items()}

    def per_round(where: str, name: str, base: str, k: int) -> tuple[float, float]:
        """Median over rounds of (variant - base) / k and of variant / base, round by round."""
        pairs = list(zip(res[(where, name)], res[(where, base)], strict=True))
        return (
            statistics.median((v - b) / k for v, b in pairs),
            statistics.median(v / b for v, b in pairs),
        )

    print(f"# phase_overhead ({today()})\n\nMachine: {machine()}")
    print(f"Load average before: {load_before}, after: {loadavg()}\n")
    print(f"Step: a loop over K={K} phases; median step time of {ROUNDS} interleaved rounds.\n")
    rows = []
    for where, title in (("in", "inside ic.measure (recorded)"), ("out", "outside (no-op)")):
        base = med[(where, "bare")]
        rows.append([title, "bare loop (no marks)", f"{base:.0f}", "", "1.00"])
        for name in VARIANTS:
            cost, ratio = per_round(where, name, "bare", K)
            rows.append(["", name, f"{med[(where, name)]:.0f}", f"{cost:.1f}", f"{ratio:.2f}"])
    head = ["where", "step", "ns per step", "ns per mark (per round)", "ratio to bare (per round)"]
    print(table(head, rows))
    b, p = med[("in", "mlp bare")], med[("in", "mlp phased")]
    cost, ratio = per_round("in", "mlp phased", "mlp bare", 5)
    print(
        f"\nnumpy MLP SGD step, batch 64, 5 phases (with P:): bare {b / 1e3:.2f} us, phased "
        f"{p / 1e3:.2f} us (medians); per round: {cost:.0f} ns per phase, "
        f"{ratio - 1:+.1%} of the step (medians over rounds)"
    )


if __name__ == "__main__":
    main()
