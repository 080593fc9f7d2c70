"""Which machine a result comes from: the host identity that keeps results of different
machines apart, the label that names a row's host in tables and figures, and the differences
between two machine fingerprints.

The identity is a short hash of the fingerprint facts that change what a measurement means:
CPU model, architecture, sockets, cores and threads, the kernel, and the OpenVINO and
inferclock versions. Volatile readings (load average, steal time, free memory, CPU MHz,
timestamps) are not part of it and are left out of the differences ``compare`` prints.

A row's ``host`` is that id; a row may also have a ``host_name``: the Dask worker's name (or
its machine's hostname) in a cluster sweep, ``socket.gethostname()`` in a local one. Two Dask
workers on one machine share the id but not the name, and they are two hosts: rows are kept
apart by :func:`group_key` (id and label) and named by :func:`label` (the name, else the id).
Older rows have no ``host_name``; :func:`fill_names` gives them their machine's one name.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, MutableMapping, Sequence
from typing import Any, TypeVar

from inferclock._common.errors import ConfigError

_R = TypeVar("_R", bound=Mapping[str, Any])

#: The two row fields this module reads (the row schema, ``_timing.schema``, declares them
#: with these names): the machine's id, and the name of the host that measured the row.
HOST = "host"
HOST_NAME = "host_name"

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
    import json  # here: a worker imports this module (for its row field names) but not json

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
        import json

        return json.dumps(v, sort_keys=True)
    return repr(v)


def label(row: Mapping[str, Any]) -> str | None:
    """The host a row was measured on, as tables, figures and ``compare`` name it: its
    ``host_name`` when it has one, else its ``host`` id; None with neither."""
    name = row.get(HOST_NAME)
    if isinstance(name, str) and name:
        return name
    hid = row.get(HOST)
    return hid if isinstance(hid, str) else None


def group_key(row: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """(host id, label): rows with the same key are of one host. Two machines never share
    it, nor two Dask workers on one machine."""
    hid = row.get(HOST)
    return hid if isinstance(hid, str) else None, label(row)


def fill_names(rows: Iterable[MutableMapping[str, Any]]) -> None:
    """Give a row without ``host_name`` the name of its host id when every named row of that
    id has the same one (a sweep begun before rows had names and resumed after), so that one
    machine does not read as two hosts. Rows of an id with several names are left as they
    are (named by their id)."""
    rows = list(rows)
    names: dict[str, set[str]] = {}
    for r in rows:
        hid, name = r.get(HOST), r.get(HOST_NAME)
        if isinstance(hid, str) and isinstance(name, str) and name:
            names.setdefault(hid, set()).add(name)
    for r in rows:
        hid = r.get(HOST)
        if not r.get(HOST_NAME) and isinstance(hid, str) and len(names.get(hid, ())) == 1:
            (r[HOST_NAME],) = names[hid]


def describe(keys: Iterable[tuple[str | None, str | None]]) -> str:
    """The hosts of ``group_key`` values for a message: ``w1 (id 3fa2b1c4d5e6), w2 (...)``."""
    out = [
        str(lab) if lab == hid or hid is None else f"{lab} (id {hid})"
        for hid, lab in dict.fromkeys(keys)
        if lab is not None
    ]
    return ", ".join(out) or "none recorded"


def from_cluster(header: Mapping[str, Any]) -> bool:
    """Whether a results file's header says a cluster sweep wrote it (its rows may come from
    several hosts): ``header["sweep"]["cluster"]`` set."""
    sweep = header.get("sweep")
    return isinstance(sweep, Mapping) and bool(sweep.get("cluster"))


def pick(rows: Sequence[_R], wanted: str, side: str) -> list[_R]:
    """The rows of host ``wanted`` (its ``host_name``, else its host id or a prefix of the id
    that only one host has). A name that no row has, or that names several machines, is a
    ConfigError naming the hosts of ``rows`` (``side`` says whose they are)."""
    keys = list(dict.fromkeys(group_key(r) for r in rows))
    chosen = [k for k in keys if k[1] == wanted] or [k for k in keys if k[0] == wanted]
    if not chosen:
        ids = {k[0] for k in keys if k[0] is not None and k[0].startswith(wanted)}
        chosen = [k for k in keys if k[0] in ids]
    if not chosen:
        raise ConfigError(f"{side}: no host {wanted!r}; its hosts: {describe(keys)}")
    if len({k[0] for k in chosen}) > 1:
        raise ConfigError(
            f"{side}: host {wanted!r} names {len({k[0] for k in chosen})} machines "
            f"({describe(chosen)}); give one by its full host id"
        )
    keep = set(chosen)
    return [r for r in rows if group_key(r) in keep]
