"""Old public names kept for one release: an attribute or keyword renamed by the naming rule
(CONTRIBUTING.md, "Public names") still works, with a DeprecationWarning that names the new
one."""

from __future__ import annotations

import warnings
from typing import Any

__all__ = ["renamed", "renamed_argument"]


def _warn(text: str, stacklevel: int) -> None:
    warnings.warn(
        f"{text} (the old name goes in the next release)", DeprecationWarning, stacklevel + 1
    )


def renamed(new: str, old: str) -> Any:
    """A read-only class attribute ``old`` that returns ``self.<new>`` and warns."""

    def get(self: Any) -> Any:
        _warn(f"{type(self).__name__}.{old} is deprecated: use .{new} (the same value)", 2)
        return getattr(self, new)

    return property(get, doc=f"Deprecated: the old name of ``{new}``.")


def renamed_argument(where: str, old: str, old_value: Any, new: str, new_given: bool) -> Any:
    """The value of argument ``new`` when the caller used its old name ``old`` (given as
    ``old_value``): that value, with a warning; both given (``new_given``) is an error."""
    from inferclock._common.errors import ConfigError

    if new_given:
        raise ConfigError(f"{where}: give {new}= only ({old}= is its deprecated old name)")
    _warn(f"{where}: {old}= is deprecated: use {new}=", 3)
    return old_value
