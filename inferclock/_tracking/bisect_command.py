"""The command ``inferclock bisect`` runs at each commit, and the rows it leaves.

The command is an argument list run without a shell in the checkout (``sh -c '...'`` for a
pipeline). Each run gets a fresh results file path and a fresh storage folder outside the
checkout, named in the command by the placeholders ``{out}`` (``inferclock sweep ... -o
{out}``, ``inferclock run MODEL --json {out}``) and ``{storage}`` (``pytest ...
--inferclock-storage {storage} --inferclock-save NAME``), and in its environment as
``INFERCLOCK_BISECT_OUT`` and ``INFERCLOCK_BISECT_STORAGE`` (a script may write there). A
pytest command naming neither gets ``--inferclock-storage {storage} --inferclock-save bisect``
appended. The rows are those of ``{out}`` (a results file, or the one JSON object of
``inferclock run --json``, keyed as a sweep keys its cell) and of every results file under
``{storage}``.

A run *failed* (the commit is skipped) when the command cannot start, exits non-zero, runs
past its timeout, or leaves no row. It runs in a process group of its own, killed whole on
Ctrl-C, SIGTERM or a timeout, so no worker of it outlives bisect.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from inferclock._common.errors import ConfigError, InferclockError
from inferclock._common.jsonl import Row, load_file
from inferclock._timing import schema as _schema

OUT, STORAGE = "{out}", "{storage}"
#: What a pytest command without a placeholder gets appended.
PYTEST_FLAGS = ("--inferclock-storage", STORAGE, "--inferclock-save", "bisect")
#: Removed from the command's environment: bisect alone adds rows to the history, each run's
#: under the commit it measured.
UNSET = ("INFERCLOCK_HISTORY",)
#: Lines of a failed command's output shown with its skip.
TAIL_LINES = 3


@dataclass(frozen=True)
class Outcome:
    """One run of the command: its rows and header, or why it failed."""

    rows: list[Row] = field(default_factory=list)
    header: Row | None = None
    failure: str | None = None


def _is_pytest(argv: Sequence[str]) -> bool:
    name = os.path.basename(argv[0])
    if name in ("pytest", "py.test"):
        return True
    return name.startswith("python") and list(argv[1:3]) == ["-m", "pytest"]


def check_command(argv: Sequence[str]) -> tuple[str, ...]:
    """The command as it will run: not empty, its program found (a bare name on PATH), a
    pytest command given the plugin's storage flags when it names no placeholder."""
    if not argv or not argv[0].strip():
        raise ConfigError(
            "no command: give it after '--', e.g. inferclock bisect GOOD BAD -- inferclock run "
            "resnet50 --json {out}  (or -- pytest tests/speed)"
        )
    if os.sep not in argv[0] and _which(argv[0]) is None:
        raise ConfigError(f"command {argv[0]!r} is not found on PATH")
    named = any(OUT in a or STORAGE in a for a in argv)
    if not named and _is_pytest(argv):
        return (*argv, *PYTEST_FLAGS)
    return tuple(argv)


def _which(name: str) -> str | None:
    import shutil

    return shutil.which(name)


def run_once(
    argv: Sequence[str], cwd: Path, work: Path, commit: str, timeout: float | None
) -> Outcome:
    """Run the command once at the checked-out ``commit`` (folder ``cwd``), its files under
    ``work``; the rows it wrote, or why it failed."""
    run_dir = Path(tempfile.mkdtemp(prefix="run-", dir=work))
    out, storage = run_dir / "results.jsonl", run_dir / "storage"
    storage.mkdir()
    args = [a.replace(OUT, str(out)).replace(STORAGE, str(storage)) for a in argv]
    env = {k: v for k, v in os.environ.items() if k not in UNSET}
    env.update(INFERCLOCK_BISECT_OUT=str(out), INFERCLOCK_BISECT_STORAGE=str(storage),
               INFERCLOCK_BISECT_COMMIT=commit)  # fmt: skip
    log = run_dir / "output.log"
    with open(log, "w+b") as fh:
        try:
            proc = subprocess.Popen(
                args, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=fh,
                stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        except OSError as e:
            return Outcome(failure=f"the command could not start: {e}")
        try:
            rc: int | None = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            rc = None
        finally:  # Ctrl-C, SIGTERM or a timeout: the command and its workers go too
            _kill_group(proc)
    if rc is None:
        return Outcome(failure=f"the command ran past --timeout {timeout:g} s")
    if rc != 0:
        return Outcome(failure=f"the command exited with status {rc}{_tail(log)}")
    files = ([out] if out.exists() else []) + sorted(
        p for p in storage.rglob("*.jsonl") if p.is_file()
    )
    rows: list[Row] = []
    header: Row | None = None
    for f in files:
        try:
            got = load_file(f)
        except (InferclockError, OSError, ValueError) as e:
            run = run_json(f) if f == out else None
            if run is None:
                return Outcome(failure=f"its results file {f.name} cannot be read: {e}")
            rows.append(run)
            continue
        header = header if header is not None else got.header
        rows += got.rows
    if not rows:
        where = f"{OUT} or {STORAGE}" if not any(OUT in a or STORAGE in a for a in argv) else ""
        hint = f" (it names neither {where}: see inferclock bisect --help)" if where else ""
        return Outcome(failure=f"the command wrote no result row{hint}")
    return Outcome(rows=rows, header=header)


def run_key(row: Row) -> str:
    """The key of ``inferclock run --json``'s row: the one a sweep gives that cell
    (``_sweeps.grid.cell_key``, a layer above this one; ``tests/test_bisect.py`` holds the two
    to one format)."""
    mode = _schema.get(row, "mode")
    qps = _schema.get(row, "qps")
    m = mode if not isinstance(qps, (int, float)) else f"{mode}@{qps:g}qps"
    socket = _schema.get(row, "socket")
    parts = (_schema.get(row, "model"), _schema.get(row, "device"),
             _schema.get(row, "precision_requested"), _schema.get(row, "batch_size"), m,
             "-" if socket is None else socket)  # fmt: skip
    return "|".join(str(p) for p in parts)


def run_json(path: Path) -> Row | None:
    """The row of a file ``inferclock run --json`` wrote (one JSON object of a run's fields),
    with its cell's key; None when the file is not one."""
    try:
        obj = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    if not isinstance(obj, dict) or "kind" in obj or "latency_median_ns" not in obj:
        return None
    obj.pop("env", None)  # the machine's fingerprint: a header's, not a row's
    return {"key": run_key(obj), **obj}


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None and not _group_alive(proc.pid):
        return
    for sig, wait in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 10.0)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break
        try:
            proc.wait(timeout=wait)
            if not _group_alive(proc.pid):
                break
        except subprocess.TimeoutExpired:
            continue


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _tail(log: Path) -> str:
    text = log.read_bytes().decode("utf-8", "replace").strip().splitlines()
    tail = [line.strip() for line in text if line.strip()][-TAIL_LINES:]
    return f": {' | '.join(tail)}" if tail else ""
