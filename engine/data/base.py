"""What every dataset looks like to the trainer: a :class:`DatasetBundle` of train and
validation sets plus what a design and an exported script need to know about them.

Two kinds of sets exist. :class:`TensorSet` holds every sample in memory (the built-in and
torchvision sets) and is batched by indexing, which is many times faster than collating single
samples. Any other ``torch.utils.data.Dataset`` (image folders, CSV files) is decoded sample by
sample, by the trainer in ``DataLoader`` worker processes started with ``spawn`` (a GUI process
must not fork): the sets hold only paths and labels, so they pickle.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch.nn import functional as F

from ..errors import EngineError


class DatasetError(EngineError):
    """A dataset cannot be found, read or used; the message says what to do."""


class TensorSet(torch.utils.data.Dataset):
    """Samples in memory: ``x`` uint8 (scaled by 1/255) or float32 [N, C, ...], ``y`` int64 [N]."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor):
        if len(x) != len(y):
            raise DatasetError(f"{len(x)} samples but {len(y)} labels")
        self.x, self.y = x, y.long()

    def __len__(self) -> int:
        return len(self.y)

    def batch(self, index: torch.Tensor, raw: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        """Float samples in [0, 1] (images) and labels for a tensor of indices; ``raw``: the samples
        as stored (uint8 images stay uint8, for a transfer of a quarter of the bytes)."""
        x = self.x[index]
        if raw:
            return x, self.y[index]
        return (x.float().div_(255) if x.dtype == torch.uint8 else x.float()), self.y[index]

    def __getitem__(self, i):
        x, y = self.batch(torch.tensor([i]))
        return x[0], int(y[0])

    def subset(self, index) -> "TensorSet":
        index = torch.as_tensor(index, dtype=torch.long)
        return TensorSet(self.x[index], self.y[index])


@dataclass
class DatasetBundle:
    """A dataset ready to train on. ``mean``/``std`` are per channel and computed from the
    training part; they are applied batch-wise by the trainer (after augmentation)."""

    name: str
    train: Any  # a torch Dataset with a length: TensorSet, a file set, or a Subset of one
    val: Any
    input_shape: tuple[int, ...]
    classes: list[str]
    mean: list[float] = field(default_factory=list)
    std: list[float] = field(default_factory=list)
    source: dict = field(default_factory=dict)  # how to rebuild it: {"name": ..., "options": {...}}
    skipped: int = 0  # files that failed to decode
    adapted_from: tuple[int, ...] | None = None  # the samples' own shape when load() resized them to input_shape
    feature_names: list[str] | None = None  # the columns of a table's samples (None: images, signals, volumes)

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def preview(self, n: int = 16, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """``n`` validation samples un-normalised (values in [0, 1] for images) and their labels,
        for a preview grid."""
        n = min(n, len(self.val))
        index = torch.randperm(len(self.val), generator=torch.Generator().manual_seed(seed))[:n]
        x, y = fetch(self.val, index)
        return x.numpy(), y.numpy()

    def describe(self) -> dict:
        """The ``data.json`` of a run: enough to rebuild the same pipeline in a script."""
        return {"name": self.name, "input_shape": list(self.input_shape), "classes": list(self.classes),
                "num_classes": self.num_classes, "mean": [float(m) for m in self.mean],
                "std": [float(s) for s in self.std], "train_size": len(self.train), "val_size": len(self.val),
                "val_fraction": self.source.get("val_fraction", 0.2), "split_seed": self.source.get("seed", 0),
                "source": self.source, "skipped_files": self.skipped,
                **({"features": list(self.feature_names)} if self.feature_names else {})}


def fetch(dataset, index: torch.Tensor, raw: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """A batch of any dataset by indices (samples that fail to load are left out). ``raw``: uint8
    images stay uint8 (:func:`engine.training.devices.as_float` converts them on the device)."""
    if isinstance(dataset, TensorSet):
        return dataset.batch(index, raw)
    items = [_item(dataset, int(i), raw) for i in index]
    items = [it for it in items if it is not None]
    if not items:
        return torch.empty(0), torch.empty(0, dtype=torch.long)
    return torch.stack([it[0] for it in items]), torch.tensor([int(it[1]) for it in items])


def _item(dataset, i: int, raw: bool):
    if raw:
        base: Any = dataset
        while isinstance(base, torch.utils.data.Subset):
            base, i = base.dataset, int(base.indices[i])
        if hasattr(base, "raw_item"):
            return base.raw_item(i)
    return dataset[i]


def base_dataset(dataset):
    """The dataset under any ``Subset`` wrappers (where decode failures are counted)."""
    while isinstance(dataset, torch.utils.data.Subset):
        dataset = dataset.dataset
    return dataset


def split_indices(n: int, val_fraction: float, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """A seeded random train/validation split; at least one sample on each side."""
    if n < 2:
        raise DatasetError(f"the dataset has {n} sample(s); at least 2 are needed to train and validate")
    if not 0 < val_fraction < 1:
        raise DatasetError(f"the validation fraction must be between 0 and 1, got {val_fraction}")
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    n_val = min(n - 1, max(1, round(n * val_fraction)))
    return order[n_val:], order[:n_val]


def channel_stats(x: torch.Tensor, chunk: int = 4096) -> tuple[list[float], list[float]]:
    """Per-channel mean and standard deviation of [N, C, ...] samples (uint8 scaled to [0, 1])."""
    scale = 1 / 255 if x.dtype == torch.uint8 else 1.0
    c = x.shape[1]
    total, total_sq, count = torch.zeros(c, dtype=torch.float64), torch.zeros(c, dtype=torch.float64), 0
    for start in range(0, len(x), chunk):
        part = x[start:start + chunk].double().mul_(scale).transpose(0, 1).reshape(c, -1)
        total += part.sum(1)
        total_sq += (part * part).sum(1)
        count += part.shape[1]
    mean = total / max(count, 1)
    std = (total_sq / max(count, 1) - mean * mean).clamp_min(0).sqrt().clamp_min(1e-6)
    return mean.tolist(), std.tolist()


def same_values(have, want) -> bool:
    """Shapes that differ only by a leading channel of 1, as a table's (F,) and a Conv1d's (1, F):
    a reshape, not a resize."""
    have, want = tuple(have), tuple(want)
    return have != want and (have == (1, *want) or want == (1, *have))


def adapt_tensor(x: torch.Tensor, input_shape: tuple[int, ...], chunk: int = 2048) -> torch.Tensor:
    """Resize and convert channels of in-memory samples to ``input_shape`` (C, L), (C, H, W) or
    (C, D, H, W). Grey → colour repeats the channel; colour → grey averages; sizes use (bi-,
    tri-)linear resizing; a table's (F,) and (1, F) are the same values reshaped."""
    if tuple(x.shape[1:]) == tuple(input_shape):
        return x
    if same_values(x.shape[1:], input_shape):
        return x.reshape(len(x), *input_shape)
    if x.dim() - 1 != len(input_shape):
        raise DatasetError(f"the samples are {x.dim() - 2}-D {tuple(x.shape[1:])} but the design takes "
                           f"{len(input_shape) - 1}-D input {tuple(input_shape)}; no resize can fix that")
    parts = []
    for start in range(0, len(x), chunk):
        part = x[start:start + chunk].float()
        parts.append(_convert(part, input_shape).round_().clamp_(0, 255).to(torch.uint8)
                     if x.dtype == torch.uint8 else _convert(part, input_shape))
    return torch.cat(parts) if parts else x


def _convert(x: torch.Tensor, input_shape) -> torch.Tensor:
    c = input_shape[0]
    if x.shape[1] != c:
        if x.shape[1] == 1:
            x = x.expand(-1, c, *x.shape[2:])
        elif c == 1:
            x = x.mean(1, keepdim=True)
        else:
            raise DatasetError(f"the samples have {x.shape[1]} channels and the design takes {c}; only grey ↔ "
                               "colour can be converted — change the Input block's channels")
    size = tuple(input_shape[1:])
    if tuple(x.shape[2:]) != size:
        mode = {1: "linear", 2: "bilinear", 3: "trilinear"}[len(size)]
        x = F.interpolate(x, size=size, mode=mode, align_corners=False)
    return x.contiguous()
