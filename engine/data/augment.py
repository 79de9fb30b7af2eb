"""Training augmentations of catalog §5, applied to whole batches on the training device.

Flips, random crop (pad then crop), rotation, translation, rescale, shear, stretch and colour
jitter (brightness, contrast, saturation). Every sample draws its own parameters from torch's
global generator, which checkpoints save, so a resumed run sees the same augmentations.
Images are float [N, C, H, W] in [0, 1] (before normalisation); 1-D signals [N, C, L] support
flip, crop and translation; 3-D volumes [N, C, D, H, W] flips only; tables [N, F] none (refused
with a message, as the other unsupported ones are).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, fields

import torch
from torch.nn import functional as F

from .base import DatasetError

# What each kind of sample can take, by the rank of its shape: a table (F,), a signal (C, L), an
# image (C, H, W), a volume (C, D, H, W). A signal ignores the rest; a table or volume refuses it.
SUPPORTED_BY_RANK: dict[int, frozenset[str]] = {
    1: frozenset(),
    2: frozenset({"hflip", "crop_padding", "translate"}),
    4: frozenset({"hflip", "vflip"}),
}


def supported(input_shape) -> frozenset[str] | None:
    """The augmentations that act on samples of ``input_shape`` (None: all of them, images)."""
    return SUPPORTED_BY_RANK.get(len(tuple(input_shape)))


@dataclass
class Augment:
    hflip: float = 0.0         # probability of a left-right flip
    vflip: float = 0.0         # probability of an upside-down flip
    crop_padding: int = 0      # pad by this many pixels, then crop back at a random offset
    rotation: float = 0.0      # ± degrees
    translate: float = 0.0     # ± fraction of the size
    scale: tuple[float, float] = (1.0, 1.0)  # zoom range
    shear: float = 0.0         # ± degrees
    stretch: float = 0.0       # ± fraction, independently per axis
    brightness: float = 0.0    # ± fraction
    contrast: float = 0.0      # ± fraction
    saturation: float = 0.0    # ± fraction (colour images)

    @classmethod
    def from_dict(cls, options: dict | None) -> "Augment":
        options = dict(options or {})
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(options) - known)
        if unknown:
            raise DatasetError(f"unknown augmentation(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        if "scale" in options:
            s = options["scale"]
            options["scale"] = (float(s), float(s)) if isinstance(s, (int, float)) else (float(s[0]), float(s[1]))
        return cls(**options)

    def to_dict(self) -> dict:
        return {f.name: (list(v) if isinstance(v := getattr(self, f.name), tuple) else v) for f in fields(self)
                if getattr(self, f.name) != f.default}

    @property
    def active(self) -> bool:
        return bool(self.to_dict())

    @property
    def _affine(self) -> bool:
        return bool(self.rotation or self.translate or self.shear or self.stretch or self.scale != (1.0, 1.0))

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if not self.active or x.numel() == 0:
            return x
        if x.dim() == 2:
            raise DatasetError("augmentation moves or recolours pixels, and a table's features have no "
                               "neighbours or colour: turn the augmentations off to train on tabular data")
        if x.dim() == 3:
            return self._signal(x)
        if x.dim() == 5:
            return self._volume(x)
        if self.hflip:
            x = _flip_some(x, self.hflip, -1)
        if self.vflip:
            x = _flip_some(x, self.vflip, -2)
        if self.crop_padding:
            x = _random_crop(x, self.crop_padding)
        if self._affine:
            x = self._warp(x)
        if self.brightness or self.contrast or self.saturation:
            x = self._colour(x)
        return x

    def _volume(self, x):
        """3-D volumes [N, C, D, H, W]: flips only (left-right, upside-down)."""
        unsupported = sorted(k for k in self.to_dict() if k not in SUPPORTED_BY_RANK[4])
        if unsupported:
            raise DatasetError(f"for 3-D volumes only the flips are supported, not {', '.join(unsupported)}: turn "
                               "those augmentations off")
        if self.hflip:
            x = _flip_some(x, self.hflip, -1)
        if self.vflip:
            x = _flip_some(x, self.vflip, -2)
        return x

    def _signal(self, x):
        if self.hflip:
            x = _flip_some(x, self.hflip, -1)
        pad = self.crop_padding or round(self.translate * x.shape[-1])
        if pad:
            x = _random_crop(x, pad)
        return x

    def _warp(self, x):
        n, dev = len(x), x.device

        def uniform(half):
            return (torch.rand(n, device=dev) * 2 - 1) * half

        angle = uniform(math.radians(self.rotation))
        shear = uniform(math.radians(self.shear))
        lo, hi = self.scale
        zoom = lo + torch.rand(n, device=dev) * (hi - lo)
        sx, sy = zoom * (1 + uniform(self.stretch)), zoom * (1 + uniform(self.stretch))
        cos, sin = torch.cos(angle), torch.sin(angle)
        # theta maps output to input coordinates, so it is the inverse of the wanted warp:
        # dividing by the zoom makes zoom > 1 enlarge the content.
        theta = torch.zeros(n, 2, 3, device=dev)
        theta[:, 0, 0], theta[:, 0, 1] = cos / sx, (-sin + torch.tan(shear) * cos) / sx
        theta[:, 1, 0], theta[:, 1, 1] = sin / sy, (cos + torch.tan(shear) * sin) / sy
        theta[:, 0, 2], theta[:, 1, 2] = uniform(2 * self.translate), uniform(2 * self.translate)
        grid = F.affine_grid(theta, list(x.shape), align_corners=False)
        return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)

    def _colour(self, x):
        n, dev = len(x), x.device
        shape = (n,) + (1,) * (x.dim() - 1)
        if self.brightness:
            x = x * (1 + (torch.rand(shape, device=dev) * 2 - 1) * self.brightness)
        if self.contrast:
            mean = x.mean(dim=tuple(range(1, x.dim())), keepdim=True)
            x = (x - mean) * (1 + (torch.rand(shape, device=dev) * 2 - 1) * self.contrast) + mean
        if self.saturation and x.shape[1] == 3:
            grey = (x * torch.tensor([0.299, 0.587, 0.114], device=dev).view(1, 3, 1, 1)).sum(1, keepdim=True)
            x = (x - grey) * (1 + (torch.rand(shape, device=dev) * 2 - 1) * self.saturation) + grey
        return x.clamp(0, 1)


def _flip_some(x, probability, dim):
    chosen = torch.rand(len(x), device=x.device) < probability
    return torch.where(chosen.view(-1, *([1] * (x.dim() - 1))), x.flip(dim), x)


def _random_crop(x, pad):
    """Zero-pad the spatial axes by ``pad`` and cut the original size at a random offset per sample."""
    n, size = len(x), x.shape[2:]
    padded = F.pad(x, [pad, pad] * len(size))
    offsets = [torch.randint(0, 2 * pad + 1, (n,), device=x.device) for _ in size]
    batch = torch.arange(n, device=x.device)
    channels = torch.arange(x.shape[1], device=x.device)
    if len(size) == 1:
        cols = offsets[0][:, None] + torch.arange(size[0], device=x.device)
        return padded[batch[:, None, None], channels[None, :, None], cols[:, None, :]]
    rows = offsets[0][:, None] + torch.arange(size[0], device=x.device)
    cols = offsets[1][:, None] + torch.arange(size[1], device=x.device)
    return padded[batch[:, None, None, None], channels[None, :, None, None], rows[:, None, :, None],
                  cols[:, None, None, :]]
