"""The one process supervisor: start a worker, wait, enforce the timeout, turn a crash or a
signal into an error, handle Ctrl-C; used by isolated ``ic.run`` and by sweeps alike.

A worker runs in its own session (a terminal's Ctrl-C reaches only this process), with a
socket to us: it reports its phase and each finished outcome there, and kills itself when
the socket closes, so it never outlives us. What Ctrl-C does is the caller's choice:

* ``on_ctrl_c="forward"`` (``ic.run``): the first Ctrl-C reaches a worker that is timing as
  SIGINT, and its partial result comes back; a worker still starting or compiling is killed
  at once and KeyboardInterrupt raised. A second Ctrl-C kills it.
* ``on_ctrl_c="finish"`` (sweeps): the first Ctrl-C lets the worker finish (the caller stops
  after it); a second kills it and raises KeyboardInterrupt. Within
  :func:`first_ctrl_c_stops` (a peak search, whose step can last minutes) the first does.

SIGTERM kills the worker at once and raises :class:`Terminated` (temporary files removed).
"""

from __future__ import annotations

import builtins
import importlib
import os
import pickle
import select
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Generator, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any, Literal

from inferclock._common.errors import InferclockError, Terminated, WorkerCrash
from inferclock._common.util import utc_now
from inferclock._workers.worker import BOOT, outcome_path

if TYPE_CHECKING:
    from inferclock._timing.engine import RunSpec
    from inferclock._timing.result import RunResult

#: How often we look at the clock and at Ctrl-C while waiting on a worker.
_POLL_S = 0.1


#: Set by :func:`first_ctrl_c_stops`: a "finish" worker is killed on the first Ctrl-C.
_FIRST_STOPS: ContextVar[bool] = ContextVar("first_ctrl_c_stops", default=False)


@contextmanager
def first_ctrl_c_stops() -> Iterator[None]:
    """Within it, the first Ctrl-C kills a sweep's running worker at once (KeyboardInterrupt)
    instead of letting it finish: a caller whose result is the runs already done."""
    token = _FIRST_STOPS.set(True)
    try:
        yield
    finally:
        _FIRST_STOPS.reset(token)


class CtrlC:
    """While installed (main thread only; elsewhere no signal arrives): counts Ctrl-C presses,
    and turns SIGTERM into :class:`Terminated`, raised where the code is, so that ``finally``
    blocks stop the worker and remove temporary files before the process ends."""

    def __init__(self) -> None:
        self.count = 0

    def _on_sigint(self, signum: int, frame: FrameType | None) -> None:
        self.count += 1

    @staticmethod
    def _on_sigterm(signum: int, frame: FrameType | None) -> None:
        raise Terminated("stopped by SIGTERM")

    @contextmanager
    def installed(self) -> Iterator[CtrlC]:
        if threading.current_thread() is not threading.main_thread():
            yield self
            return
        previous = signal.signal(signal.SIGINT, self._on_sigint)
        previous_term = signal.signal(signal.SIGTERM, self._on_sigterm)
        try:
            yield self
        finally:
            signal.signal(signal.SIGINT, previous)
            signal.signal(signal.SIGTERM, previous_term)


@dataclass
class Outcome:
    """One run of a worker: its result or its error, and the warnings it raised."""

    index: int
    started_at: str
    result: Any = None  # what the spec's execute returned: a RunResult (a ProfileSpec's: a Profile)
    error: BaseException | None = None
    warnings: list[tuple[type[Warning], str]] = field(default_factory=list)

    def reissue_warnings(self, stacklevel: int = 3) -> None:
        for category, message in self.warnings:
            warnings.warn(message, category, stacklevel=stacklevel)


def _package_root() -> str:
    return str(Path(__file__).resolve().parents[2])


def _class(module: str, name: str) -> Any:
    try:
        obj: Any = importlib.import_module(module)
        for part in name.split("."):
            obj = getattr(obj, part)
        return obj
    except Exception:
        return getattr(builtins, name, None)


def _rebuild_error(info: Any) -> BaseException:
    """The worker's exception: itself when it pickled, else rebuilt from its description."""
    if isinstance(info, BaseException):
        return info
    cls = _class(info["module"], info["name"])
    if not (isinstance(cls, type) and issubclass(cls, BaseException)):
        cls = InferclockError
    try:
        err: BaseException = cls(info["message"])
    except Exception:
        err = InferclockError(f"{info['name']}: {info['message']}")
    for k, v in info.get("attrs", {}).items():
        try:
            setattr(err, k, v)
        except Exception:
            pass
    if info.get("attrs_as_repr"):
        names = ", ".join(info["attrs_as_repr"])
        err.add_note(f"(from a worker process: attribute(s) {names} did not pickle; their repr)")
    return err


def _category(c: Any) -> type[Warning]:
    if isinstance(c, type) and issubclass(c, Warning):
        return c
    found = _class("inferclock", str(c)) or getattr(builtins, str(c), None)
    return found if isinstance(found, type) and issubclass(found, Warning) else UserWarning


def read_outcome(path: Path, index: int, started_at: str) -> Outcome:
    with open(path, "rb") as f:
        raw: dict[str, Any] = pickle.load(f)
    out = Outcome(index, started_at, warnings=[(_category(c), m) for c, m in raw["warnings"]])
    if raw.get("error") is not None:
        out.error = _rebuild_error(raw["error"])
    else:
        out.result = raw["result"]
    return out


