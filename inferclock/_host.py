"""Which machine a result comes from: the host identity that keeps results of different
machines apart, and the differences between two machine fingerprints.

The identity is a short hash of the fingerprint facts that change what a measurement means:
CPU model, architecture, sockets, cores and threads, the kernel, and the OpenVINO and
inferclock versions. Volatile readings (load average, steal time, free memory, CPU MHz,
timestamps) are not part of it and are left out of the differences ``compare`` prints.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

#: Fingerprint fields that make two hosts different machines for a measurement.
IDENTITY = ("cpu_model", "arch", "sockets", "cores", "threads", "kernel", "openvino", "inferclock")
#: Fingerprint fields that change from one reading to the next on the same machine.
VOLATILE = frozenset(
    {"load_avg", "steal_pct", "free_memory", "mem_available", "cpu_mhz", "timestamp", "env_vars"}
)


def host_id(env: Mapping[str, Any] | None) -> str | None:
    """12 hex digits naming the machine of a fingerprint (None without one)."""
    if not env:
        return None
    facts = {k: env.get(k) for k in IDENTITY}
    if not any(v is not None for v in facts.values()):
        return None
    text = json.dumps(facts, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


def changed(a: Mapping[str, Any], b: Mapping[str, Any]) -> dict[str, tuple[Any, Any]]:
    """Identity fields whose values differ between fingerprints ``a`` and ``b``."""
    return {k: (a.get(k), b.get(k)) for k in IDENTITY if a.get(k) != b.get(k)}


def differences(
    a: Mapping[str, Any] | None, b: Mapping[str, Any] | None, *, identity_only: bool = False
) -> list[str]:
    """'field: A vs B' for every fingerprint field that differs, volatile readings left out
    (``identity_only``: only the identity fields)."""
    a, b = a or {}, b or {}
    names = IDENTITY if identity_only else sorted(set(a) | set(b))
    out = []
    for k in names:
        if k in VOLATILE:
            continue
        va, vb = a.get(k), b.get(k)
        if va != vb:
            out.append(f"{k}: {_show(va)} vs {_show(vb)}")
    return out


def _show(v: Any) -> str:
    if isinstance(v, dict):
        return json.dumps(v, sort_keys=True)
    return repr(v)
