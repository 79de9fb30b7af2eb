"""Where an imported module comes from, and what its weights are.

``torchvision:NAME`` builds a torchvision model; ``python:MODULE:FACTORY`` imports MODULE (the
current working folder is searched first, as ``python -m`` would) and calls FACTORY, which runs
the user's own code. The module starts with random weights unless ``pretrained`` is given: True
takes torchvision's file from the local torch hub cache (:func:`engine.pretrained.hub_checkpoint`),
a path takes that file (read with ``weights_only=True``). Tensors that do not fit (another class
count) keep their random values and the origin says so. :func:`import_source` is what the command
line and the app's Import dialog both call.
"""
from __future__ import annotations

import importlib
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from torch import fx, nn

from ..errors import EngineError
from ..graph import Design
from ..pretrained import WeightsError, hub_checkpoint, read_state_dict
from .report import ImportReport
from .trace import import_module

RANDOM_WEIGHTS = "random (untrained) weights"
# Containers say nothing about the model: a design named "Sequential" would not tell one from another.
_GENERIC_CLASSES = (nn.Sequential, nn.ModuleList, nn.ModuleDict, fx.GraphModule)


@dataclass
class BuiltModule:
    module: nn.Module  # in eval mode
    name: str  # what the design is called
    weights_origin: str  # RANDOM_WEIGHTS or "pretrained weights from <file>" (+ what did not fit)


def build_module(source: str, num_classes: int | None = None, pretrained: bool | str | os.PathLike = False
                 ) -> BuiltModule:
    """``torchvision:NAME`` or ``python:MODULE:FACTORY`` → the module, its design name and the
    origin of its weights. Raises EngineError (WeightsError for weights) with a clear message."""
    kind, _, rest = source.partition(":")
    kwargs = {"num_classes": num_classes} if num_classes else {}
    if kind == "torchvision":
        import torchvision
        if rest in ("googlenet", "inception_v3"):
            kwargs.update(aux_logits=False, init_weights=False)  # the auxiliary heads are training-only
        try:
            module = torchvision.models.get_model(rest, weights=None, **kwargs)
        except ValueError as e:
            raise EngineError(f"torchvision:{rest}: {e}") from None
        name = rest
    elif kind == "python":
        module_name, _, factory = rest.partition(":")
        if not module_name or not factory:
            raise EngineError(f"{source!r}: write the factory as python:package.module:function")
        module = getattr(_import_from_working_folder(module_name), factory)(**kwargs)
        if not isinstance(module, nn.Module):
            raise EngineError(f"{source}: the factory returned a {type(module).__name__}, not an nn.Module")
        name = type(module).__name__ if not isinstance(module, _GENERIC_CLASSES) else \
            f"{module_name.rpartition('.')[2]}.{factory}"
    else:
        raise EngineError(f"unknown source {source!r}: use a path, torchvision:NAME or python:MODULE:FACTORY")
    origin = RANDOM_WEIGHTS
    if pretrained:
        if pretrained is True:
            if kind != "torchvision":
                raise WeightsError("give the pretrained weights file of your module: the torch hub cache holds "
                                   "torchvision's weights only")
            path = hub_checkpoint(rest)
        else:
            path = Path(pretrained)
            if not path.is_file():
                raise WeightsError(f"no pretrained weights file at {path}")
        origin = load_what_fits(module, path)
        if rest in ("googlenet", "inception_v3"):  # torchvision turns transform_input on with its weights
            origin += ("; the import leaves torchvision's transform_input off, so feed inputs normalised "
                       "as (x - 0.5) / 0.5 per channel")
    return BuiltModule(module.eval(), name, origin)


def _import_from_working_folder(module_name: str):
    """``importlib.import_module`` with the current working folder searched first: a module
    beside the user's files is found however the program was started."""
    here = os.getcwd()
    added = here not in sys.path
    if added:
        sys.path.insert(0, here)
    try:
        return importlib.import_module(module_name)
    finally:
        if added:
            sys.path.remove(here)


def load_what_fits(module: nn.Module, path: Path) -> str:
    """Copy the tensors of the weights file at ``path`` that fit ``module`` by name and shape;
    returns the origin text, naming what kept its random values. Raises WeightsError when
    nothing fits."""
    source = read_state_dict(path)
    ours = module.state_dict()
    fits = {k: v for k, v in source.items() if k in ours and tuple(ours[k].shape) == tuple(v.shape)}
    if not fits:
        raise WeightsError(f"no tensor in {path} fits {type(module).__name__} (names or shapes differ)")
    module.load_state_dict(fits, strict=False)
    origin = f"pretrained weights from {path}"
    differ = [k for k in ours if k in source and k not in fits]
    lacking = [k for k in ours if k not in source]
    unused = [k for k in source if k not in ours]
    for keys, what in ((differ, "keep random values: their shapes differ"),
                       (lacking, "keep random values: the file lacks them"),
                       (unused, "of the file have no place in the module")):
        if keys:
            origin += f"; {len(keys)} tensors {what} ({', '.join(keys[:4])}{', ...' if len(keys) > 4 else ''})"
    return origin


def import_source(source: str, input_shape, num_classes: int | None = None,
                  pretrained: bool | str | os.PathLike = False) -> tuple[nn.Module, Design, ImportReport]:
    """Build the module :func:`build_module` describes and trace it into a design; the report
    says where the weights come from."""
    built = build_module(source, num_classes, pretrained)
    design, report = import_module(built.module, input_shape, built.name)
    report.weights_origin = built.weights_origin
    return built.module, design, report


__all__ = ["RANDOM_WEIGHTS", "BuiltModule", "build_module", "import_source", "load_what_fits"]