class Worker:
    """A started worker process and the socket to it."""

    def __init__(self, spec: RunSpec, workdir: Path, repeats: int) -> None:
        spec_path = workdir / "spec.pickle"
        self.out, self.err = workdir / "outcome.pickle", workdir / "stderr.txt"
        with open(spec_path, "wb") as f:
            pickle.dump(spec, f, protocol=pickle.HIGHEST_PROTOCOL)
        mine, theirs = socket.socketpair()
        env = dict(os.environ)
        env.update(spec.options.env or {})
        argv = [sys.executable, "-c", BOOT, _package_root(), str(spec_path), str(self.out)]
        argv += [str(repeats), str(theirs.fileno())]
        with open(self.err, "wb") as err:
            self.proc = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=err, stderr=err, env=env,
                pass_fds=(theirs.fileno(),), start_new_session=True,
            )  # fmt: skip
        theirs.close()
        self.sock = mine
        self.phase = "start"
        self.ready: set[int] = set()
        self._buf = b""

    def wait(self, seconds: float) -> None:
        """Wait up to ``seconds`` for a note from the worker (or its exit); read them all."""
        r, _, _ = select.select([self.sock], [], [], max(0.0, seconds))
        if not r:
            return
        try:
            data = self.sock.recv(4096)
        except OSError:
            data = b""
        if not data:  # the worker closed its end: it exited
            self.proc.wait()
            return
        self._buf += data
        *lines, self._buf = self._buf.split(b"\n")
        for line in lines:
            kind, _, value = line.decode(errors="replace").partition(" ")
            if kind == "phase":
                self.phase = value
            elif kind == "outcome":
                self.ready.add(int(value))

    def alive(self) -> bool:
        return self.proc.poll() is None

    def interrupt(self) -> None:
        if self.alive():
            self.proc.send_signal(signal.SIGINT)

    def kill(self) -> None:
        if self.alive():
            self.proc.kill()
        self.proc.wait()

    def close(self) -> None:
        self.kill()
        self.sock.close()

    def crash(self) -> WorkerCrash:
        """What ended a worker that left no outcome: its signal or exit status, its output."""
        rc = self.proc.wait()
        try:
            tail = self.err.read_text(errors="replace")[-2000:].strip()
        except OSError:
            tail = ""
        said = f"; its last output:\n{tail}" if tail else ""
        if rc < 0:
            try:
                sig = signal.Signals(-rc).name
            except ValueError:
                sig = f"signal {-rc}"
            return WorkerCrash(f"the worker process crashed ({sig}){said}", f"crash ({sig})")
        return WorkerCrash(
            f"the worker process exited with status {rc} and no result{said}", "crash (no result)"
        )


def supervise(
    spec: RunSpec,
    *,
    repeats: int = 1,
    timeout: float,
    ctrl_c: CtrlC,
    on_ctrl_c: Literal["forward", "finish"],
) -> Generator[Outcome, None, None]:
    """Run ``spec`` ``repeats`` times in one fresh worker; yield each run's outcome as it
    arrives. A crash or a timeout yields an error outcome (WorkerCrash) for every run left.
    ``timeout`` bounds each run, start-up included. Ctrl-C: see the module docstring."""
    with tempfile.TemporaryDirectory(prefix="inferclock-worker-") as d:
        worker = Worker(spec, Path(d), repeats)
        try:
            yield from _follow(worker, repeats, timeout, ctrl_c, on_ctrl_c)
        finally:
            worker.close()


def _follow(
    worker: Worker, repeats: int, timeout: float, ctrl_c: CtrlC, on_ctrl_c: str
) -> Iterator[Outcome]:
    i, started, presses = 0, utc_now(), ctrl_c.count
    deadline = time.monotonic() + timeout
    while i < repeats:
        path = outcome_path(worker.out, i)
        if i in worker.ready or path.exists():
            yield read_outcome(path, i, started)
            i, started, deadline = i + 1, utc_now(), time.monotonic() + timeout
            continue
        if not worker.alive():
            if not path.exists():
                crash = worker.crash()
                for r in range(i, repeats):
                    yield Outcome(r, started, error=crash)
                return
            continue
        if ctrl_c.count > presses:
            presses = ctrl_c.count
            if on_ctrl_c == "forward" and presses == 1 and worker.phase == "measure":
                worker.interrupt()  # it ends its timed loop and writes a partial result
            elif on_ctrl_c == "forward" or presses >= 2 or _FIRST_STOPS.get():
                worker.kill()
                raise KeyboardInterrupt(f"stopped while the worker was in phase {worker.phase!r}")
        if time.monotonic() > deadline:
            worker.kill()
            late = WorkerCrash(
                f"the run took longer than timeout={timeout:g} s and its worker was killed "
                f"(phase {worker.phase!r}); raise timeout= (--timeout) if it needs longer",
                "timeout",
            )
            for r in range(i, repeats):
                yield Outcome(r, started, error=late)
            return
        worker.wait(min(_POLL_S, max(0.0, deadline - time.monotonic())))


def run_isolated(spec: RunSpec) -> RunResult:
    """Run ``spec`` in a fresh worker and return its result (its error re-raised here, as
    itself, with its warnings re-issued)."""
    result: RunResult = isolated(spec)
    return result


def isolated(spec: RunSpec) -> Any:
    """What ``spec.execute()`` returns, computed in a fresh worker (for a RunSpec subclass,
    its own result: a ProfileSpec's Profile); errors re-raised here as themselves."""
    ctrl_c = CtrlC()
    with ctrl_c.installed():
        outcomes = supervise(
            spec, timeout=spec.options.effective_timeout(), ctrl_c=ctrl_c, on_ctrl_c="forward"
        )
        outcome = next(outcomes)
        outcomes.close()
    outcome.reissue_warnings(stacklevel=4)
    if outcome.error is not None:
        raise outcome.error
    assert outcome.result is not None
    return outcome.result
