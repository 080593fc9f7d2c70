"""A sweep's results file: one writer at a time (a lock), a resume refused when the file was
written with other settings (unless forced, which the file then records), and the raw
per-inference latencies saved beside it."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from inferclock._common.errors import ConfigError
from inferclock._common.jsonl import ResultWriter, load_file, strict_dumps
from inferclock._common.util import utc_now
from inferclock._platform import host as _host


@contextmanager
def locked(out: Path) -> Iterator[None]:
    """Hold an exclusive lock on the results file (created empty if absent) while a sweep
    writes it; a second writer is refused. An empty file it created is removed on failure."""
    import fcntl

    created = not out.exists()
    fd = os.open(out, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ConfigError(
                f"results file {str(out)!r} is being written by another sweep (it holds the "
                "file's lock): wait for it to finish, or write to another file"
            ) from None
        ok = False
        try:
            yield
            ok = True
        finally:
            if not ok and created and out.stat().st_size == 0:
                out.unlink()
    finally:
        os.close(fd)


def open_results(
    out: Path, header: dict[str, Any], force: bool
) -> tuple[list[dict[str, Any]], ResultWriter]:
    """The rows already in ``out`` and a writer for it. Resuming a file written with another
    grid, other run options or on another host is refused, naming the differences, unless
    ``force``: then the change is recorded in the file (a "resume" line)."""
    if out.stat().st_size == 0:
        return [], ResultWriter(out, header)
    existing = load_file(out)
    recorded = existing.resumes[-1]["sweep"] if existing.resumes else existing.header.get("sweep")
    now = json.loads(strict_dumps(header["sweep"]))
    changed = _differences(recorded or {}, now)
    was, now_env = existing.header.get("environment") or {}, header.get("environment") or {}
    for k, (a, b) in _host.changed(was, now_env).items():
        changed[f"host.{k}"] = (a, b)
    if changed and not force:
        listing = "; ".join(f"{k}: {a!r} in the file, {b!r} now" for k, (a, b) in changed.items())
        raise ConfigError(
            f"results file {str(out)!r} was written by a sweep with other settings ({listing}). "
            "Its rows would not match this sweep's: write to another file, or pass "
            "force_resume=True (--force-resume) to append anyway (the change is recorded)"
        )
    writer = ResultWriter(out, header)
    if changed:
        writer.note_resume({"at": utc_now(), "sweep": now, "changed": changed})
    return [dict(r) for r in existing.rows], writer


#: The header fields that describe the rows: a resume must not change them silently.
_DESCRIBING = ("models", "precisions", "batch_sizes", "devices", "modes", "sockets",
               "repeats", "run", "serve")  # fmt: skip


def _differences(old: dict[str, Any], new: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    out: dict[str, tuple[Any, Any]] = {}
    for key in _DESCRIBING:
        if key == "run":
            a, b = old.get("run") or {}, new.get("run") or {}
            for k in sorted(set(a) | set(b)):
                if a.get(k) != b.get(k):
                    out[f"run.{k}"] = (a.get(k), b.get(k))
        elif old.get(key) != new.get(key):
            out[key] = (old.get(key), new.get(key))
    was, now = old.get("cluster") or {}, new.get("cluster") or {}
    if was and now and was.get("placement") != now.get("placement"):
        out["cluster.placement"] = (was.get("placement"), now.get("placement"))
    return out


def check_writable(path: Path) -> None:
    """Probe the directory with a real file: root passes ``os.access`` on read-only
    directories, and a read-only mount says no only when written to."""
    try:
        fd, probe = tempfile.mkstemp(prefix=".inferclock-probe-", dir=path.parent)
    except OSError as e:
        raise ConfigError(
            f"results file {str(path)!r}: cannot write in directory {str(path.parent)!r} ({e})"
        ) from None
    os.close(fd)
    os.unlink(probe)


def _raw_name(key: str, process: int, repeat: int) -> str:
    import re
    import zlib

    # Readable and unique: the sanitized key plus a hash of the real key (two keys may
    # sanitize alike).
    safe = re.sub(r"[^A-Za-z0-9.+=-]+", "_", key).strip("_")
    return f"{safe}.{zlib.crc32(key.encode()):08x}.p{process}.r{repeat}.npy"


def save_raw(out: Path, key: str, process: int, repeat: int, lat: np.ndarray[Any, Any]) -> str:
    raw_dir = out.parent / f"{out.stem}.raw"
    raw_dir.mkdir(exist_ok=True)
    final = raw_dir / _raw_name(key, process, repeat)
    tmp = final.with_name(final.name + ".tmp")
    with open(tmp, "wb") as f:
        np.save(f, np.asarray(lat, dtype=np.int64), allow_pickle=False)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, final)  # a row never names a torn .npy
    return os.path.relpath(final, out.parent)
