"""One block of a design: its id, block type, read-only parameters, place and label."""
from __future__ import annotations

import copy
from types import MappingProxyType
from typing import Any, Mapping

from .param_values import frozen_value


class Node:
    """One block of a design.

    ``params`` is read-only (a ``types.MappingProxyType``: writing to it raises TypeError).
    Change parameters with :meth:`Design.set_params`, which validates them, replaces the
    mapping and tells the views; the analysis recognises an edit by the mapping's identity,
    so an edit in place would leave it stale. Read it as a mapping (``node.params["kernel"]``,
    ``dict(node.params)``, ``{**node.params}``); ``dict(node.params)`` is a plain copy.
    """

    __slots__ = ("id", "block", "_params", "_values", "pos", "label", "frozen", "__weakref__")

    def __init__(self, id: str, block: str, params: Mapping[str, Any], pos: tuple[float, float] = (0.0, 0.0),
                 label: str = "", frozen: bool = False):
        self.id = id
        self.block = block
        self._replace_params(params)
        self.pos = pos
        self.label = label
        self.frozen = frozen  # parameters excluded from training (transfer learning)

    @property
    def params(self) -> Mapping[str, Any]:
        return self._params

    def _replace_params(self, params: Mapping[str, Any]) -> None:
        """Take ``params`` (validated) as the node's parameters: a private copy (no one else holds
        the dict), its list values frozen too. Only :meth:`Design.set_params` calls this after
        the node is made, so the analysis may tell an edit by identity. ``_values`` is the
        values in order as one hashable tuple (a FrozenList hashes as a tuple), made here once
        rather than by every analysis: the analysis' cache key, and its sign of an edit."""
        values = {k: frozen_value(v) for k, v in params.items()}
        self._params = MappingProxyType(values)
        self._values = tuple(values.values())

    @property
    def name(self) -> str:
        return self.label or self.id

    def _fields(self) -> tuple:
        return self.id, self.block, dict(self._params), self.pos, self.label, self.frozen

    def __eq__(self, other) -> bool:
        return self._fields() == other._fields() if isinstance(other, Node) else NotImplemented

    __hash__ = None  # type: ignore[assignment]  # mutable (pos, label, frozen), as a dataclass

    def __repr__(self) -> str:
        return (f"Node(id={self.id!r}, block={self.block!r}, params={dict(self._params)!r}, pos={self.pos!r}, "
                f"label={self.label!r}, frozen={self.frozen!r})")

    def __reduce__(self):  # pickle and copy.copy: a mapping proxy cannot be pickled itself
        return Node, self._fields()

    def __deepcopy__(self, memo) -> "Node":
        return Node(self.id, self.block, copy.deepcopy(dict(self._params), memo), self.pos, self.label, self.frozen)
