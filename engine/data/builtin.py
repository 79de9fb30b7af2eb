"""Datasets that work offline: real handwritten digits bundled with the project, and three
procedural sets generated from a seed (shapes for translation invariance, 1-D signals for the
time-delay-network idea of finding a pattern anywhere in a sequence, 3-D volumes of spheres,
cubes and rods for Conv3d designs)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from .base import DatasetError, TensorSet

RESOURCES = Path(__file__).resolve().parents[2] / "resources" / "data"

DIGIT_CLASSES = [str(i) for i in range(10)]
SHAPE_CLASSES = ["circle", "square", "triangle", "cross"]
SIGNAL_CLASSES = ["none", "pulse", "wave", "ramp"]


def digits() -> tuple[TensorSet, list[str]]:
    """The 1,797 8×8 UCI handwritten digits (Alpaydin & Kaynak, CC BY 4.0; see
    resources/data/README.md), scaled from 0–16 to 0–255."""
    path = RESOURCES / "digits8x8.npz"
    try:
        with np.load(path) as f:
            images, labels = f["images"], f["labels"]
    except OSError as e:
        raise DatasetError(f"the bundled digits file is missing or unreadable ({path}): {e}") from None
    x = torch.from_numpy((images.astype(np.float32) * (255 / 16)).round().clip(0, 255).astype(np.uint8))
    return TensorSet(x.unsqueeze(1), torch.from_numpy(labels.astype(np.int64))), DIGIT_CLASSES


def shapes(n: int = 3000, size: int | tuple[int, int] = 32, channels: int = 1, seed: int = 0,
           noise: float = 0.08) -> tuple[TensorSet, list[str]]:
    """Filled circles, squares, triangles and crosses at a random position, scale and rotation
    on a noisy background; with more than one channel each shape gets a random colour."""
    h, w = (size, size) if isinstance(size, int) else tuple(size)
    if n < 1 or h < 8 or w < 8 or channels < 1:
        raise DatasetError(f"shapes need n ≥ 1, a size of at least 8×8 and ≥ 1 channel (got n={n}, "
                           f"size={h}×{w}, channels={channels})")
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, len(SHAPE_CLASSES), n)
    side = min(h, w)
    radius = rng.uniform(0.18, 0.38, n) * side
    cy = rng.uniform(radius, h - radius)  # keep the whole shape inside the image
    cx = rng.uniform(radius, w - radius)
    angle = rng.uniform(0, 2 * np.pi, n)
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32) + 0.5
    images = np.empty((n, channels, h, w), np.uint8)
    for start in range(0, n, 512):  # bounded memory for large n
        s = slice(start, min(n, start + 512))
        dy, dx = ys[None] - cy[s, None, None], xs[None] - cx[s, None, None]
        cos, sin = np.cos(angle[s])[:, None, None], np.sin(angle[s])[:, None, None]
        r = radius[s, None, None]
        u, v = (dx * cos + dy * sin) / r, (-dx * sin + dy * cos) / r
        masks = np.stack([u * u + v * v <= 1,
                          (np.abs(u) <= 0.75) & (np.abs(v) <= 0.75),
                          (v <= 0.5) & (np.sqrt(3) * u - v <= 1) & (-np.sqrt(3) * u - v <= 1),
                          ((np.abs(u) <= 0.22) | (np.abs(v) <= 0.22)) & (np.abs(u) <= 1) & (np.abs(v) <= 1)])
        mask = masks[labels[s], np.arange(s.stop - s.start)].astype(np.float32)  # [b, h, w]
        b = s.stop - s.start
        colour = rng.uniform(0.55, 1.0, (b, channels)) if channels > 1 else rng.uniform(0.6, 1.0, (b, 1))
        img = mask[:, None] * colour[:, :, None, None] + rng.normal(0, noise, (b, channels, h, w))
        images[s] = (img.clip(0, 1) * 255).round().astype(np.uint8)
    return TensorSet(torch.from_numpy(images), torch.from_numpy(labels)), SHAPE_CLASSES


def signal(n: int = 3000, length: int = 64, seed: int = 0, noise: float = 0.35) -> tuple[TensorSet, list[str]]:
    """Noisy 1-D sequences [1, length]; the class says which pattern (if any) is hidden at a
    random place: a pulse, one period of a wave, or a rising ramp."""
    if n < 1 or length < 24:
        raise DatasetError(f"signals need n ≥ 1 and a length of at least 24 (got n={n}, length={length})")
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, len(SIGNAL_CLASSES), n)
    x = rng.normal(0, noise, (n, length)).astype(np.float32)
    t = np.linspace(0, 1, 16, dtype=np.float32)
    patterns = [np.zeros(16, np.float32), np.where((t > 0.2) & (t < 0.8), 1.0, 0.0).astype(np.float32),
                np.sin(2 * np.pi * t).astype(np.float32), (2 * t - 1).astype(np.float32)]
    start = rng.integers(0, length - 16 + 1, n)
    gain = rng.uniform(0.8, 1.3, n).astype(np.float32)
    for i in range(n):
        x[i, start[i]:start[i] + 16] += gain[i] * patterns[labels[i]]
    return TensorSet(torch.from_numpy(x[:, None]), torch.from_numpy(labels)), SIGNAL_CLASSES


VOLUME_CLASSES = ["sphere", "cube", "rod"]


def volumes(n: int = 900, size: int | tuple[int, int, int] = 16, seed: int = 0,
            noise: float = 0.08) -> tuple[TensorSet, list[str]]:
    """Small 3-D volumes [1, D, H, W] holding one solid sphere, cube or rod at a random place,
    size and orientation on a noisy background: what a Conv3d design can learn offline (the
    orientation is what tells a rod from a cube seen edge-on in one slice)."""
    d, h, w = (size, size, size) if isinstance(size, int) else tuple(size)
    if n < 1 or min(d, h, w) < 8:
        raise DatasetError(f"volumes need n ≥ 1 and a size of at least 8×8×8 (got n={n}, size={d}×{h}×{w})")
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, len(VOLUME_CLASSES), n)
    side = min(d, h, w)
    radius = rng.uniform(0.22, 0.4, n) * side
    centre = np.stack([rng.uniform(radius, extent - radius) for extent in (d, h, w)], axis=1)  # [n, 3], inside
    rotation = np.linalg.qr(rng.normal(size=(n, 3, 3)))[0]  # random orthonormal axes per sample
    grid = np.mgrid[0:d, 0:h, 0:w].reshape(3, -1).T.astype(np.float32) + 0.5  # [V, 3] voxel centres
    out = np.empty((n, 1, d, h, w), np.uint8)
    for start in range(0, n, 128):  # bounded memory for large n
        s = slice(start, min(n, start + 128))
        offset = grid[None] - centre[s, None]  # [b, V, 3]
        u = np.matmul(offset, rotation[s].transpose(0, 2, 1)) / radius[s, None, None]  # in the shape's own axes
        along, across = np.abs(u[..., 0]), np.sqrt(u[..., 1] ** 2 + u[..., 2] ** 2)
        masks = np.stack([(u * u).sum(-1) <= 1,
                          np.abs(u).max(-1) <= 0.7,
                          (along <= 1) & (across <= 0.32)])
        b = s.stop - s.start
        mask = masks[labels[s], np.arange(b)].astype(np.float32)  # [b, V]
        brightness = rng.uniform(0.6, 1.0, (b, 1))
        values = mask * brightness + rng.normal(0, noise, mask.shape)
        out[s, 0] = (values.clip(0, 1) * 255).round().astype(np.uint8).reshape(b, d, h, w)
    return TensorSet(torch.from_numpy(out), torch.from_numpy(labels)), VOLUME_CLASSES
