"""Fresh worker processes: pin before OpenVINO starts, contain crashes, bring results back.

A worker is a new interpreter (``python -c <boot> ROOT SPEC OUT``, importing inferclock from
the same place as this process), never a fork of a process where OpenVINO's threads already
run. The spec and the outcome travel as pickles in a
private temporary directory.
"""

from __future__ import annotations

import builtins
import os
import pickle
import signal
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

from inferclock import _core
from inferclock._engine import RunSpec
from inferclock._result import RunResult


class WorkerCrash(_core.InferclockError):
    """The worker process died (a signal, a hang past its timeout, or no result)."""

    def __init__(self, message: str, kind: str) -> None:
        super().__init__(message)
        self.kind = kind


def _error_class(name: str) -> type[BaseException]:
    import inferclock

    cls = getattr(inferclock, name, None) or getattr(_core, name, None)
    if isinstance(cls, type) and issubclass(cls, BaseException):
        return cls
    builtin = getattr(builtins, name, None)
    if isinstance(builtin, type) and issubclass(builtin, Exception):
        return builtin
    return _core.InferclockError


# The worker must import the very inferclock this process runs (not a source tree that
# happens to be its working directory, where `python -m` would look first).
_BOOT = (
    "import sys; root = sys.argv[1]; "
    "sys.path[:] = [root] + [p for p in sys.path if p not in ('', '.', root)]; "
    "from inferclock._worker import _main; "
    "sys.exit(_main(sys.argv[2], sys.argv[3], int(sys.argv[4]) if len(sys.argv) > 4 else 1))"
)


def _package_root() -> str:
    import inferclock

    return str(Path(inferclock.__file__).resolve().parent.parent)


def outcome_path(out_path: Path, repeat: int) -> Path:
    """Where a worker writes the outcome of run ``repeat`` (run 0: ``out_path`` itself)."""
    return (
        out_path
        if repeat == 0
        else out_path.with_name(f"{out_path.stem}.{repeat}{out_path.suffix}")
    )


def start(
    spec: RunSpec, workdir: Path, new_session: bool = False, repeats: int = 1
) -> tuple[subprocess.Popen[bytes], Path, Path]:
    """Start a worker for ``spec``; returns (process, outcome path, stderr path).

    ``repeats`` > 1 runs the spec that many times in the one process (a sweep's repeats);
    the outcome of run r lands in ``outcome_path(out, r)`` as soon as it finishes.
    """
    spec_path = workdir / "spec.pickle"
    out_path = workdir / "outcome.pickle"
    err_path = workdir / "stderr.txt"
    with open(spec_path, "wb") as f:
        pickle.dump(spec, f, protocol=pickle.HIGHEST_PROTOCOL)
    err = open(err_path, "wb")
    argv = [sys.executable, "-c", _BOOT, _package_root(), str(spec_path), str(out_path)]
    if repeats != 1:
        argv.append(str(int(repeats)))
    proc = subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=err,
        stderr=err,
        start_new_session=new_session,
    )
    err.close()
    return proc, out_path, err_path


def finish(proc: subprocess.Popen[bytes], out_path: Path, err_path: Path) -> RunResult:
    """Read a finished worker's outcome: its result, or its error re-raised here."""
    rc = proc.returncode
    tail = ""
    try:
        tail = err_path.read_text(errors="replace")[-2000:].strip()
    except OSError:
        pass
    if rc is not None and rc < 0:
        try:
            sig = signal.Signals(-rc).name
        except ValueError:
            sig = f"signal {-rc}"
        raise WorkerCrash(
            f"the worker process crashed ({sig})" + (f"; its last output:\n{tail}" if tail else ""),
            f"crash ({sig})",
        )
    if not out_path.exists():
        raise WorkerCrash(
            f"the worker process exited with status {rc} and no result"
            + (f"; its last output:\n{tail}" if tail else ""),
            "crash (no result)",
        )
    return read_outcome(out_path)


def read_outcome(out_path: Path) -> RunResult:
    """The result a worker wrote to ``out_path``, or its error re-raised here (with its
    warnings re-issued)."""
    with open(out_path, "rb") as f:
        outcome: dict[str, Any] = pickle.load(f)
    for category, message in outcome.get("warnings", []):
        cls = _error_class(category)
        warnings.warn(message, cls if issubclass(cls, Warning) else UserWarning, stacklevel=3)
    if "error" in outcome:
        cls = _error_class(outcome["error"][0])
        raise cls(outcome["error"][1])
    result: RunResult = outcome["result"]
    return result


def run_in_worker(spec: RunSpec, timeout: float | None = None) -> RunResult:
    """Run ``spec`` in a fresh process and return its result (errors re-raised here).

    Ctrl-C reaches the worker too (same process group): it ends its run with a partial
    result, which is returned.
    """
    with tempfile.TemporaryDirectory(prefix="inferclock-worker-") as d:
        proc, out, err = start(spec, Path(d))
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            try:
                left = None if deadline is None else max(0.0, deadline - time.monotonic())
                proc.wait(timeout=left)
                break
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
                raise WorkerCrash(
                    f"the run took longer than {timeout} s and was killed", "timeout"
                ) from None
            except KeyboardInterrupt:
                continue  # the worker got the same Ctrl-C and is finishing its partial result
        return finish(proc, out, err)


def _run_one(spec: RunSpec) -> dict[str, Any]:
    outcome: dict[str, Any] = {}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            from inferclock._engine import execute

            outcome["result"] = execute(spec)
        except BaseException as e:
            outcome["error"] = (type(e).__name__, str(e))
        outcome["warnings"] = [(w.category.__name__, str(w.message)) for w in caught]
    return outcome


def _write(outcome: dict[str, Any], path: Path) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        pickle.dump(outcome, f, protocol=pickle.HIGHEST_PROTOCOL)
    os.replace(tmp, path)  # the parent sees a complete outcome or none


def _main(spec_path: str, out_path: str, repeats: int = 1) -> int:
    with open(spec_path, "rb") as f:
        spec: RunSpec = pickle.load(f)
    failed: tuple[str, str] | None = None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if spec.socket is not None or spec.cpus is not None:
            try:
                from inferclock._topology import pin

                # Before OpenVINO's CPU plugin starts: it reads this mask once.
                pin(
                    socket=spec.socket, cpus=list(spec.cpus) if spec.cpus else None, scope="process"
                )
            except BaseException as e:
                failed = (type(e).__name__, str(e))
    pin_warnings = [(w.category.__name__, str(w.message)) for w in caught]
    for r in range(repeats):
        outcome: dict[str, Any] = {"error": failed, "warnings": []} if failed else _run_one(spec)
        if r == 0:
            outcome["warnings"] = pin_warnings + outcome["warnings"]
        _write(outcome, outcome_path(Path(out_path), r))
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1], sys.argv[2], int(sys.argv[3]) if len(sys.argv) > 3 else 1))
