"""One side of an interleaved A/B (``ic.ab``): what it runs, checked before anything runs, and
one measurement of it in a fresh process.

A side is a model with its run options, run either by this interpreter or by another one
(``python=``: a virtual environment holding another version of inferclock or OpenVINO).

* This interpreter: the side becomes a RunSpec once (``ic.prepare``: options checked, model
  read, int8 quantized and cached) and each measurement is ``supervisor.run_isolated`` of it,
  the fresh worker process ``ic.run(processes=k)`` uses.
* Another interpreter: a pickled RunSpec of this version may not load in another one, so the
  side crosses by the public API and the row format instead: each measurement is
  ``PYTHON -c CODE KWARGS OUT`` in a fresh process (in its own session, from a neutral
  directory so no source tree shadows the install there), which calls ``ic.run(model,
  **kwargs)`` with the options the user gave and writes the result's JSON row to OUT. Its
  error comes back as itself when the class exists here (rebuilt as the supervisor rebuilds a
  worker's); it dies when our end of its stdin closes, so it never outlives us.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from inferclock._common.errors import ConfigError, ConfigTypeError, WorkerCrash
from inferclock._timing.modelinfo import ModelBook
from inferclock._timing.options import RunOptions, make

#: Each process's timed phase unless the options say otherwise: between-process spread
#: dominates a paired ratio, so a long run per process buys little (docs/statistics.md).
DEFAULT_DURATION = 0.5

#: Run in the other interpreter; argv: KWARGS (JSON) OUT.
CODE = """\
import json, os, sys, threading, warnings
def _watch():  # our parent closed our stdin: it is gone, so are we
    try:  # os.read, not sys.stdin: a fork (py-cpuinfo's) must not inherit its lock held
        while os.read(0, 1):
            pass
    finally:
        os._exit(70)
threading.Thread(target=_watch, daemon=True).start()
out = {}
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    try:
        import inferclock as ic
        kw = json.loads(sys.argv[1])
        model = kw.pop("model")
        out["row"] = json.loads(ic.run(model, **kw).to_json())
    except BaseException as e:
        out["error"] = {"module": type(e).__module__, "name": type(e).__qualname__,
                        "message": str(e), "attrs": {}}
out["warnings"] = [[w.category.__name__, str(w.message)] for w in caught]
with open(sys.argv[2] + ".tmp", "w") as f:
    json.dump(out, f)
os.replace(sys.argv[2] + ".tmp", sys.argv[2])
"""

#: Asked of another interpreter before anything is timed.
_PROBE = (
    "from importlib.metadata import version; import inferclock, openvino; "
    "print(version('inferclock'), version('openvino'))"
)


@dataclass(frozen=True)
class Side:
    """A checked side: ``options`` the run options it times with; ``spec`` its RunSpec (this
    interpreter) or ``python`` the interpreter that runs it with ``given`` (the options the
    user gave, checked here, as JSON)."""

    label: str  # "A" or "B"
    model: str  # the model's name
    model_path: str
    options: RunOptions
    python: str | None = None
    spec: Any = None
    given: Mapping[str, Any] | None = None
    versions: str = ""  # "inferclock X, openvino Y" of the interpreter that runs it

    def describe(self) -> str:
        where = f" with {self.python}" if self.python else ""
        return f"{self.label}: {self.model}{where} ({self.versions})"

    def measure(self, workdir: Path) -> dict[str, Any]:
        """One measurement in a fresh process: its result row (errors raised as themselves)."""
        if self.python is None:
            from inferclock._workers.supervisor import run_isolated

            return run_isolated(self.spec).to_dict()
        return _run_elsewhere(self, workdir)


def side_options(
    label: str, common: Mapping[str, Any], own: Mapping[str, Any] | None
) -> tuple[RunOptions, dict[str, Any]]:
    """The side's run options (``common`` overridden by ``own``), checked, and the dict the
    user gave with the default per-process duration added."""
    name = f"{label.lower()}_options"
    if own is not None and not isinstance(own, Mapping):
        raise ConfigTypeError(f"{name} must be a dict of run options, got {own!r}")
    given = {**common, **(own or {})}
    if "processes" in given and given["processes"] != 1:
        raise ConfigError(
            f"ab: processes={given['processes']!r}: ab runs each measurement in its own fresh "
            "process, A and B alternating; ask for more pairs (pairs=, max_pairs=) instead"
        )
    given.pop("processes", None)
    if not any(given.get(k) is not None for k in ("iterations", "duration", "max_time")):
        given["duration"] = DEFAULT_DURATION
    opts: RunOptions = make(RunOptions, given, f"ab ({name} or common options)")
    return opts, given


def check_python(name: str, python: Any) -> str | None:
    """The interpreter ``python`` names, as an absolute path (None: this one)."""
    if python is None:
        return None
    if not isinstance(python, (str, os.PathLike)):
        raise ConfigTypeError(f"{name} must be the path of a python executable, got {python!r}")
    text = os.fspath(python)
    found = shutil.which(text) if os.sep not in text else text
    if found is None or not os.path.isfile(found) or not os.access(found, os.X_OK):
        raise ConfigError(f"{name} {text!r} is not an executable file (a python interpreter)")
    return os.path.abspath(found)


def probe(name: str, python: str) -> str:
    """'inferclock X, openvino Y' of another interpreter; ConfigError naming ``name`` when it
    cannot import them."""
    try:
        p = subprocess.run(
            [python, "-c", _PROBE], capture_output=True, text=True, timeout=120,
            cwd=tempfile.gettempdir(), stdin=subprocess.DEVNULL,
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired) as e:
        raise ConfigError(f"{name} {python!r} could not be run: {e}") from None
    words = p.stdout.split()
    if p.returncode != 0 or len(words) != 2:
        tail = (p.stderr or p.stdout).strip().splitlines()[-1:] or ["no output"]
        raise ConfigError(
            f"{name} {python!r} cannot import inferclock and openvino (install inferclock in "
            f"that environment): {tail[0]}"
        )
    return f"inferclock {words[0]}, openvino {words[1]}"


def _json_options(label: str, opts: RunOptions, given: Mapping[str, Any]) -> dict[str, Any]:
    """The given options' checked values, as JSON for another interpreter."""
    out: dict[str, Any] = {}
    for key in given:
        value = getattr(opts, key)
        if key in ("inputs", "calibration") and value is not None:
            raise ConfigError(
                f"{label.lower()}_python: {key}= holds arrays, which cannot be handed to "
                "another interpreter; leave it out (seeded random inputs are used)"
            )
        value = list(value) if isinstance(value, tuple) else value
        if isinstance(value, dict):
            value = {k: list(v) if isinstance(v, tuple) else v for k, v in value.items()}
        try:
            json.dumps(value)
        except (TypeError, ValueError):
            raise ConfigError(
                f"{label.lower()}_python: option {key}={value!r} cannot be handed to another "
                "interpreter (not JSON)"
            ) from None
        out[key] = value
    return out


