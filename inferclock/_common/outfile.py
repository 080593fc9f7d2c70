"""Writing an output file whole, never through a symlink: what reports and published pages
are written with.

:func:`write_atomic` writes the bytes into a new temporary file of a unique name in the
destination's folder (created exclusively, so nothing planted there is followed) and renames
it over the destination. ``rename`` replaces a symlink at the destination with the file
itself and never writes to where it pointed, and a reader sees the old file or the new one,
never a torn one. A failure is a :class:`ConfigError` naming the file; the temporary file is
removed.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from inferclock._common.errors import ConfigError

__all__ = ["write_atomic"]


def write_atomic(path: str | os.PathLike[str], data: bytes | str) -> Path:
    """Write ``data`` (str: UTF-8) as the whole of ``path`` by temporary file and rename;
    returns ``path``. A symlink at ``path`` is replaced, its target left untouched."""
    dest = Path(path)
    payload = data.encode("utf-8") if isinstance(data, str) else data
    tmp: str | None = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent)
        with os.fdopen(fd, "wb") as fh:
            os.fchmod(fh.fileno(), 0o644)  # not mkstemp's 0600: a report is meant to be read
            fh.write(payload)
        os.replace(tmp, dest)
        tmp = None
    except OSError as e:
        raise ConfigError(f"cannot write {str(dest)!r}: {e.strerror or e}") from e
    finally:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
    return dest
