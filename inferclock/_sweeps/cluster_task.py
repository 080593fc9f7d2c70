"""What runs on a cluster host, inside its Dask worker: the host's facts (checked by the
client before any cell), a shipped model written once into the host's cache by sha256, int8
quantization once per host and model (cached there), and one unit of a sweep: a cell's runs
in one fresh, pinned worker process under the same supervisor as a local sweep, so a cell on
a remote host is measured exactly as a local one.

Attempts and stops go through the scheduler's metadata store (``Client.set_metadata``),
keyed by the sweep's id: a unit started a third time (its host was lost twice) gives up at
once; a unit whose sweep is draining (a first Ctrl-C) is skipped before it starts; a stop (a
second Ctrl-C, SIGTERM) kills the cell's worker process at once.
"""

from __future__ import annotations

import dataclasses
import os
import socket
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from inferclock._common.errors import ConfigError, ModelError, WorkerCrash
from inferclock._common.util import utc_now
from inferclock._workers.supervisor import CtrlC

if TYPE_CHECKING:
    from inferclock._timing.engine import RunSpec

#: How often a running unit looks at its sweep's stop flag.
_STOP_POLL_S = 0.5
#: Starts of one unit after which it gives up: the first run and one retry.
MAX_ATTEMPTS = 2


@dataclass(frozen=True)
class ModelBlob:
    """A model's files, sent to the hosts: ``entry`` is the file OpenVINO reads."""

    sha256: str
    entry: str
    files: tuple[tuple[str, bytes], ...]


@dataclass(frozen=True)
class Int8Plan:
    """How a host quantizes a model for int8 cells (as ``ModelBook.int8`` does locally)."""

    calibration: tuple[Any, ...] | None
    seed: int
    shapes: dict[str, tuple[int, ...]] | None


@dataclass(frozen=True)
class UnitTask:
    """One unit of a sweep (a cell's runs in one worker process), as a host runs it."""

    sweep_id: str
    unit_id: str  # the same over every attempt and resubmission
    spec: RunSpec
    repeats: int
    int8: Int8Plan | None = None
    host_cache: bool = True  # OpenVINO's model cache goes under the host's cache folder
    builtin: str | None = None  # a built-in model's name: the host builds it (cached there)


def blob_of(path: str | os.PathLike[str], sha256: str) -> ModelBlob:
    """The files of the model at ``path`` (an IR's .xml and .bin, a directory's files)."""
    from inferclock._timing.int8 import _model_files

    p = Path(path)
    root = p if p.is_dir() else p.parent
    files = tuple((f.relative_to(root).as_posix(), f.read_bytes()) for f in _model_files(p))
    entry = "." if p.is_dir() else p.name
    return ModelBlob(sha256, entry, files)


def _models_dir() -> Path:
    from inferclock._timing.int8 import cache_root

    return cache_root() / "shipped"


def stash(blob: ModelBlob) -> str:
    """The host's path of a shipped model, written into its cache once (by sha256 and name;
    another host sharing the cache folder may write it at the same moment)."""
    import shutil
    import tempfile

    # By content and name: two copies of one model under two names are two folders (an IR's
    # .xml finds its .bin by its own stem).
    final = _models_dir() / blob.sha256[:32] / (Path(blob.entry).stem or "model")
    entry = final / blob.entry
    if entry.exists():
        return str(entry)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".stash-", dir=final.parent))
    try:
        for name, data in blob.files:
            target = tmp / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        try:
            os.rename(tmp, final)  # a complete copy appears at once, or another did first
        except OSError:
            if not entry.exists():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return str(entry)


def host_facts(models: Mapping[str, str | None], devices: Sequence[str] = ()) -> dict[str, Any]:
    """This host's name, fingerprint, versions and cache folder; which of ``models`` ({path:
    sha256}) it lacks or holds with other contents (for sweeps whose models are not shipped);
    and why it cannot run ``devices``, if it cannot."""
    from inferclock._platform.environment import collect_versions, environment
    from inferclock._timing.int8 import cache_root, model_sha256

    missing, differ = [], []
    for path, sha in models.items():
        if not Path(path).exists():
            missing.append(path)
        elif sha is not None and model_sha256(path) != sha:
            differ.append(path)
    versions = collect_versions()
    device_error = None
    if devices:
        from inferclock._platform import plugins as _plugins

        try:
            _plugins.check_devices(list(devices))
        except Exception as e:
            device_error = str(e)
    return {
        "device_error": device_error,
        "environment": environment(),
        "hostname": socket.gethostname(),
        "inferclock": versions.get("inferclock"),
        "openvino": versions.get("openvino"),
        "cache": str(cache_root()),
        "missing": missing,
        "differ": differ,
    }


