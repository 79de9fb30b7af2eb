"""Trace a module with torch.fx, run it once on zeros to measure every shape, build the design
and lay it out as the app's Auto Layout does."""
from __future__ import annotations

import torch
from torch import fx, nn
from torch.fx.passes.shape_prop import ShapeProp

from ..graph import Design
from ..layout import lay_out
from .builder import Builder
from .report import ImportReport, ModuleImportError


def import_module(module: nn.Module, input_shape, name: str | None = None) -> tuple[Design, ImportReport]:
    """Trace ``module`` with a batch of ``input_shape`` (no batch axis) and build the design."""
    input_shape = tuple(int(s) for s in input_shape)
    try:
        gm = fx.symbolic_trace(module)
    except Exception as e:  # fx raises many kinds: data-dependent control flow, unsupported ops
        raise ModuleImportError(f"torch.fx cannot trace {type(module).__name__}: {e}. Only modules whose "
                                "forward does not branch on tensor values can be imported.") from None
    was_training = module.training
    gm.eval()
    try:
        with torch.no_grad():
            ShapeProp(gm).propagate(torch.zeros(2, *input_shape))
    except Exception as e:
        raise ModuleImportError(f"{type(module).__name__} does not run on an input of shape "
                                f"{input_shape}: {e}") from None
    finally:
        gm.train(was_training)
    builder = Builder(gm, name or type(module).__name__, input_shape)
    builder.run()
    # Laid out as the app's Auto Layout lays it out, whoever asked (the command line, the Import
    # dialog, a script): the trace's own order put DenseNet in one row of 433 nodes 160 px apart.
    lay_out(builder.design)
    return builder.design, builder.report

