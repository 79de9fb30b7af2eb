"""Torch, imported when a block is first built rather than when the catalog is imported.

The catalog's shape rules are plain arithmetic: the analysis, the CLI's ``validate`` and the
app's first window need no torch, whose import takes seconds. Builders are lambdas that run
only when a module is made, so they can name ``nn.Conv2d`` through these stand-ins.
"""
from __future__ import annotations

import importlib
from types import ModuleType


class LazyModule:
    """Imports the named module on first attribute access and then forwards to it."""

    def __init__(self, name: str):
        self._name = name
        self._module: ModuleType | None = None

    def __getattr__(self, attribute: str):
        if self._module is None:
            self._module = importlib.import_module(self._name)
        return getattr(self._module, attribute)

    def __repr__(self) -> str:
        return f"<lazy module {self._name}>"


nn = LazyModule("torch.nn")
modules = LazyModule("engine.blocks.modules")  # the catalog's own nn.Module classes