def _quantized(spec: RunSpec, plan: Int8Plan) -> RunSpec:
    """``spec`` on this host's int8 version of its model (NNCF, cached on the host)."""
    from inferclock._timing.int8 import quantize
    from inferclock._timing.modelinfo import ModelFacts, file_sha256

    path = quantize(
        spec.model.path,
        calibration=plan.calibration,
        seed=plan.seed,
        shapes=plan.shapes,
        batch_size=1,
    )
    facts = ModelFacts(
        name=spec.model.name,
        path=str(path),
        sha256=file_sha256(Path(path)),
        input_names=spec.model.input_names,
        quantized=True,
    )
    return dataclasses.replace(spec, model=facts)


def _meta(task: UnitTask, *name: str) -> list[str]:
    return ["inferclock", task.sweep_id, *name]


class _Stop(CtrlC):
    """What the supervisor reads as Ctrl-C presses: 2 once the sweep's stop flag is set."""

    def __init__(self, client: Any, key: list[str]) -> None:
        super().__init__()
        self._done = threading.Event()
        self._client, self._key = client, key
        threading.Thread(target=self._watch, name="inferclock-stop-watch", daemon=True).start()

    def _watch(self) -> None:
        while not self._done.wait(_STOP_POLL_S):
            try:
                if self._client.get_metadata(self._key, default=False):
                    self.count = 2  # the supervisor kills the worker at once
                    return
            except Exception:
                pass

    def close(self) -> None:
        self._done.set()


def run_unit(task: UnitTask, blob: ModelBlob | None = None) -> dict[str, Any]:
    """Run a sweep's unit on this host: its outcomes (as the local supervisor yields them),
    where and when it ran, and which attempt it was. ``blob``: the shipped model."""
    from distributed import get_client, get_worker

    from inferclock._platform.environment import environment
    from inferclock._workers.supervisor import supervise

    client = get_client()
    worker = get_worker()
    where = {"dask_worker": worker.address, "hostname": socket.gethostname()}
    if client.get_metadata(_meta(task, "draining"), default=False):
        return {**where, "skipped": True}
    attempts_key = _meta(task, "attempts", task.unit_id)
    attempt = int(client.get_metadata(attempts_key, default=0)) + 1
    client.set_metadata(attempts_key, attempt)
    if attempt > MAX_ATTEMPTS:
        lost = WorkerCrash(
            f"the host running this cell was lost {attempt - 1} times (its Dask worker died "
            "mid-cell); the cell was tried on another host and is not retried again",
            "host lost",
        )
        return {**where, "attempt": attempt, "error": lost}
    started = utc_now()
    spec = task.spec
    try:
        if task.builtin is not None:
            from inferclock import models
            from inferclock._timing.modelinfo import file_sha256

            built = models.path(task.builtin)
            facts = dataclasses.replace(spec.model, path=str(built), sha256=file_sha256(built))
            spec = dataclasses.replace(spec, model=facts)
        elif blob is not None:
            shipped = dataclasses.replace(spec.model, path=stash(blob))
            spec = dataclasses.replace(spec, model=shipped)
        elif not Path(spec.model.path).exists():
            raise ModelError(
                f"model {spec.model.path!r} does not exist on host {where['hostname']} "
                "(the sweep does not ship models: pass ship_models=True, or make the path "
                "visible on every host)"
            )
        if task.int8 is not None:
            spec = _quantized(spec, task.int8)
        if task.host_cache:
            from inferclock._timing.int8 import cache_root

            cache = str(cache_root() / "ovcache")
            spec = dataclasses.replace(
                spec, cache_dir=cache, requested={**spec.requested, "cache_dir": cache}
            )
        spec = dataclasses.replace(spec, env=environment())
    except (ConfigError, ModelError, OSError, RuntimeError) as e:
        return {**where, "attempt": attempt, "error": e, "task_started_at": started}
    stop = _Stop(client, _meta(task, "stop"))
    outcomes: list[Any] = []
    try:
        for outcome in supervise(
            spec,
            repeats=task.repeats,
            timeout=spec.options.effective_timeout(),
            ctrl_c=stop,
            on_ctrl_c="finish",
        ):
            outcomes.append(outcome)
    except KeyboardInterrupt:
        return {**where, "attempt": attempt, "stopped": True, "outcomes": outcomes}
    finally:
        stop.close()
    return {
        **where,
        "attempt": attempt,
        "outcomes": outcomes,
        "env": spec.env,
        "task_started_at": started,
        "task_finished_at": utc_now(),
    }


__all__: Sequence[str] = (
    "MAX_ATTEMPTS",
    "Int8Plan",
    "ModelBlob",
    "UnitTask",
    "blob_of",
    "host_facts",
    "run_unit",
    "stash",
)
