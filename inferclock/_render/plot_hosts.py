"""Which host each report figure is of: with cells of several hosts (``_platform.host``: machines,
or Dask workers of a cluster sweep) the report draws its per-cell figures once per host, and a
:class:`HostSlice` picks that host's cells and gives its figures their title line and a
file-name suffix made safe for any host name (``latency_w1.png``). One host: one slice
holding every cell, with the figures' usual names and titles."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from inferclock._analysis.summary import CellSummary

__all__ = ["ALL_HOSTS", "HostSlice", "host_slices"]


@dataclass(frozen=True)
class HostSlice:
    """One host's figures: its cells' (host_id, host), the label titles show and the suffix
    of its file names (None and ``""``: the only host, whose slice holds every cell)."""

    key: tuple[str | None, str | None]
    label: str | None
    slug: str

    def of(self, cells: Iterable[CellSummary]) -> list[CellSummary]:
        """The cells of this host."""
        return [s for s in cells if (s.host_id, s.host) == self.key or self.label is None]

    def stem(self, stem: str) -> str:
        return f"{stem}_{self.slug}" if self.slug else stem

    def title(self, title: str) -> str:
        return f"{title}\nhost {self.label}" if self.label is not None else title


ALL_HOSTS = HostSlice((None, None), None, "")


def host_slices(summ: Sequence[CellSummary]) -> list[HostSlice]:
    """The hosts of ``summ`` in first-seen order, each with a distinct file-name suffix (the
    label with characters other than letters, digits, ``.``, ``_`` and ``-`` made ``_``); one
    slice without label or suffix, holding every cell, when there is one host."""
    keys = list(dict.fromkeys((s.host_id, s.host) for s in summ))
    if len(keys) < 2:
        return [ALL_HOSTS]
    names = [str(lab) for _, lab in keys]
    out: list[HostSlice] = []
    taken: set[str] = set()
    for (hid, lab), name in zip(keys, names, strict=True):
        shown = name if names.count(name) == 1 else f"{name} ({hid})"  # one name, two machines
        slug = re.sub(r"[^A-Za-z0-9._-]+", "_", shown).strip("._") or "host"
        base, i = slug, 2
        while slug in taken:
            slug, i = f"{base}_{i}", i + 1
        taken.add(slug)
        out.append(HostSlice((hid, lab), shown, slug))
    return out
