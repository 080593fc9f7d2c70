"""How an option is declared: the metadata of one option (its check, help, flag, unit, row
field...) and the field helper that attaches it to a dataclass field.

The options themselves are declared where their concern lives: a run's in
:mod:`inferclock._timing.options`, a sweep's in ``_sweeps.options``, a peak search's and a
tune's in ``_search.options``, a profile's in ``_profiling.options``. Each is a frozen
dataclass whose ``__post_init__`` calls :func:`check_fields`; this module only says what a
declaration holds, so the CLI builder, the row schema, the checks and the tests that compare
function signatures with the declaration all read the same one.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from inferclock._common import checks as c, parsing
from inferclock._common.errors import ConfigError


@dataclass(frozen=True)
class Meta:
    """Everything about an option besides its name, type and default."""

    help: str
    check: c.Check
    group: str  # the help section (a key of _timing.options.GROUPS); "": the command's own
    short: str | None = None  # "-b"
    flag: str | None = None  # "--batch-size" (default: from the name)
    metavar: str | None = None
    parse: c.Parse | None = None  # command-line text -> value, before the check
    cli: str = "value"  # "value", "append" (repeatable, merged), "true", "false", "bool"
    axis: str | None = None  # a sweep grid axis: its plural name there ("batch_sizes")
    split: Callable[[str], list[str]] = parsing.split_list  # how `sweep` splits an axis value
    row: str | None = None  # result-row field of the requested value (default: the name)
    to_row: Callable[[Any], Any] | None = None  # JSON form for the row (default: as is)
    unit: str | None = None
    positional: bool = False  # positional-or-keyword in ic.run (after the model)
    show_default: bool = True
    show: Callable[[Any], str] | None = None  # how the help writes the default (default: str)


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


def shown(opt: Option) -> str:
    """The option's default as the help writes it, with its unit: "2%", "2 s", "24"."""
    text = opt.meta.show(opt.default) if opt.meta.show else str(opt.default)
    return f"{text} {opt.meta.unit}" if opt.meta.unit else text


def percent(value: float) -> str:
    """0.02 -> "2%" (a ``show`` for fractions)."""
    return f"{value * 100:g}%"


def number(value: float) -> str:
    """2.0 -> "2" (a ``show`` for numbers written without a trailing .0)."""
    return f"{value:g}"


def or_none(check: c.Check) -> c.Check:
    """``check``, or None: an option whose None means "the default of whatever receives it"."""

    def checked(name: str, value: Any) -> Any:
        return None if value is None else check(name, value)

    return checked


def check_fields(obj: Any) -> None:
    """Run each declared option's check on ``obj`` (a frozen declaration, in its
    ``__post_init__``) and keep the value the check returns (normalized: a float, a tuple)."""
    for opt in options(type(obj)):
        object.__setattr__(obj, opt.name, opt.meta.check(opt.name, getattr(obj, opt.name)))


def declared(cls: type[Any], name: str) -> Option:
    """The declared option ``name`` of ``cls``."""
    for opt in options(cls):
        if opt.name == name:
            return opt
    raise KeyError(name)  # pragma: no cover - a programming error


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
