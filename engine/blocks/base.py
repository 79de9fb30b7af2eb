"""The contract every block type states: parameters, ports, inference and builder.

A block's ``infer`` function is pure arithmetic on shapes (no torch): given the validated
parameters and the input shapes (without batch axis) it returns an :class:`Inference` or
raises :class:`ShapeProblem`. ``build`` returns the torch module for the same parameters.
The conformance test checks every block's ``infer`` against its ``build`` on real tensors.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, NamedTuple

from ..errors import EngineError, ParameterError

Shape = tuple[int, ...]

# Sizes above these are refused as parameters: they are typos or hostile files, and they
# would make the analysis report absurd memory figures before anything else went wrong.
MAX_CHANNELS = 1 << 16
MAX_FEATURES = 1 << 22
MAX_KERNEL = 1 << 10
MAX_SPATIAL = 1 << 16


class ShapeProblem(EngineError):
    """Raised by ``infer`` when the inputs do not fit the block: an error diagnostic."""

    def __init__(self, message: str, fix: str = "", expected: Any = None, received: Any = None):
        super().__init__(message)
        self.message, self.fix, self.expected, self.received = message, fix, expected, received


class Warn(NamedTuple):
    code: str
    message: str
    fix: str = ""


class Inference(NamedTuple):
    """What a block does to its inputs, per sample.

    ``rf`` describes the receptive-field step along each spatial axis of the output as
    ``(effective_kernel, stride)`` pairs; ``None`` means element-wise (the field is unchanged);
    :data:`GLOBAL_RF` means every output sees the whole input.
    """

    shape: Shape
    params: int = 0
    buffers: int = 0
    macs: int = 0
    rf: Any = None
    warnings: tuple[Warn, ...] = ()
    activations: int | None = None  # values stored per sample; None = the output's size


GLOBAL_RF = "global"


@dataclass(frozen=True)
class Param:
    """One parameter of a block: its type, default, range and what it means."""

    name: str
    kind: str  # int | float | bool | choice | ints | padding | shape | str
    default: Any
    help: str = ""
    min: float | None = None
    max: float | None = None
    choices: tuple = ()
    unit: str = ""
    optional: bool = False  # None allowed (means "derive it", e.g. stride = kernel)

    def coerce(self, value: Any) -> Any:
        """Return the value normalised to JSON-friendly form, or raise ParameterError."""
        if value is None:
            if self.optional:
                return None
            raise ParameterError(f"{self.name} needs a value ({self.help or self.kind})")
        kind = self.kind
        if kind == "bool":
            if isinstance(value, bool):
                return value
            raise ParameterError(f"{self.name} must be true or false, got {value!r}")
        if kind == "int":
            return self._check_range(_as_int(self.name, value))
        if kind == "float":
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not _finite(value):
                raise ParameterError(f"{self.name} must be a finite number, got {_short(value)}")
            return self._check_range(float(value))
        if kind == "choice":
            if value not in self.choices:
                raise ParameterError(f"{self.name} must be one of {', '.join(map(str, self.choices))}; got {value!r}")
            return value
        if kind == "str":
            if not isinstance(value, str) or len(value) > 200:
                raise ParameterError(f"{self.name} must be a short text")
            return value
        if kind == "padding" and isinstance(value, str):
            if value in ("same", "valid"):
                return value
            raise ParameterError(f"{self.name} must be a number, a list of numbers, 'same' or 'valid'; got {value!r}")
        if kind in ("ints", "padding", "shape"):
            if isinstance(value, (list, tuple)):
                if not 1 <= len(value) <= 4:
                    raise ParameterError(f"{self.name} takes 1 to 4 numbers, got {len(value)}")
                items = [self._check_range(_as_int(self.name, v)) for v in value]
                return items if kind == "shape" or len(set(items)) > 1 else items[0]
            if kind == "shape":
                raise ParameterError(f"{self.name} must be a list of sizes such as [1, 28, 28]; got {value!r}")
            return self._check_range(_as_int(self.name, value))
        raise AssertionError(f"unknown parameter kind {kind}")

    def _check_range(self, v):
        if self.min is not None and v < self.min:
            raise ParameterError(f"{self.name} = {_short(v)} is below its minimum {self.min:g}")
        if self.max is not None and v > self.max:
            raise ParameterError(f"{self.name} = {_short(v)} is above its maximum {self.max:g}")
        return v


def _finite(value) -> bool:
    try:
        return math.isfinite(value)
    except OverflowError:  # an int beyond float range (a hostile file's 10**400)
        return False


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _as_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not _finite(value) or value != int(value):
        raise ParameterError(f"{name} must be a whole number, got {_short(value)}")
    return int(value)


@dataclass(frozen=True)
class Port:
    name: str = "in"
    multi: bool = False  # accepts any number of edges (Concat, Add)


@dataclass
class BlockSpec:
    """Everything the engine knows about one block type."""

    key: str
    title: str
    category: str
    formula: str
    params: tuple[Param, ...]
    infer: Callable[[dict, list[Shape]], Inference]
    build: Callable[[dict, list[Shape]], Any] | None
    inputs: tuple[Port, ...] = (Port(),)
    outputs: tuple[str, ...] = ("out",)
    # Composite blocks: parameters + input shapes -> SubGraph of primitive blocks.
    expand: Callable[[dict, list[Shape]], "SubGraph"] | None = None
    trainable: bool = True  # False: has no gradient (the step function)
    doc: str = ""
    param_index: dict[str, Param] = field(init=False, repr=False)

    def __post_init__(self):
        self.param_index = {p.name: p for p in self.params}

    @property
    def is_composite(self) -> bool:
        return self.expand is not None

    def defaults(self) -> dict:
        return {p.name: p.default for p in self.params}

    def validate_params(self, values: dict | None) -> dict:
        """Defaults filled in, every value coerced; raises ParameterError on unknown names."""
        values = values or {}
        unknown = set(values) - set(self.param_index)
        if unknown:
            raise ParameterError(f"{self.title} has no parameter {', '.join(sorted(unknown))}; "
                                 f"it takes {', '.join(self.param_index) or 'none'}")
        return {p.name: p.coerce(values.get(p.name, p.default)) for p in self.params}

    def input_port(self, name: str) -> Port | None:
        for port in self.inputs:
            if port.name == name:
                return port
        return None


@dataclass
class SubGraph:
    """The inside of a composite block, in terms of other blocks.

    ``nodes`` are ``(local_id, block_key, params)`` in topological order; ``edges`` are
    ``(src_local_id, dst_local_id, dst_port)`` where a source ``"$in0"``, ``"$in1"``, ...
    is the composite's n-th input; ``output`` names the node whose output is the block's.
    """

    nodes: list[tuple[str, str, dict]]
    edges: list[tuple[str, str, str]]
    output: str


def ntuple(value, n: int) -> tuple[int, ...]:
    """Broadcast an int (or 1-element list) to n axes; a list must have n entries."""
    if isinstance(value, int):
        return (value,) * n
    if len(value) == 1:
        return (value[0],) * n
    if len(value) != n:
        raise ShapeProblem(f"expected {n} values (one per spatial axis), got {len(value)}",
                           fix=f"give a single number or {n} numbers", expected=n, received=len(value))
    return tuple(value)


def fmt_shape(shape) -> str:
    return "×".join(str(s) for s in shape) if shape else "scalar"
