"""Torch modules ↔ the constructor calls that make them.

The code exporter writes ``nn.Conv2d(3, 64, 3, padding=1, bias=False)`` for a built module;
the importer reads the same arguments back from a module to choose block parameters. Both
read the constructor's signature and the attributes PyTorch stores under the same names,
so one table of exceptions (below) covers every module of the catalog.
"""
from __future__ import annotations

import inspect
from typing import cast

from torch import nn

from ..blocks import modules as custom
from ..errors import CompileError

# Constructor arguments that are not stored under their own name.
_SPECIAL = {
    "bias": lambda m: getattr(m, "bias", None) is not None,
    "elementwise_affine": lambda m: m.elementwise_affine,
}
_SKIP = {"device", "dtype", "inplace", "return_indices"}

# Modules of the catalog that PyTorch does not have; the code exporter copies their source.
CUSTOM_CLASSES = (custom.SeparableConv, custom.GlobalPool, custom.Maxout, custom.Step, custom.Multiply,
                  custom.ChannelShuffle, custom.ChannelChunk, custom.ChannelLayerNorm, custom.LayerScale,
                  custom.StochasticDepth)


def constructor_args(module: nn.Module) -> list[tuple[str, object, bool, object]]:
    """``(name, value, required, default)`` for each constructor argument of ``module``."""
    cls = type(module)
    if cls is custom.SeparableConv:
        dw, pw = cast(nn.Conv2d, module.depthwise), cast(nn.Conv2d, module.pointwise)
        values = [("c_in", dw.in_channels), ("c_out", pw.out_channels), ("kernel", dw.kernel_size),
                  ("stride", dw.stride), ("padding", dw.padding), ("dilation", dw.dilation),
                  ("multiplier", dw.out_channels // dw.in_channels), ("bias", dw.bias is not None)]
        defaults = {"multiplier": 1, "bias": True}
        return [(n, _plain(v), n not in defaults, defaults.get(n)) for n, v in values]
    out = []
    for p in inspect.signature(cls.__init__).parameters.values():
        if p.name == "self" or p.name in _SKIP or p.kind not in (p.POSITIONAL_OR_KEYWORD,):
            continue
        if p.name in _SPECIAL:
            value = _SPECIAL[p.name](module)
        elif hasattr(module, p.name):
            value = getattr(module, p.name)
        else:
            raise CompileError(f"cannot read {cls.__name__}'s argument {p.name!r} back from the module")
        required = p.default is inspect.Parameter.empty
        out.append((p.name, _plain(value), required, None if required else p.default))
    return out


def _plain(value):
    """Tuples whose entries are all equal collapse to one number: (3, 3) → 3."""
    if isinstance(value, (tuple, list)):
        value = tuple(_plain(v) for v in value)
        if value and all(v == value[0] for v in value):
            return value[0]
        return value
    if isinstance(value, float) and value == int(value) and abs(value) < 1e15:
        return value  # keep floats as floats: nn.ELU(alpha=1.0) reads better than alpha=1
    return value


def _same(a, b) -> bool:
    if isinstance(a, Expr) or isinstance(b, Expr):
        return False
    a, b = _plain(a), _plain(b)
    return a == b and isinstance(a, bool) == isinstance(b, bool)


def class_reference(module: nn.Module) -> str:
    cls = type(module)
    if cls.__module__.startswith("torch.nn"):
        return f"nn.{cls.__name__}"
    return cls.__name__


def render_call(module: nn.Module, args: list | None = None) -> str:
    """The constructor call that builds an equivalent module: required arguments by position,
    others by keyword and only when they differ from the default."""
    parts = []
    args = args if args is not None else constructor_args(module)
    kernel = next((v for n, v, _, _ in args if n == "kernel_size"), None)
    for name, value, required, default in args:
        if name == "stride" and default is None and _same(value, kernel):
            continue  # pooling: the stride defaults to the window
        if required:
            parts.append(literal(value))
        elif not _same(value, default):
            parts.append(f"{name}={literal(value)}")
    return f"{class_reference(module)}({', '.join(parts)})"


class Expr(str):
    """Source text standing for a value (a constructor parameter such as ``in_channels``)."""

    def __eq__(self, other):
        return isinstance(other, Expr) and str.__eq__(self, other)

    __hash__ = str.__hash__


def literal(value) -> str:
    if isinstance(value, Expr):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, tuple):
        return "(" + ", ".join(literal(v) for v in value) + ("," if len(value) == 1 else "") + ")"
    if isinstance(value, list):
        return "[" + ", ".join(literal(v) for v in value) + "]"
    return repr(value)


def doc_literal(text: str) -> str:
    """A triple-quoted string literal that evaluates to exactly ``text``, readable when the text
    is ordinary: quotes and backslashes are escaped, and so is every character that is not
    printable (NUL, carriage returns, U+2028...), so nothing in ``text`` can end the literal."""
    return '"""' + doc_escape(text) + '"""'


def doc_escape(text: str) -> str:
    """``text`` escaped to sit inside a triple-quoted (non-raw) string literal of a template."""
    out = []
    for ch in text:
        if ch == "\n":
            out.append(ch)
        elif ch in "\\\"":
            out.append("\\" + ch)
        elif ch.isprintable():
            out.append(ch)
        else:
            out.append(ascii(ch)[1:-1])
    return "".join(out)


def custom_sources(classes) -> str:
    """Source code of the catalog's own module classes used, to paste into exported files."""
    return "\n\n".join(inspect.getsource(c).rstrip() + "\n" for c in CUSTOM_CLASSES if c in classes)
