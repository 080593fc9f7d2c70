"""A sweep's units on a Dask cluster: which hosts take part, what the results file records
about them, which (cell, host) runs a resume may skip, and the run itself, each finished
unit's rows written as it comes back (``_sweeps.cluster`` talks to Dask; ``_sweeps.runner`` writes).

``spread``: each unit once, on any host, skipping runs the file holds from any host.
``every_host``: each unit on each host, skipping (cell, host) runs the file holds.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from inferclock._sweeps import grid as _grid
from inferclock._sweeps.cluster import Cluster, Host, Job, is_builtin
from inferclock._sweeps.cluster_task import Int8Plan
from inferclock._timing import rows as _rows

if TYPE_CHECKING:
    from inferclock._sweeps.options import SweepOptions
    from inferclock._sweeps.progress import Progress
    from inferclock._sweeps.runner import Runner
    from inferclock._timing.modelinfo import ModelBook, ModelFacts
    from inferclock._timing.options import RunOptions
    from inferclock._workers.supervisor import CtrlC


class ClusterSweep:
    """The cluster side of one sweep: its hosts, chosen and checked before any work."""

    def __init__(self, cluster: Cluster, sw: SweepOptions) -> None:
        self.cluster, self.sw = cluster, sw
        self.hosts: list[Host] = []

    def prepare(self, facts: Sequence[ModelFacts], devices: Sequence[str]) -> None:
        self.hosts = self.cluster.hosts(self.sw.hosts)
        self.cluster.check(self.hosts, facts, self.sw.ship_models, devices)

    def describe(self) -> dict[str, Any]:
        """What the results file's header records of the cluster."""
        return {
            "address": self.cluster.address,
            "placement": self.sw.placement,
            "hosts": [h.label for h in self.hosts],
            "ship_models": self.sw.ship_models,
            # Each host's machine fingerprint (rows carry its id, ``host``).
            "fingerprints": {h.label: self.cluster.fingerprints.get(h.label) for h in self.hosts},
        }

    def places(self) -> list[Host | None]:
        """Where units go: every host (``every_host``), or anywhere (None)."""
        return list(self.hosts) if self.sw.placement == "every_host" else [None]

    def pending(
        self, grid: Sequence[_grid.Cell], processes: int, earlier: Sequence[Mapping[str, Any]]
    ) -> dict[str | None, dict[str, list[tuple[int, tuple[int, ...]]]]]:
        """Per place (a host label, or None: anywhere): the runs left of every cell."""
        return {
            (h.label if h else None): _grid.pending(
                grid, processes, self.sw.repeats, _rows.done_runs(earlier, h.label if h else None)
            )
            for h in self.places()
        }

    def run(
        self,
        units: Mapping[str | None, Sequence[_grid.Unit]],
        int8: Mapping[str, Int8Plan],
        facts: Mapping[str, ModelFacts],
        host_cache: bool,
        runner: Runner,
        ctrl_c: CtrlC,
        progress: Progress,
    ) -> None:
        """Every unit on its host(s); each one's rows written as it finishes."""
        by_label = {h.label: h for h in self.hosts}
        used = {u.cell.model for us in units.values() for u in us}
        builtins = {m for m in used if is_builtin(facts[m])}
        used -= builtins
        blobs: dict[str, Any] = {}
        if self.sw.ship_models and used:
            progress.note(f"sending {len(used)} model(s) to {len(self.hosts)} host(s)")
            blobs = self.cluster.ship([facts[m] for m in sorted(used)], self.hosts)
        jobs = []
        chosen = None if self.sw.hosts is None else tuple(by_label)
        for label, us in units.items():
            host = by_label[label] if label is not None else None
            for u in us:
                task = self.cluster.task(
                    u, host, int8.get(u.cell.key), host_cache, u.cell.model in builtins
                )
                labels = (host.label,) if host else chosen
                jobs.append(Job(u, host, task, labels, blobs.get(u.cell.model)))
        running = ", ".join(h.label for h in self.hosts)
        progress.running(f"{len(jobs)} unit(s) on {len(self.hosts)} host(s): {running}")

        def finished(job: Job, done: dict[str, Any]) -> None:
            label = job.host.label if job.host else self.cluster.label_of(done.get("dask_worker"))
            runner.record(job.unit, label, done)

        self.cluster.run(jobs, finished, ctrl_c, progress)


def int8_plan(
    cell: _grid.Cell, opts: RunOptions, book: ModelBook, facts: ModelFacts
) -> Int8Plan | None:
    """How a host quantizes the cell's model (None: not an int8 cell, or quantized already)."""
    if cell.precision != "int8" or facts.quantized:
        return None
    shapes = book.shapes_for(facts, opts.shapes, 1) or None
    calibration = tuple(opts.calibration) if opts.calibration is not None else None
    return Int8Plan(calibration, opts.seed, dict(shapes) if shapes else None)


@contextmanager
def connected(sw: SweepOptions) -> Iterator[ClusterSweep | None]:
    """The sweep's cluster while it runs (None for a local sweep)."""
    if sw.cluster is None:
        yield None
        return
    cluster = Cluster(sw.cluster)
    try:
        yield ClusterSweep(cluster, sw)
    finally:
        cluster.close()
