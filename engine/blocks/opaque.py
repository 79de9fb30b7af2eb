"""The opaque block: a layer imported from a PyTorch model that maps to no catalog block.

It cannot be rebuilt from its parameters, so it keeps what the import trace measured: the
input shape it was traced with, the output shape it produced and its parameter count. The
analysis reports those (and refuses a different input shape); compiling refuses it with a
message saying what to replace.
"""
from __future__ import annotations

from ..errors import CompileError
from .base import BlockSpec, Inference, Param, Port, ShapeProblem, Warn, fmt_shape


def opaque_infer(p, ins):
    traced = p["input_shape"]
    if traced is not None and ins and list(ins[0]) != list(traced if isinstance(traced, list) else [traced]):
        raise ShapeProblem(f"opaque layer {p['type']} was imported with input {fmt_shape(_shape(traced))} and "
                           f"cannot adapt to {fmt_shape(ins[0])}",
                           fix="give it the input it was traced with, or replace it with catalog blocks",
                           expected=_shape(traced), received=ins[0])
    note = p["note"] or "not in the catalog"
    return Inference(_shape(p["output_shape"]), p["params"],
                     warnings=(Warn("opaque", f"imported layer {p['type']} is opaque ({note}); its shape comes "
                                    "from the import trace", "replace it with catalog blocks to edit or export it"),))


def _shape(value) -> tuple:
    return tuple(value) if isinstance(value, list) else (value,)


def opaque_build(p, ins):
    raise CompileError(f"the opaque imported layer {p['type']} cannot be rebuilt from the design "
                       f"({p['note'] or 'it is not in the catalog'}); replace it with catalog blocks, or run the "
                       "original PyTorch model instead")


def blocks():
    return [BlockSpec(
        "opaque", "Opaque (imported)", "Structure", "a layer from an imported model that no block describes",
        (Param("type", "str", "unknown", "the PyTorch class or function it came from"),
         Param("output_shape", "shape", [1], "output shape measured by the import trace (no batch axis)",
               min=1, max=1 << 24),
         Param("input_shape", "shape", None, "input shape it was traced with", min=1, max=1 << 24, optional=True),
         Param("params", "int", 0, "parameters of the original layer", min=0, max=1 << 40),
         Param("note", "str", "", "why it was not mapped to a block")),
        opaque_infer, opaque_build, inputs=(Port("in", multi=True),),
        doc="Keeps an imported model's layer that the catalog cannot express, with the shapes and parameter "
            "count the import measured. It cannot be compiled or exported: replace it to go on.")]
