"""Command-line flags built from the option declaration (``_options``).

``add_options`` adds one flag per declared option to a ``run`` or ``sweep`` parser, grouped
and with the declaration's help, unit and default; in ``sweep`` the grid axes take
comma-separated lists. ``given`` reads back only the options the user gave, as the keyword
arguments ``ic.run`` / ``ic.sweep`` take: the API's defaults and checks then apply unchanged,
so the CLI and the API cannot drift apart.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

from inferclock._common import checks as c
from inferclock._common.errors import ConfigError
from inferclock._timing import options as _options
from inferclock._timing.options import GROUPS, Option


class _Parsed(argparse.Action):
    """Parses the text with the option's parser; the declaration's check runs later, in the
    API, so both refuse the same values with the same message."""

    def __init__(self, *args: Any, opt: Option, sweep_axis: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.opt = opt
        self.sweep_axis = sweep_axis

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: str | Sequence[Any] | None,
        option_string: str | None = None,
    ) -> None:
        text = str(values)
        parse = self.opt.meta.parse or (lambda t: t)
        try:
            if self.sweep_axis:
                value: Any = [parse(v) for v in self.opt.meta.split(text)]
            else:
                value = parse(text)
        except ConfigError as e:  # `main` prints it as "error: ..." (exit 2), like the API's
            raise ConfigError(f"{option_string} {text!r}: {e}") from None
        if self.opt.meta.cli == "append" or self.sweep_axis:  # repeated axis flags add up
            value = _merged(self.opt, getattr(namespace, self.dest, None), value)
        setattr(namespace, self.dest, value)


def parsed_type(parse: Any, flag: str) -> Any:
    """An argparse ``type=`` from an option parser: its ConfigError becomes argparse's usage
    error, naming the flag."""

    def convert(text: str) -> Any:
        try:
            return parse(text)
        except ConfigError as e:
            raise argparse.ArgumentTypeError(f"{flag} {text!r}: {e}") from None

    return convert


def _merged(opt: Option, previous: Any, value: Any) -> Any:
    """Repeated flags add up: KEY=VALUE pairs and NAME[dims] into a dict, others a list."""
    if opt.meta.parse is c.parse_key_value:
        return {**(previous or {}), value[0]: value[1]}
    if opt.meta.parse is c.parse_shapes:
        return {**(previous or {}), **value}
    return [*(previous or []), *(value if isinstance(value, list) else [value])]


def _help(opt: Option) -> str:
    text = opt.meta.help
    if opt.meta.cli in ("value", "append") and opt.meta.show_default and opt.default is not None:
        unit = f" {opt.meta.unit}" if opt.meta.unit else ""
        text += f" (default {opt.default}{unit})"
    return text.replace("%", "%%")


def add_options(
    parser: argparse.ArgumentParser, cls: type[Any] = _options.RunOptions, *, sweep: bool = False
) -> None:
    """One flag per declared option of ``cls``; in ``sweep``, axes take comma lists."""
    groups: dict[str, Any] = {}
    for opt in _options.options(cls):
        group = groups.get(opt.meta.group)
        if group is None:
            group = groups[opt.meta.group] = parser.add_argument_group(GROUPS[opt.meta.group])
        flags = [f for f in (opt.meta.short, opt.flag) if f]
        axis = sweep and opt.meta.axis is not None
        dest = opt.meta.axis if axis else opt.name
        common: dict[str, Any] = {"dest": dest, "default": argparse.SUPPRESS, "help": _help(opt)}
        kind = opt.meta.cli
        if kind == "true":
            group.add_argument(*flags, action="store_true", **common)
        elif kind == "false":
            group.add_argument(*flags, action="store_false", **common)
        elif kind == "bool":
            group.add_argument(*flags, action=argparse.BooleanOptionalAction, **common)
        else:
            metavar = "LIST" if axis else (opt.meta.metavar or opt.name.upper())
            if axis:
                common["help"] = common["help"].replace(
                    " (default", ", comma-separated, repeatable (default"
                )
            group.add_argument(
                *flags, action=_Parsed, opt=opt, sweep_axis=axis, metavar=metavar, **common
            )


def given(
    args: argparse.Namespace, cls: type[Any] = _options.RunOptions, *, sweep: bool = False
) -> dict[str, Any]:
    """The options of ``cls`` the user gave, by keyword (axes by their plural in a sweep)."""
    out: dict[str, Any] = {}
    for opt in _options.options(cls):
        dest = opt.meta.axis if sweep and opt.meta.axis else opt.name
        if hasattr(args, dest):
            out[dest] = getattr(args, dest)
    return out
