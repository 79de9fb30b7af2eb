"""Typed errors of the engine.

Every error says what happened, what was expected and how to fix it, so the UI and the CLI
can show the message as it is.
"""
from __future__ import annotations


class EngineError(Exception):
    """Base class of everything the engine raises on purpose."""


class DesignError(EngineError):
    """An edit the design model refuses (the design is left unchanged)."""


class UnknownBlockError(DesignError):
    pass


class UnknownNodeError(DesignError):
    pass


class CycleError(DesignError):
    pass


class PortError(DesignError):
    """A port that does not exist on the block, or an edge that already exists."""


class PortOccupiedError(PortError):
    """A second edge into an input port that takes exactly one."""


class ParameterError(DesignError):
    """A parameter value of the wrong type or out of its range."""


class DesignFileError(EngineError):
    """A design file that cannot be read; ``location`` names where (e.g. ``nodes[3].params``)."""

    def __init__(self, message: str, location: str = ""):
        self.location = location
        super().__init__(f"{location}: {message}" if location else message)


class CompileError(EngineError):
    """A design that cannot become a torch module; ``diagnostics`` lists why."""

    def __init__(self, message: str, diagnostics=()):
        self.diagnostics = list(diagnostics)
        super().__init__(message)
