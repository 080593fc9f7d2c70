"""The LoadGen backend's arguments from ``ic.run`` and ``inferclock loadgen``: the scenario, the
backend, LoadGen's test mode and logs folder, and which run options apply, checked before
anything runs (``_workers.run.run_loadgen`` then resolves the model and runs the spec)."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from inferclock._common.errors import ConfigError
from inferclock._timing.loadgen_log import (
    SCENARIO_MODES,
    check_backend,
    check_loadgen_mode,
    check_scenario,
)
from inferclock._timing.options import RunOptions, check_value
from inferclock._workers.loadgen_backend import require_loadgen

#: The options LoadGen's settings take instead of inferclock's schedule (held by the spec).
_OPEN = ("qps", "queries", "arrival", "latency_bound_ms", "percentile")


def default_log_dir(scenario: str, base: str | os.PathLike[str] = "mlperf_logs") -> Path:
    """A new folder under ``base`` for one run's LoadGen logs: ``<scenario>-<UTC time>``."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    path = Path(base) / f"{scenario}-{stamp}"
    k = 1
    while path.exists():
        k += 1
        path = Path(base) / f"{scenario}-{stamp}-{k}"
    return path.resolve()


def check_args(
    backend: Any, scenario: Any, loadgen_mode: Any, loadgen_logs: Any
) -> tuple[str, str, str | None]:
    """The backend's own arguments, checked: (scenario, loadgen_mode, logs folder or None)."""
    check_backend(backend)
    if backend == "inferclock":
        raise ConfigError(
            "scenario applies to backend 'loadgen' (MLPerf LoadGen drives the run); with "
            "inferclock's own loops give mode= instead"
        )
    if scenario is None:
        raise ConfigError(
            "backend 'loadgen' needs scenario: server, offline, singlestream or multistream"
        )
    sc = check_scenario(scenario)
    mode = check_loadgen_mode(loadgen_mode, sc)
    if loadgen_logs is not None and not isinstance(loadgen_logs, (str, os.PathLike)):
        raise ConfigError(f"loadgen_logs must be a folder path, not {loadgen_logs!r}")
    logs = None if loadgen_logs is None else os.fspath(loadgen_logs)
    if logs is not None and Path(logs).exists() and not Path(logs).is_dir():
        raise ConfigError(f"loadgen_logs {logs!r} exists and is not a folder")
    return sc, mode, logs


def _check_open(sc: str, given: dict[str, Any]) -> dict[str, Any]:
    """qps / queries / latency_bound_ms / percentile / arrival, each checked as its
    declaration says, then against the scenario."""
    v = {k: check_value(k, given[k]) for k in _OPEN if k in given}
    if sc == "server" and v.get("qps") is None:
        raise ConfigError("scenario 'server' needs qps: LoadGen's target queries per second")
    if sc in ("singlestream", "multistream") and v.get("qps") is not None:
        raise ConfigError(
            f"qps does not apply to scenario {sc!r}: LoadGen issues each query when the "
            "previous one completes"
        )
    if sc != "server" and v.get("latency_bound_ms") is not None:
        raise ConfigError(
            f"latency_bound_ms applies to scenario 'server' (LoadGen's target latency), not {sc!r}"
        )
    if v.get("arrival") not in (None, "poisson") or (v.get("arrival") and sc != "server"):
        raise ConfigError(
            "arrival does not apply with backend 'loadgen': LoadGen's Server queries arrive as "
            "a Poisson process, the other scenarios' on completion"
        )
    return v


def plan(
    given: dict[str, Any],
    *,
    backend: Any,
    scenario: Any,
    loadgen_mode: Any = "performance",
    loadgen_logs: Any = None,
    completion: str = "auto",
) -> tuple[RunOptions, dict[str, Any]]:
    """``ic.run``'s arguments for backend "loadgen", checked: the run options of the engine
    (``_workers.run`` resolves the model with them) and the ``LoadgenSpec`` fields."""
    sc, mode, logs = check_args(backend, scenario, loadgen_mode, loadgen_logs)
    if given.get("mode", "latency") not in ("latency", SCENARIO_MODES[sc]):
        raise ConfigError(
            f"mode does not apply with backend 'loadgen': scenario {sc!r} sets it "
            f"({SCENARIO_MODES[sc]!r}); leave mode out"
        )
    if given.get("iterations") is not None:
        raise ConfigError(
            "iterations does not apply with backend 'loadgen': give duration (LoadGen's minimum "
            "duration) or queries (its minimum query count)"
        )
    if given.get("processes", 1) != 1:
        raise ConfigError("processes must be 1 with backend 'loadgen': LoadGen judges one run")
    if given.get("warmup", "auto") != "auto":
        raise ConfigError(
            "warmup does not apply with backend 'loadgen': every infer request runs once, "
            "untimed, before LoadGen starts"
        )
    open_args = _check_open(sc, given)
    require_loadgen()
    # The engine's set-up (hint, requests) is the closed loop's of the same kind: server and
    # offline as throughput, singlestream and multistream as latency (one request).
    closed = "throughput" if sc in ("server", "offline") else "latency"
    rest = {k: v for k, v in given.items() if k not in _OPEN and k != "mode"}
    opts = RunOptions(**rest, mode=closed)
    fields = {
        "scenario": sc,
        "loadgen_mode": mode,
        "log_dir": str(Path(logs).resolve()) if logs else str(default_log_dir(sc)),
        "qps": open_args.get("qps"),
        "latency_bound_ms": open_args.get("latency_bound_ms"),
        "percentile": open_args.get("percentile", 99.0),
        "queries": open_args.get("queries"),
        "completion": completion,
    }
    return opts, fields
