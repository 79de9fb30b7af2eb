"""The block catalog: every block type the designer offers, by key.

``get(key)`` returns a :class:`BlockSpec`; ``catalog()`` lists them in palette order.
Composite blocks (inception, residual, ...) are specs with an ``expand`` function, so
analysis and compilation reuse the primitives they are made of.
"""
from __future__ import annotations

from ..errors import UnknownBlockError
from . import activations, composites, conv, modern, norm, opaque, pooling, structure
from .base import GLOBAL_RF, BlockSpec, Inference, Param, Port, ShapeProblem, SubGraph, Warn

CATEGORIES = ("Structure", "Convolution", "Pooling", "Activation", "Normalization", "Regularization",
              "Composite")

_REGISTRY: dict[str, BlockSpec] = {}
for _module in (structure, conv, pooling, activations, norm, modern, composites, opaque):
    for _spec in _module.blocks():
        assert _spec.key not in _REGISTRY, _spec.key
        assert _spec.category in CATEGORIES, _spec.category
        _REGISTRY[_spec.key] = _spec


def get(key: str) -> BlockSpec:
    try:
        return _REGISTRY[key]
    except KeyError:
        raise UnknownBlockError(f"unknown block type {key!r}; known types: {', '.join(sorted(_REGISTRY))}") from None


def exists(key: str) -> bool:
    return key in _REGISTRY


def catalog() -> list[BlockSpec]:
    return sorted(_REGISTRY.values(), key=lambda s: CATEGORIES.index(s.category))


def register(spec: BlockSpec) -> None:
    """Add a block type (used for user-defined composites and by plug-ins)."""
    _REGISTRY[spec.key] = spec


__all__ = ["BlockSpec", "Inference", "Param", "Port", "ShapeProblem", "SubGraph", "Warn", "GLOBAL_RF",
           "get", "exists", "catalog", "register", "CATEGORIES"]
