"""Where MLPerf LoadGen's C entry point for completions lives in the loaded wheel.

The ``mlcommons-loadgen`` wheel exports only ``PyInit_mlperf_loadgen`` dynamically, but keeps
its full ELF symbol table (``.symtab``). ``mlperf::c::QuerySamplesComplete(QuerySampleResponse*,
size_t)`` is found there by its mangled name (which spells its signature), and its address in
this process is the loaded ``PyInit_mlperf_loadgen``'s, moved by the two symbols' distance. The
C++ SUT (``_core.LoadgenSut``) then reports completions without Python or the GIL. A wheel
without that symbol (stripped, another layout) gives ``None``: completions go through Python.
"""

from __future__ import annotations

import ctypes
import struct
from pathlib import Path

#: mlperf::c::QuerySamplesComplete(mlperf::QuerySampleResponse*, unsigned long)
COMPLETE_SYMBOL = b"_ZN6mlperf1c20QuerySamplesCompleteEPNS_19QuerySampleResponseEm"
ANCHOR_SYMBOL = b"PyInit_mlperf_loadgen"
_SHT_SYMTAB = 2


def symbol_values(path: str | Path, names: set[bytes]) -> dict[bytes, int]:
    """``st_value`` of each of ``names`` in the ELF64 little-endian file's ``.symtab`` (absent
    names are left out; a file that is not such an ELF gives {})."""
    data = Path(path).read_bytes()
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        return {}
    (shoff,) = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum = struct.unpack_from("<HH", data, 0x3A)
    sections = [
        struct.unpack_from("<IIQQQQIIQQ", data, shoff + i * shentsize) for i in range(shnum)
    ]
    found: dict[bytes, int] = {}
    for sh in sections:
        if sh[1] != _SHT_SYMTAB:
            continue
        offset, size, link, entsize = sh[4], sh[5], sh[6], sh[9] or 24
        stroff = sections[link][4]
        for k in range(size // entsize):
            st_name, _info, _other, _shndx, st_value, _size = struct.unpack_from(
                "<IBBHQQ", data, offset + k * entsize
            )
            if st_value == 0:
                continue
            end = data.index(b"\0", stroff + st_name)
            name = data[stroff + st_name : end]
            if name in names:
                found[name] = st_value
    return found


def complete_address(module_file: str) -> int | None:
    """The address of ``mlperf::c::QuerySamplesComplete`` in the loaded ``mlperf_loadgen``
    extension at ``module_file``, or None when its symbol table does not have it."""
    values = symbol_values(module_file, {COMPLETE_SYMBOL, ANCHOR_SYMBOL})
    if COMPLETE_SYMBOL not in values or ANCHOR_SYMBOL not in values:
        return None
    lib = ctypes.CDLL(module_file)  # already loaded: the same mapping
    anchor = ctypes.cast(lib.PyInit_mlperf_loadgen, ctypes.c_void_p).value
    if anchor is None:
        return None
    return int(anchor - values[ANCHOR_SYMBOL] + values[COMPLETE_SYMBOL])