def make_side(
    label: str,
    model: Any,
    common: Mapping[str, Any],
    own: Mapping[str, Any] | None,
    python: Any,
    book: ModelBook,
    workdir: str,
) -> Side:
    """Check everything about a side and get it ready to run (nothing is timed)."""
    opts, given = side_options(label, common, own)
    exe = check_python(f"{label.lower()}_python", python)
    if exe is None:
        from inferclock._common.util import package_version
        from inferclock._workers.run import prepare

        spec = prepare(model, opts, workdir=workdir)
        ov = package_version("openvino")
        versions = f"inferclock {package_version()}, openvino {ov}"
        return Side(
            label, spec.model_name, str(spec.model.path), opts, spec=spec, versions=versions
        )
    kwargs = _json_options(label, opts, given)
    facts = book.add(model)  # read here: a missing or broken model is refused before any run
    env = kwargs.pop("env", None)  # set on the process itself: no second worker there
    versions = probe(f"{label.lower()}_python", exe)
    given_json = {"model": str(facts.path), **kwargs, "_env": env or {}}
    return Side(label, facts.name, str(facts.path), opts, exe, given=given_json, versions=versions)


def _run_elsewhere(side: Side, workdir: Path) -> dict[str, Any]:
    assert side.python is not None and side.given is not None
    kwargs = dict(side.given)
    env = {**os.environ, **kwargs.pop("_env"), "PYTHONSAFEPATH": "1"}
    out = workdir / f"{side.label}-{time.monotonic_ns()}.json"
    err = out.with_suffix(".stderr")
    timeout = side.options.effective_timeout()
    with open(err, "wb") as log:
        proc = subprocess.Popen(
            [side.python, "-c", CODE, json.dumps(kwargs), str(out)], stdin=subprocess.PIPE,
            stdout=log, stderr=log, env=env, cwd=tempfile.gettempdir(), start_new_session=True,
        )  # fmt: skip
    try:
        proc.wait(timeout=None if timeout == float("inf") else timeout)
    except subprocess.TimeoutExpired:
        raise WorkerCrash(
            f"side {side.label} ({side.python}) took longer than timeout={timeout:g} s and was "
            "killed; raise timeout= if it needs longer",
            "timeout",
        ) from None
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stdin is not None:
            proc.stdin.close()
    return _read_outcome(side, out, err, proc.returncode)


def _read_outcome(side: Side, out: Path, err: Path, rc: int) -> dict[str, Any]:
    import warnings

    from inferclock._workers.supervisor import _category, _rebuild_error

    if not out.exists():
        tail = err.read_text(errors="replace")[-2000:].strip() if err.exists() else ""
        raise WorkerCrash(
            f"side {side.label} ({side.python}) exited with status {rc} and no result"
            + (f"; its last output:\n{tail}" if tail else ""),
            "crash (no result)",
        )
    got = json.loads(out.read_text(encoding="utf-8"))
    for category, message in got.get("warnings", []):
        warnings.warn(f"side {side.label}: {message}", _category(category), stacklevel=4)
    if got.get("error") is not None:
        raise _rebuild_error(got["error"])
    row: dict[str, Any] = got["row"]
    return row
