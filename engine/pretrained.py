"""Torchvision weights onto compiled templates (the ground transfer learning stands on).

    model = compile_design(design)                   # e.g. templates.build("resnet18")
    result = load_torchvision_state_dict(model, design, "resnet18-f37072fd.pth")
    # or a torchvision model / state_dict in memory; nothing is ever downloaded here

Torchvision names map onto ours by rule, not by table: a key ``layer1.0.downsample.0.weight``
belongs to the design node whose id is the longest ``_``-joined prefix of its path
(``layer1_0``), and the rest of the path, ``_``-joined, is the submodule inside that node
(``downsample_0``). Templates name their nodes so (``inception3a``, ``conv1_bn``, ``aux1``).
AlexNet's and VGG's ``features.N`` / ``classifier.N`` are positions in torchvision's
``nn.Sequential``; the chain before the classifier pool and the chain after ``flatten`` are
numbered the same way. Submodule names come from ``model.node_names``, so relabelled nodes
still load.

``strict=True`` (exact architecture) refuses any unmatched or differently shaped tensor;
``strict=False`` (transfer learning: another class count, another stem) loads what fits and
reports the rest in the returned :class:`LoadResult`.

:func:`hub_checkpoint` finds torchvision's pretrained file for a model where torchvision itself
would have downloaded it (``torch.hub.get_dir()/checkpoints``, named as in the model's weights
enum); this module never downloads, so when the file is not there the error says where it
looked and how to get it.
"""
from __future__ import annotations

import os
import pickle
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import torch
from torch import nn

from .errors import EngineError
from .graph import Design


class WeightsError(EngineError, ValueError):
    """The weights do not fit the design (strict loading), or the file cannot be read."""


@dataclass
class LoadResult:
    loaded: list[str] = field(default_factory=list)  # our state_dict keys that received a tensor
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (torchvision key, why)
    missing: list[str] = field(default_factory=list)  # our keys left as they were

    @property
    def complete(self) -> bool:
        return not self.skipped and not self.missing

    def summary(self) -> str:
        text = f"{len(self.loaded)} tensors loaded"
        if self.skipped:
            text += f", {len(self.skipped)} skipped ({self.skipped[0][0]}: {self.skipped[0][1]}" + \
                    (", ..." if len(self.skipped) > 1 else "") + ")"
        if self.missing:
            text += f", {len(self.missing)} left at their initial values ({', '.join(self.missing[:3])}" + \
                    (", ..." if len(self.missing) > 3 else "") + ")"
        return text


def read_state_dict(source) -> dict[str, torch.Tensor]:
    """A state_dict from a file path (.pth/.pt via ``torch.load(weights_only=True)``, or
    .safetensors), an ``nn.Module`` or a mapping; checkpoint wrappers ``{"state_dict": ...}``
    and ``{"model": ...}`` are unwrapped."""
    if isinstance(source, nn.Module):
        return dict(source.state_dict())
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        data: Any
        if path.suffix == ".safetensors":
            data = _read_safetensors(path)
        else:
            try:
                data = torch.load(path, map_location="cpu", weights_only=True)
            except (OSError, RuntimeError, ValueError, pickle.UnpicklingError) as e:
                raise WeightsError(f"cannot read weights from {path}: {e}") from e
    else:
        data = source
    if not isinstance(data, Mapping):
        raise WeightsError("expected a state_dict (a mapping of names to tensors)")
    for wrapper in ("state_dict", "model"):
        if wrapper in data and isinstance(data[wrapper], Mapping):
            data = data[wrapper]
    # DataParallel / DistributedDataParallel checkpoints prefix every key with "module."
    if data and all(k.startswith("module.") for k in data):
        data = {k[len("module."):]: v for k, v in data.items()}
    return {k: v for k, v in data.items() if isinstance(v, torch.Tensor)}


