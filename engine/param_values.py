"""Read-only parameter values: a node's parameters are a read-only mapping, and the lists among
them (an input shape, per-axis padding) are read-only too, so that no edit in place can leave the
analysis stale (it recognises an edit by the mapping's identity)."""
from __future__ import annotations

from typing import Any


class FrozenList(list):
    """A list among a node's parameter values (an input shape, per-axis padding) that cannot be
    changed in place, for the same reason the mapping cannot: the analysis would not see the
    edit. It is still a list (validators, JSON and ``==`` treat it as one) and hashable, so the
    analysis' cache keys take it as it is."""

    __slots__ = ()

    def _read_only(self, *args, **kwargs):
        raise TypeError("a node's parameter values are read-only: change them with Design.set_params")

    append = extend = insert = remove = pop = clear = sort = reverse = _read_only
    __setitem__ = __delitem__ = __iadd__ = __imul__ = _read_only

    def __hash__(self) -> int:  # type: ignore[override]
        return hash(tuple(self))

    def __reduce__(self):  # pickle: rebuilt whole, not appended to
        return FrozenList, (list(self),)

    def __copy__(self) -> "FrozenList":
        return self

    def __deepcopy__(self, memo) -> "FrozenList":
        return self


def plain_value(value: Any) -> Any:
    """``value`` with its :class:`FrozenList` made plain lists again, for a caller to edit."""
    if isinstance(value, list):
        return [plain_value(v) for v in value]
    return value


def frozen_value(value: Any) -> Any:
    """``value`` with its lists, nested ones included, made :class:`FrozenList`."""
    if isinstance(value, list) and type(value) is not FrozenList:
        return FrozenList(frozen_value(v) for v in value)
    return value
