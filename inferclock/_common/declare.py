"""How an option is declared: the metadata of one option (its check, help, flag, unit, row
field...) and the field helper that attaches it to a dataclass field.

The options themselves are declared in :mod:`inferclock._timing.options`; this module only says what
a declaration holds, so the CLI builder, the row schema and the checks all read the same one.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from inferclock._common import checks as c
from inferclock._common.errors import ConfigError


@dataclass(frozen=True)
class Meta:
    """Everything about an option besides its name, type and default."""

    help: str
    check: c.Check
    group: str
    short: str | None = None  # "-b"
    flag: str | None = None  # "--batch-size" (default: from the name)
    metavar: str | None = None
    parse: c.Parse | None = None  # command-line text -> value, before the check
    cli: str = "value"  # "value", "append" (repeatable, merged), "true", "false", "bool"
    axis: str | None = None  # a sweep grid axis: its plural name there ("batch_sizes")
    split: Callable[[str], list[str]] = c.split_list  # how `sweep` splits an axis value
    row: str | None = None  # result-row field of the requested value (default: the name)
    to_row: Callable[[Any], Any] | None = None  # JSON form for the row (default: as is)
    unit: str | None = None
    positional: bool = False  # positional-or-keyword in ic.run (after the model)
    show_default: bool = True


def option(default: Any, **meta: Any) -> Any:
    """A dataclass field declaring one option."""
    return field(default=default, metadata={"option": Meta(**meta)})


@dataclass(frozen=True)
class Option:
    """One declared option, as the CLI builder and the row schema see it."""

    name: str
    default: Any
    meta: Meta

    @property
    def flag(self) -> str:
        return self.meta.flag or "--" + self.name.replace("_", "-")

    @property
    def row(self) -> str:
        return self.meta.row or self.name

    def row_value(self, value: Any) -> Any:
        return self.meta.to_row(value) if self.meta.to_row else value


def options(cls: type[Any]) -> Iterator[Option]:
    """The declared options of ``cls`` in declaration order."""
    for f in dataclasses.fields(cls):
        yield Option(f.name, f.default, f.metadata["option"])


def option_names(cls: type[Any]) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(cls))


def make(cls: type[Any], values: Mapping[str, Any], what: str) -> Any:
    """``cls(**values)`` with unknown names refused by name."""
    names = option_names(cls)
    unknown = sorted(set(values) - set(names))
    if unknown:
        raise ConfigError(
            f"{what}: unknown argument(s) {', '.join(unknown)}; options are {', '.join(names)}"
        )
    return cls(**values)
