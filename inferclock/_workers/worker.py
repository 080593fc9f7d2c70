"""The worker process: pin, time (or profile) a RunSpec, hand each outcome back; die with the
parent.

A worker is a new interpreter started by ``_workers.supervisor`` (``python -c BOOT ...``), never a
fork of a process where OpenVINO's threads already run. It pins itself before OpenVINO
starts (OpenVINO reads the CPU mask once), runs the spec ``repeats`` times, and writes each
outcome (the RunResult, or the exception itself with its attributes, and the warnings) as a
pickle that appears atomically. A socket to the parent carries its phase ("compile",
"measure") and "outcome i" notes; when the parent dies the socket closes and the worker
removes its folder and kills itself, so no worker (and no temporary file) outlives its parent.

This module and what it imports are all a cell needs: no sweep, report, compare, pandas,
matplotlib or NNCF.
"""

from __future__ import annotations

import os
import pickle
import shutil
import signal
import socket
import sys
import threading
import warnings
from pathlib import Path
from typing import Any

# The worker imports the very inferclock its parent runs (not a source tree that happens to
# be its working directory, where `python -m` would look first).
BOOT = (
    "import sys; root = sys.argv[1]; "
    "sys.path[:] = [root] + [p for p in sys.path if p not in ('', '.', root)]; "
    "from inferclock._workers.worker import main; sys.exit(main(sys.argv[2:]))"
)


def outcome_path(out_path: Path, repeat: int) -> Path:
    """Where a worker writes the outcome of run ``repeat`` (run 0: ``out_path`` itself)."""
    if repeat == 0:
        return out_path
    return out_path.with_name(f"{out_path.stem}.{repeat}{out_path.suffix}")


def portable_error(e: BaseException) -> Any:
    """``e`` if it survives a pickle round trip, else a description the parent rebuilds."""
    try:
        again = pickle.loads(pickle.dumps(e, protocol=pickle.HIGHEST_PROTOCOL))
        if type(again) is type(e):
            return e
    except Exception:
        pass
    # Each attribute crosses as itself when it pickles; only the ones that do not (a lambda,
    # an open file) become their repr, and are named so the parent can say so.
    attrs: dict[str, Any] = {}
    as_repr: list[str] = []
    for k, v in (vars(e) if hasattr(e, "__dict__") else {}).items():
        try:
            pickle.dumps(v, protocol=pickle.HIGHEST_PROTOCOL)
            attrs[k] = v
        except Exception:
            attrs[k] = repr(v)
            as_repr.append(k)
    return {
        "module": type(e).__module__,
        "name": type(e).__qualname__,
        "message": str(e),
        "attrs": attrs,
        "attrs_as_repr": as_repr,
    }


def _portable_category(category: type[Warning]) -> Any:
    try:
        pickle.loads(pickle.dumps(category))
        return category
    except Exception:
        return category.__name__


class _Parent:
    """The socket to the parent: notes go up; EOF means the parent is gone."""

    def __init__(self, fd: int, workdir: Path) -> None:
        self.sock = socket.socket(fileno=fd)
        self.workdir = workdir
        threading.Thread(target=self._watch, name="inferclock-parent-watch", daemon=True).start()

    def _watch(self) -> None:
        try:
            while self.sock.recv(64):
                pass
        except OSError:
            pass
        # The parent died (or closed on us): nobody will read a result. Remove the folder it
        # can no longer clean (a parent killed by SIGKILL), then die at once, even in the
        # middle of a compile that holds no Python lock.
        shutil.rmtree(self.workdir, ignore_errors=True)
        os.kill(os.getpid(), signal.SIGKILL)

    def tell(self, note: str) -> None:
        try:
            self.sock.sendall(note.encode() + b"\n")
        except OSError:
            pass


def _run_one(spec: Any, parent: _Parent) -> dict[str, Any]:
    outcome: dict[str, Any] = {}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            # A RunSpec times itself; a subclass (a ProfileSpec) does its own work.
            outcome["result"] = spec.execute(on_phase=lambda name: parent.tell(f"phase {name}"))
        except BaseException as e:
            outcome["error"] = portable_error(e)
        outcome["warnings"] = [(_portable_category(w.category), str(w.message)) for w in caught]
    return outcome


def _write(outcome: dict[str, Any], path: Path) -> None:
    tmp = path.with_name(path.name + ".tmp")
    try:
        data = pickle.dumps(outcome, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception as e:  # something in a result or warning would not pickle
        data = pickle.dumps({"error": portable_error(e), "warnings": []})
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)  # the parent sees a complete outcome or none


def main(argv: list[str]) -> int:
    """``SPEC OUT REPEATS FD``: run the pickled spec REPEATS times, outcomes next to OUT."""
    spec_path, out_path, repeats, fd = argv[0], Path(argv[1]), int(argv[2]), int(argv[3])
    parent = _Parent(fd, Path(spec_path).parent)
    with open(spec_path, "rb") as f:
        spec = pickle.load(f)
    failed: Any = None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        opts = spec.options
        if opts.pinned:
            parent.tell("phase pin")
            try:
                from inferclock._platform.pin import pin

                # Before OpenVINO's CPU plugin starts: it reads this mask once.
                pin(socket=opts.socket, cpus=list(opts.cpus) if opts.cpus else None)
            except BaseException as e:
                failed = portable_error(e)
    pin_warnings = [(_portable_category(w.category), str(w.message)) for w in caught]
    for r in range(repeats):
        outcome = {"error": failed, "warnings": []} if failed else _run_one(spec, parent)
        if r == 0:
            outcome["warnings"] = pin_warnings + outcome["warnings"]
        _write(outcome, outcome_path(out_path, r))
        parent.tell(f"outcome {r}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
