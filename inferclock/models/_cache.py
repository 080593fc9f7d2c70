"""On-disk cache of built-in models as OpenVINO IR (.xml + .bin).

Layout: `<cache dir>/models/<name>-<key>.xml` (and `.bin`), where the cache dir is
`$INFERCLOCK_CACHE_DIR`, else `$XDG_CACHE_HOME/inferclock`, else `~/.cache/inferclock`, and
`key` hashes the builder's source, the seed and the OpenVINO version, so editing a builder
makes a new file rather than serving a stale one.

Sweep workers may ask for the same model at once: one process builds under an exclusive
`flock` on `<name>-<key>.lock` while the others wait, then find the file. The IR is written
into a temporary directory beside its final place and renamed in (.bin first, .xml last), so
an .xml that exists always has its complete .bin, even if a builder is killed midway.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import tempfile
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType

import openvino as ov

from inferclock._common.errors import ConfigError

# How many times this process built each model (tests use it to prove the cache is reused).
BUILDS: Counter[str] = Counter()


def cache_dir() -> Path:
    """The inferclock cache directory (not created here)."""
    if explicit := os.environ.get("INFERCLOCK_CACHE_DIR"):
        return Path(explicit).expanduser()
    if xdg := os.environ.get("XDG_CACHE_HOME"):
        return Path(xdg).expanduser() / "inferclock"
    return Path.home() / ".cache" / "inferclock"


def models_dir() -> Path:
    return cache_dir() / "models"


def cache_key(name: str, seed: int, modules: Sequence[ModuleType]) -> str:
    """16 hex digits over the builder sources, the seed and the OpenVINO version."""
    digest = hashlib.sha256()
    digest.update(f"{name}\0{seed}\0{ov.get_version()}\0".encode())
    for module in modules:
        if module.__file__ is None:
            raise RuntimeError(f"builder module {module.__name__} has no source file")
        digest.update(Path(module.__file__).read_bytes())
    return digest.hexdigest()[:16]


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def cached_ir(name: str, key: str, build: Callable[[], ov.Model]) -> Path:
    """Path of the cached IR `<name>-<key>.xml`, building and saving it first if missing."""
    directory = models_dir()
    xml = directory / f"{name}-{key}.xml"
    if xml.is_file():
        return xml
    try:
        directory.mkdir(parents=True, exist_ok=True)
        with _locked(directory / f"{name}-{key}.lock"):
            if xml.is_file():  # another process built it while we waited
                return xml
            model = build()
            BUILDS[name] += 1
            staging = Path(tempfile.mkdtemp(prefix=f".{name}-{key}-", dir=directory))
            try:
                ov.save_model(model, staging / xml.name, compress_to_fp16=False)
                bin_name = xml.with_suffix(".bin").name
                os.replace(staging / bin_name, directory / bin_name)
                os.replace(staging / xml.name, xml)
            finally:
                shutil.rmtree(staging, ignore_errors=True)
    except OSError as e:  # a read-only or full filesystem, a file where a folder should be
        raise ConfigError(
            f"cannot write the model cache {str(directory)!r} ({e.strerror or e}): built-in "
            "models are cached there; set INFERCLOCK_CACHE_DIR to a writable directory"
        ) from e
    return xml
