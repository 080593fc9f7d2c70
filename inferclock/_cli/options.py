"""Command-line flags built from option declarations (``_common.declare``).

``add_options`` adds one flag per declared option of any declaration (the run options, a
sweep's, a peak search's, a tune's, a profile's) to a parser, grouped and with the
declaration's help, unit and default; in ``sweep`` the grid axes take comma-separated lists.
``given`` reads back only the options the user gave, as the keyword arguments the API takes:
the API's defaults and checks then apply unchanged, so the CLI and the API cannot drift apart.
"""

from __future__ import annotations

import argparse
from collections.abc import Collection, Iterable, Sequence
from typing import Any

from inferclock._common import declare as _declare, parsing
from inferclock._common.errors import ConfigError
from inferclock._timing.options import GROUPS, Option, RunOptions

#: A declaration (its class) or some of its options.
Declared = type[Any] | Iterable[Option]


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
    if opt.meta.parse is parsing.parse_key_value:
        return {**(previous or {}), value[0]: value[1]}
    if opt.meta.parse is parsing.parse_shapes:
        return {**(previous or {}), **value}
    return [*(previous or []), *(value if isinstance(value, list) else [value])]


def _options(declared: Declared, skip: Collection[str]) -> list[Option]:
    found = _declare.options(declared) if isinstance(declared, type) else declared
    return [o for o in found if o.name not in skip]


def help_text(opt: Option) -> str:
    """The flag's help: the declaration's, with its default (as argparse wants ``%`` written)."""
    text = opt.meta.help
    if opt.meta.cli in ("value", "append") and opt.meta.show_default and opt.default is not None:
        text += f" (default {_declare.shown(opt)})"
    return text.replace("%", "%%")


def add_options(
    parser: argparse.ArgumentParser,
    declared: Declared = RunOptions,
    *,
    sweep: bool = False,
    skip: Collection[str] = (),
) -> None:
    """One flag per declared option (but those named in ``skip``), in its group's section
    (group "": the parser's own options); in ``sweep``, axes take comma lists."""
    groups: dict[str, Any] = {"": parser}
    for opt in _options(declared, skip):
        group = groups.get(opt.meta.group)
        if group is None:
            title = GROUPS.get(opt.meta.group, opt.meta.group)
            group = groups[opt.meta.group] = parser.add_argument_group(title)
        flags = [f for f in (opt.meta.short, opt.flag) if f]
        axis = sweep and opt.meta.axis is not None
        dest = opt.meta.axis if axis else opt.name
        common: dict[str, Any] = {
            "dest": dest, "default": argparse.SUPPRESS, "help": help_text(opt),
        }  # fmt: skip
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
    args: argparse.Namespace,
    declared: Declared = RunOptions,
    *,
    sweep: bool = False,
    skip: Collection[str] = (),
) -> dict[str, Any]:
    """The declared options the user gave, by keyword (axes by their plural in a sweep)."""
    out: dict[str, Any] = {}
    for opt in _options(declared, skip):
        dest = opt.meta.axis if sweep and opt.meta.axis else opt.name
        if hasattr(args, dest):
            out[dest] = getattr(args, dest)
    return out