def _read_safetensors(path: Path) -> dict[str, torch.Tensor]:
    """The header is checked completely first (engine.safetensors_header); every failure,
    the loader's included, is a WeightsError with a one-line reason."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    from .safetensors_header import SafetensorsHeaderError, check_safetensors_file
    try:
        check_safetensors_file(path)
    except SafetensorsHeaderError as e:
        raise WeightsError(f"cannot read weights: {e}") from None
    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError, RuntimeError, TypeError, KeyError, OverflowError,
            MemoryError) as e:
        reason = next((line.strip() for line in str(e).splitlines() if line.strip()), type(e).__name__)
        raise WeightsError(f"cannot read weights from {path.name}: {reason}") from None


def torchvision_weights_url(name: str) -> str:
    """The URL of the default pretrained weights of torchvision model ``name``."""
    import torchvision
    try:
        weights = torchvision.models.get_model_weights(name)
    except (ValueError, KeyError) as e:
        raise WeightsError(f"torchvision has no pretrained weights for {name!r}: {e}") from None
    return str(weights.DEFAULT.url)


def hub_checkpoint(name: str) -> Path:
    """torchvision's default pretrained weights for ``name`` in the local torch hub cache.
    Raises :class:`WeightsError` saying where it looked and how to get the file."""
    url = torchvision_weights_url(name)
    folder = Path(torch.hub.get_dir()) / "checkpoints"
    path = folder / Path(urllib.parse.urlparse(url).path).name
    if not path.is_file():
        raise WeightsError(
            f"no pretrained weights for {name} in the torch hub cache: {path} does not exist. Download "
            f"{url} into {folder} (torchvision.models.get_model({name!r}, weights='DEFAULT') does so on a "
            "machine with network access; set TORCH_HOME to use another cache), or give the path of the file.")
    return path


def _chain_after(design: Design, start: str) -> list[str]:
    """The single-successor chain of node ids after ``start`` (stops at a fork or a merge)."""
    out: list[str] = []
    node = start
    while True:
        nxt = design.outgoing(node)
        if len(nxt) != 1 or len(design.incoming(nxt[0].dst)) != 1:
            return out
        node = nxt[0].dst
        out.append(node)


def sequential_aliases(design: Design) -> dict[str, str]:
    """``features.N`` / ``classifier.N`` → node id, numbered as torchvision's AlexNet/VGG do."""
    inputs = design.input_nodes()
    if len(inputs) != 1:
        return {}
    chain = _chain_after(design, inputs[0].id)
    aliases, part, index = {}, "features", 0
    for node_id in chain:
        block = design.nodes[node_id].block
        if block in ("adaptive_avgpool2d", "output"):
            continue
        if block == "flatten":
            part, index = "classifier", 0
            continue
        aliases[f"{part}.{index}"] = node_id
        index += 1
    return aliases


def torchvision_key_map(design: Design, keys, node_names: Mapping[str, str]) -> dict[str, str]:
    """torchvision key → our state_dict key, for every key that names a node of the design."""
    aliases = sequential_aliases(design) if any(k.startswith("features.") for k in keys) else {}
    mapping = {}
    for key in keys:
        *path, attr = key.split(".")
        for cut in range(len(path), 0, -1):
            node_id = aliases.get(".".join(path[:cut])) or "_".join(path[:cut])
            if node_id in node_names:
                inner = "_".join(path[cut:])
                mapping[key] = ".".join(p for p in (node_names[node_id], inner, attr) if p)
                break
    return mapping


def load_torchvision_state_dict(model: nn.Module, design: Design, state_dict, strict: bool = True) -> LoadResult:
    """Copy torchvision weights (a path, module or state_dict) into ``model``, the compiled
    ``design``. Raises :class:`WeightsError` listing every mismatch when ``strict`` and
    anything does not fit; otherwise loads what fits and says what it left out."""
    source = read_state_dict(state_dict)
    names = getattr(model, "node_names", None)
    if names is None:
        raise WeightsError("the model has no node_names: compile it with engine.compile.compile_design")
    ours = model.state_dict()
    mapping = torchvision_key_map(design, list(source), names)
    result, values = LoadResult(), {}
    for key, tensor in source.items():
        target = mapping.get(key)
        if target is None or target not in ours:
            result.skipped.append((key, "no matching layer in the design"))
        elif tuple(ours[target].shape) != tuple(tensor.shape):
            result.skipped.append((key, f"shape {tuple(tensor.shape)} does not fit {target} "
                                        f"{tuple(ours[target].shape)}"))
        else:
            values[target] = tensor
    result.loaded = list(values)
    result.missing = [k for k in ours if k not in values]
    if strict and not result.complete:
        problems = [f"  {k}: {why}" for k, why in result.skipped] + \
                   [f"  {k}: nothing in the weights for it" for k in result.missing]
        raise WeightsError(f"the weights do not fit '{design.name}' ({len(problems)} problems; "
                           "use strict=False to load what fits):\n" + "\n".join(problems[:20]))
    with torch.no_grad():
        for target, tensor in values.items():
            ours[target].copy_(tensor)
    return result


__all__ = ["hub_checkpoint", "torchvision_weights_url", "load_torchvision_state_dict", "read_state_dict", "torchvision_key_map", "sequential_aliases",
           "LoadResult", "WeightsError"]
