"""A sweep on a Dask cluster, the client side: connect to the scheduler, find the hosts, check
them, ship the models, and run each unit of the sweep as a Dask task, handing its outcomes
back as it finishes.

A *host* is one Dask worker that owns its machine, started with ``--nworkers 1 --nthreads 1
--resources inferclock=1``; every unit is a task needing ``{"inferclock": 1}``, so a host
runs one cell at a time (two would disturb each other's timings). Its label is the worker's
name when it was given one (``--name``), else its machine's hostname. ``spread`` lets the
scheduler place each unit on any host (and move it to another when its host dies);
``every_host`` pins a copy of each unit to each host. The host side is ``_sweeps.cluster_task``.

A unit whose host is lost mid-cell runs again once: ``spread`` on another host (Dask
reschedules it), ``every_host`` on the same host when its worker comes back (resubmitted
here under its new address). A unit whose host stays away for ``HOST_WAIT_S`` becomes an
error row. Ctrl-C: the first lets running cells finish and skips the rest, a second (or
SIGTERM) stops running cells at once.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from inferclock._common.errors import ConfigError, WorkerCrash
from inferclock._sweeps import grid as _grid
from inferclock._sweeps.cluster_task import Int8Plan, UnitTask, blob_of, host_facts, run_unit
from inferclock._sweeps.options import is_dask_client

if TYPE_CHECKING:
    from inferclock._sweeps.progress import Progress
    from inferclock._timing.modelinfo import ModelFacts
    from inferclock._workers.supervisor import CtrlC

RESOURCE = "inferclock"
#: How long we wait for a scheduler to answer, and for a first worker to join.
CONNECT_TIMEOUT_S = 10.0
#: How long a unit waits for its lost host (``spread``: for any host) before it is an error.
HOST_WAIT_S = 120.0
#: How often the host list is read while units run, and finished units looked for.
_WATCH_S = 1.0
_POLL_S = 0.1
INSTALL_HINT = "sweeps on a cluster need Dask distributed: pip install 'inferclock[cluster]'"


def worker_command(address: str) -> str:
    return f"dask worker {address} --nworkers 1 --nthreads 1 --resources {RESOURCE}=1"


@dataclass(frozen=True)
class Host:
    label: str
    address: str
    hostname: str


@dataclass
class Job:
    """A unit of the sweep and the hosts it may run on (None: any host of the cluster)."""

    unit: _grid.Unit
    host: Host | None  # every_host: its host
    task: UnitTask
    labels: tuple[str, ...] | None  # the hosts it may run on, by label
    blob: Any = None  # the shipped model's future
    addresses: list[str] | None = None  # the workers it was last submitted to
    away_since: float | None = field(default=None, compare=False)


class Cluster:
    """A connection to a Dask scheduler for one sweep."""

    def __init__(self, cluster: Any) -> None:
        try:
            from distributed import Client
        except ImportError:
            raise ConfigError(INSTALL_HINT) from None
        self.sweep_id = uuid.uuid4().hex[:12]
        self._labels: dict[str, Host] = {}
        self.fingerprints: dict[str, dict[str, Any]] = {}  # host label -> its environment
        if is_dask_client(cluster):
            self.client, self._own = cluster, False
        else:
            try:
                self.client = Client(cluster, timeout=CONNECT_TIMEOUT_S, set_as_default=False)
            except (OSError, TimeoutError, ValueError) as e:
                raise ConfigError(
                    f"cluster {cluster!r}: no Dask scheduler answered within "
                    f"{CONNECT_TIMEOUT_S:g} s ({e}); start one with `dask scheduler` and give "
                    "its address (tcp://host:8786)"
                ) from None
            self._own = True
        self.address = str(self.client.scheduler.address)

    def close(self) -> None:
        if self._own:
            self.client.close()

    def _workers(self) -> dict[str, dict[str, Any]]:
        info: dict[str, dict[str, Any]] = self.client.scheduler_info(n_workers=-1)["workers"]
        return info

    def hosts(self, wanted: Sequence[str] | None) -> list[Host]:
        """The hosts (workers offering the resource), labelled; ``wanted`` filters them."""
        workers = self._workers()
        if not workers:
            try:
                self.client.wait_for_workers(1, timeout=CONNECT_TIMEOUT_S)
            except (OSError, TimeoutError):
                raise ConfigError(
                    f"cluster {self.address}: no Dask worker joined within "
                    f"{CONNECT_TIMEOUT_S:g} s; start one on each host: "
                    f"{worker_command(self.address)}"
                ) from None
            workers = self._workers()
        ours = {a: w for a, w in workers.items() if (w.get("resources") or {}).get(RESOURCE)}
        if not ours:
            raise ConfigError(
                f"cluster {self.address}: none of its {len(workers)} worker(s) offers the "
                f"{RESOURCE!r} resource: start each with --resources {RESOURCE}=1 (one worker "
                f"per host: {worker_command(self.address)})"
            )
        for a, w in ours.items():
            if w["resources"][RESOURCE] != 1:  # it would run cells side by side
                raise ConfigError(
                    f"cluster {self.address}: worker {a} offers {RESOURCE}="
                    f"{w['resources'][RESOURCE]}; two cells on one host would disturb each "
                    f"other: start it with --resources {RESOURCE}=1"
                )
        hosts = self._label(ours)
        if wanted is None:
            return hosts
        chosen = []
        for name in wanted:
            match = [h for h in hosts if name in (h.label, h.hostname, h.address)]
            if not match:
                listing = ", ".join(f"{h.label} ({h.address})" for h in hosts)
                raise ConfigError(f"hosts: no host {name!r} in the cluster; its hosts: {listing}")
            chosen += [h for h in match if h not in chosen]
        return chosen

    def _label(self, workers: Mapping[str, Mapping[str, Any]]) -> list[Host]:
        new = [a for a in workers if a not in self._labels]
        if new:
            facts = self.client.run(host_facts, {}, workers=new, on_error="return")
            for a in new:
                f = facts.get(a)
                if not isinstance(f, dict):
                    continue  # it left, or is still starting: labelled on a later look
                name = workers[a].get("name")
                label = str(name) if name is not None and str(name) != a else f["hostname"]
                self._labels[a] = Host(label, a, f["hostname"])
        hosts = [self._labels[a] for a in workers if a in self._labels]
        seen: dict[str, Host] = {}
        for h in hosts:
            if h.label in seen:
                raise ConfigError(
                    f"cluster {self.address}: two workers are both host {h.label!r} "
                    f"({seen[h.label].address} and {h.address}); one worker per host, or give "
                    "each a name: dask worker ... --name NAME"
                )
            seen[h.label] = h
        return sorted(hosts, key=lambda h: h.label)

    def label_of(self, address: str | None) -> str | None:
        """The label of the host at ``address`` (None: it left before it was labelled)."""
        if address is not None and address not in self._labels:
            workers = self._workers()
            if address in workers:
                try:
                    self._label({address: workers[address]})
                except ConfigError:
                    pass
        host = self._labels.get(address or "")
        return host.label if host else None

    def check(
        self, hosts: Sequence[Host], facts: Sequence[ModelFacts], ship: bool,
        devices: Sequence[str],
    ) -> None:  # fmt: skip
        """Refuse hosts that run another inferclock, lack a device, or (models not shipped)
        lack a model."""
        from inferclock._platform.environment import collect_versions

        mine = collect_versions().get("inferclock")
        paths = {} if ship else {f.path: f.sha256 for f in facts if not is_builtin(f)}
        got = self.client.run(host_facts, paths, devices, workers=[h.address for h in hosts])
        for h in hosts:
            f = got[h.address]
            if f.get("inferclock") != mine or "environment" not in f:
                raise ConfigError(
                    f"host {h.label} runs inferclock {f.get('inferclock')} (or another build "
                    f"of it), this client {mine}: install the same version on every host"
                )
            self.fingerprints[h.label] = f["environment"]
            if f["device_error"]:
                raise ConfigError(f"host {h.label} ({h.hostname}): {f['device_error']}")
            for p in f["missing"]:
                raise ConfigError(
                    f"model {p!r} does not exist on host {h.label} ({h.hostname}); make the "
                    "path visible on every host, or let the sweep ship the files "
                    "(ship_models=True, the default; CLI: drop --no-ship-models)"
                )
            for p in f["differ"]:
                raise ConfigError(
                    f"model {p!r} on host {h.label} ({h.hostname}) is not the file this client "
                    "has (their sha256 differ); ship it (ship_models=True) or copy it there"
                )

    def ship(self, facts: Iterable[ModelFacts], hosts: Sequence[Host]) -> dict[str, Any]:
        """A future per model name holding its files, sent to every host once."""
        from inferclock._timing.int8 import model_sha256

        out: dict[str, Any] = {}
        for f in facts:
            if is_builtin(f):  # built on each host instead
                continue
            blob = blob_of(f.path, f.sha256 or model_sha256(f.path))
            out[f.name] = self.client.scatter(
                blob, workers=[h.address for h in hosts], broadcast=True, hash=False
            )
        return out

    def task(self, unit: _grid.Unit, host: Host | None, int8: Int8Plan | None,
             host_cache: bool, builtin: bool) -> UnitTask:  # fmt: skip
        where = host.label if host else "*"
        uid = f"{unit.cell.key}|p{unit.process}|{where}"
        name = unit.spec.model.name if builtin else None
        return UnitTask(self.sweep_id, uid, unit.spec, len(unit.repeats), int8, host_cache, name)

    def _submit(self, job: Job, addresses: list[str] | None) -> Any:
        job.addresses = addresses
        return self.client.submit(
            run_unit,
            job.task,
            job.blob,
            resources={RESOURCE: 1},
            workers=addresses,
            allow_other_workers=False,
            pure=False,
            retries=0,
        )

    def _flag(self, name: str) -> None:
        self.client.set_metadata(["inferclock", self.sweep_id, name], True)

    def run(
        self,
        jobs: Sequence[Job],
        on_result: Callable[[Job, dict[str, Any]], None],
        ctrl_c: CtrlC,
        progress: Progress,
    ) -> None:
        """Submit every job and pass each one's result to ``on_result`` as it finishes."""
        from distributed import as_completed

        at = {h.label: h.address for h in self._labels.values()}
        futures = {
            self._submit(j, None if j.labels is None else [at[x] for x in j.labels]): j
            for j in jobs
        }
        arrived = as_completed(list(futures), loop=self.client.loop)
        draining, last_watch = False, time.monotonic()
        try:
            while futures:
                done = [f for f in arrived.next_batch(block=False) if f in futures]
                for f in done:
                    on_result(futures.pop(f), _result(f))
                if not done:
                    time.sleep(_POLL_S)
                if ctrl_c.count >= 2:
                    raise KeyboardInterrupt("stopped by a second Ctrl-C")
                if ctrl_c.count and not draining:
                    draining = True
                    self._flag("draining")
                    progress.note(
                        "Ctrl-C: running cells finish, the rest are skipped (press Ctrl-C "
                        "again to stop at once)"
                    )
                if time.monotonic() - last_watch > _WATCH_S:
                    last_watch = time.monotonic()
                    for f in self._watch(futures, on_result):
                        arrived.add(f)
        finally:
            if futures:
                self._flag("stop")
                self.client.cancel(list(futures))

    def _watch(self, futures: dict[Any, Job], on_result: Callable[..., None]) -> list[Any]:
        """Resubmit units whose host came back under a new address; give up on those whose
        host (spread: every host) has been away for HOST_WAIT_S."""
        workers = self._workers()
        ours = {a: w for a, w in workers.items() if (w.get("resources") or {}).get(RESOURCE)}
        try:
            by_label = {h.label: h.address for h in self._label(ours)}
        except ConfigError:
            by_label = {}
        now, resubmitted = time.monotonic(), []
        for f, job in list(futures.items()):
            if job.labels is None:  # anywhere: the scheduler moves it
                here = bool(ours)
            else:
                alive = [a for a in job.addresses or () if a in ours]
                eligible = [by_label[x] for x in job.labels if x in by_label]
                if not alive and eligible:  # its host(s) came back under new addresses
                    f.cancel()
                    del futures[f]
                    again = self._submit(job, eligible)
                    futures[again] = job
                    resubmitted.append(again)
                here = bool(eligible)
            job.away_since = None if here else (job.away_since or now)
            if job.away_since is not None and now - job.away_since > HOST_WAIT_S:
                f.cancel()
                futures.pop(f, None)
                who = f"host {job.host.label}" if job.host else "every host it may use"
                lost = WorkerCrash(
                    f"{who} left the cluster and none came back within {HOST_WAIT_S:g} s",
                    "host lost",
                )
                on_result(job, {"error": lost})
        return resubmitted


def is_builtin(facts: ModelFacts) -> bool:
    """A built-in model (``ic.models``): each host builds it (cached there), not shipped."""
    from pathlib import Path

    from inferclock import models

    return facts.name in models.list() and Path(facts.path) == models.path(facts.name)


def _result(future: Any) -> dict[str, Any]:
    """A finished task's result, or its failure as an error (KilledWorker, a lost model...)."""
    if future.status == "finished":
        got: dict[str, Any] = future.result()
        return got
    if future.status == "cancelled":
        return {"error": WorkerCrash("the cell's task was cancelled on the cluster", "cancelled")}
    e = future.exception()
    kind = "host lost" if type(e).__name__ == "KilledWorker" else type(e).__name__
    return {"error": WorkerCrash(f"the cell's task failed on the cluster: {e}", kind)}
