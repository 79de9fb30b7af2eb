"""What an exported model expects of its input, written into every export (issue 16, item 3).

The trainer scales images to [0, 1] and then normalises each channel with the training set's
mean and std (``engine.training.loop.Batcher.normalize``). A model fed raw [0, 1] input sees
other numbers than it learned on (issue 16: a digits model scored 15 % that way against 37 %
normalised; a LeNet-5 trained one epoch on the bundled digits at 16×16 scores 14 % against 22 %).
So the input shape, the normalisation and the class names travel with the weights — in the
bundle's and ``.pt``'s metadata, ONNX ``metadata_props``, the ``.pt2``'s extra files, the
generated Python (a ``preprocess`` function, or the normalisation inside the model) and a README.
When the export does not know them (untrained weights, or weights given without the run's
data.json) it says so instead of inventing numbers.
"""
from __future__ import annotations

import json
from dataclasses import dataclass

import torch
from torch import nn

from .render import literal

# Said wherever the normalisation is needed; no figure, as the loss depends on the model and data.
FIGURE = "the model then sees other numbers than it learned on, and loses much of its accuracy"


@dataclass(frozen=True)
class Preprocessing:
    input_shapes: tuple[tuple[int, ...], ...]
    mean: tuple[float, ...] | None  # None: no normalisation (see ``status``)
    std: tuple[float, ...] | None
    classes: tuple[str, ...] | None
    dataset: str | None
    status: str  # "normalised", "raw" (trained without normalisation), "untrained", "unknown"
    baked: bool = False  # the normalisation is inside the exported model

    @classmethod
    def of(cls, design, data: dict | None, train_config: dict | None = None, untrained: bool = False,
           baked: bool = False) -> Preprocessing:
        """From a run's data.json and config.json (``normalize`` false: trained on raw input)."""
        shapes = tuple(tuple(int(v) for v in n.params["shape"]) for n in design.input_nodes())
        data = data if isinstance(data, dict) else None
        classes = data.get("classes") if data else None
        classes = tuple(str(c) for c in classes) if isinstance(classes, list) else None
        dataset = str(data.get("name")) if data and data.get("name") is not None else None
        if untrained and not data:
            return cls(shapes, None, None, None, None, "untrained", False)
        mean: list = data.get("mean") or [] if data else []
        std: list = data.get("std") or [] if data else []
        if not (_numbers(mean) and _numbers(std) and len(mean) == len(std) and len(shapes) == 1
                and len(mean) in (1, shapes[0][0] if shapes[0] else 1)):
            return cls(shapes, None, None, classes, dataset, "unknown", False)
        if (train_config or {}).get("normalize", True) is False:
            return cls(shapes, None, None, classes, dataset, "raw", False)
        return cls(shapes, tuple(float(m) for m in mean), tuple(float(s) for s in std), classes, dataset,
                   "normalised", baked)

    @property
    def normalises(self) -> bool:
        return self.mean is not None

    # -- the statement everything else repeats --------------------------------------------
    def sentence(self) -> str:
        """One paragraph saying what input the model takes."""
        shape = " and ".join("×".join(map(str, s)) for s in self.input_shapes)
        where = f" ({self.dataset})" if self.dataset else ""
        images = all(len(s) == 3 for s in self.input_shapes)
        scaled = "values in [0, 1] (uint8 images ÷ 255)" if images else "values as in the data file"
        axis = "channel" if not self.input_shapes or len(self.input_shapes[0]) != 1 else "feature"
        if self.status == "untrained":
            return (f"Input: {shape} (batch axis first). These weights are untrained: there is no training data, "
                    "so no normalisation and no class names to go with them.")
        if self.status == "unknown":
            names = "" if self.classes is None else " (the class names are listed below)"
            return (f"Input: {shape} (batch axis first). Normalisation: unknown — this export was not given a "
                    "mean/std for this input (the data.json of the run that trained these weights)"
                    f"{names}. Use that run's mean/std: without them the predictions are wrong ({FIGURE}).")
        if self.status == "raw":
            return (f"Input: {shape} (batch axis first), {scaled}; the model was trained on "
                    f"that input{where} without normalisation: do not normalise.")
        numbers = f"mean {list(self.mean or ())}, std {list(self.std or ())}"
        if self.baked:
            return (f"Input: {shape} (batch axis first), raw {scaled}. The "
                    f"per-{axis} normalisation of the training data{where} ({numbers}) is inside the model: "
                    "do not normalise again.")
        return (f"Input: {shape} (batch axis first), {scaled}, then normalised "
                f"per {axis} as in training{where}: x = (x - mean) / std with {numbers}. Skip this and the "
                f"predictions are wrong ({FIGURE}).")

    def as_dict(self) -> dict:
        return {"input_shapes": [list(s) for s in self.input_shapes], "input_range": "[0, 1]",
                "normalisation": self.status, "mean": list(self.mean) if self.mean else None,
                "std": list(self.std) if self.std else None, "normalisation_in_model": self.baked,
                "classes": list(self.classes) if self.classes is not None else None, "dataset": self.dataset,
                "note": self.sentence()}

    def metadata(self) -> dict[str, str]:
        """String key/values for ONNX ``metadata_props`` and safetensors metadata."""
        d = self.as_dict()
        return {"preprocessing": json.dumps(d, ensure_ascii=False),
                "input_shape": json.dumps(d["input_shapes"][0] if len(self.input_shapes) == 1 else d["input_shapes"]),
                "normalisation": self.status, "mean": json.dumps(d["mean"]), "std": json.dumps(d["std"]),
                "normalisation_in_model": json.dumps(self.baked),
                "classes": json.dumps(d["classes"], ensure_ascii=False)}

    # -- generated Python -------------------------------------------------------------------
    def python(self) -> str:
        """Constants and ``preprocess`` for the exported file (after its imports)."""
        classes = literal(list(self.classes)) if self.classes is not None else "None"
        mean = literal(list(self.mean)) if self.mean else "None"
        std = literal(list(self.std)) if self.std else "None"
        notes = {"untrained": "# No normalisation or class names: the weights are untrained.",
                 "unknown": "# Normalisation and class names unknown: the export was not given the run's data.json.\n"
                            "# Set MEAN and STD to that run's values, or the predictions are wrong.",
                 "raw": "# Trained on [0, 1] input without normalisation.",
                 "normalised": "# Per-channel normalisation of the training data (the trainer applied it to [0, 1] input)."}
        baked = ("# NORMALISATION_IN_MODEL: the model's forward normalises; give it raw [0, 1] input."
                 if self.baked else "# NORMALISATION_IN_MODEL is False: call preprocess(x) before the model.")
        dims = ", ".join(map(str, self.input_shapes[0])) if self.input_shapes else "C, ..."
        return f'''{notes[self.status]}
MEAN = {mean}
STD = {std}
NORMALISATION_IN_MODEL = {self.baked!r}
{baked}
CLASSES = {classes}


def normalize(x: torch.Tensor) -> torch.Tensor:
    """(x - MEAN) / STD per channel (axis 1), exactly as the trainer did; x unchanged without MEAN."""
    if MEAN is None:
        return x
    shape = (1, -1) + (1,) * (x.dim() - 2)
    mean = torch.tensor(MEAN, dtype=torch.float32, device=x.device).view(shape)
    std = torch.tensor(STD, dtype=torch.float32, device=x.device).view(shape)
    return (x - mean) / std


def preprocess(x: torch.Tensor) -> torch.Tensor:
    """Raw input → what the model takes: a batch [N, {dims}] or one sample (a batch axis is
    added), uint8 images divided by 255, float32 in [0, 1], then normalised
    with MEAN and STD unless the normalisation is in the model (NORMALISATION_IN_MODEL).
    Skipping it when it is needed gives wrong predictions:
    {FIGURE}."""
    if x.dim() == len(INPUT_SHAPES[0]):
        x = x.unsqueeze(0)
    x = x.float().div_(255) if x.dtype == torch.uint8 else x.float()
    return x if NORMALISATION_IN_MODEL else normalize(x)
'''

    def readme(self, name: str, fmt: str, files: list[str], usage: str, origin: str | None) -> str:
        lines = [f"# {name or 'model'} — exported by Network Designer", "",
                 f"Format: {fmt}. Files: {', '.join(files)}.", ""]
        if origin:
            lines += [f"Weights: {origin}.", ""]
        lines += ["## Input", "", self.sentence(), ""]
        if self.normalises:
            lines += ["| channel | mean | std |", "|---|---|---|"]
            lines += [f"| {i} | {m!r} | {s!r} |" for i, (m, s) in enumerate(zip(self.mean or (), self.std or ()))]
            lines.append("")
        lines += ["## Classes", ""]
        if self.classes is None:
            lines += ["Unknown (see above); outputs are indexed 0, 1, …", ""]
        else:
            lines += [f"{i}. {c}" for i, c in enumerate(self.classes)] + [""]
        lines += ["## Use", "", "```python", usage.rstrip(), "```", ""]
        return "\n".join(lines)


def _numbers(value) -> bool:
    return isinstance(value, list) and bool(value) and all(
        isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)


class Normalized(nn.Module):
    """``model(normalize(x))``: the exported model with the trainer's normalisation inside, so it
    takes raw [0, 1] input (ONNX and ``.pt2`` with the normalisation baked in)."""

    def __init__(self, model: nn.Module, mean, std):
        super().__init__()
        self.model = model
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32), persistent=False)
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32), persistent=False)

    def forward(self, x):
        shape = (1, -1) + (1,) * (x.dim() - 2)
        return self.model((x - self.mean.view(shape)) / self.std.view(shape))
