"""Classic hand-made convolution kernels (catalog §6) and applying one to an image.

The kernel playground of the app uses this to teach convolution: pick a kernel (or type one),
choose stride and padding, and see the output and its shape. The shape comes from the same
arithmetic the analysis pass uses (:func:`engine.blocks.common.out_size`), so the lesson and the
designer can never disagree. The convolution itself is numpy (a test holds it to torch's
``conv2d``): the playground works the moment the app opens, before torch has been imported.
"""
from __future__ import annotations

from .blocks.common import out_size
from .blocks.lazy import LazyModule
from .errors import EngineError

np = LazyModule("numpy")  # the app's first window lists the kernels without importing numpy

CLASSIC_KERNELS: dict[str, list[list[float]]] = {
    "identity": [[0, 0, 0], [0, 1, 0], [0, 0, 0]],
    "edge (diagonal)": [[1, 0, -1], [0, 0, 0], [-1, 0, 1]],
    "edge (Laplacian)": [[0, 1, 0], [1, -4, 1], [0, 1, 0]],
    "edge (all directions)": [[-1, -1, -1], [-1, 8, -1], [-1, -1, -1]],
    "sharpen": [[0, -1, 0], [-1, 5, -1], [0, -1, 0]],
    "box blur": [[1 / 9] * 3] * 3,
}


class KernelError(EngineError, ValueError):
    """A kernel, image, stride or padding the playground cannot use (a ValueError, as before)."""


def classic_kernel(name: str) -> np.ndarray:
    try:
        return np.asarray(CLASSIC_KERNELS[name], dtype=np.float32)
    except KeyError:
        raise KernelError(f"unknown kernel {name!r}; choose one of: {', '.join(CLASSIC_KERNELS)}") from None


def parse_kernel(text: str) -> np.ndarray:
    """A kernel typed by hand: rows on separate lines (or separated by ';'), numbers by spaces or
    commas. Fractions such as ``1/9`` are allowed. Raises ValueError saying what is wrong."""
    rows = [r for r in text.replace(";", "\n").splitlines() if r.strip()]
    if not rows:
        raise KernelError("the kernel is empty; type rows of numbers, e.g. '0 -1 0; -1 5 -1; 0 -1 0'")
    values = []
    for i, row in enumerate(rows, 1):
        cells = row.replace(",", " ").split()
        try:
            values.append([_number(c) for c in cells])
        except ValueError:
            raise KernelError(f"row {i} ({row.strip()!r}) has something that is not a number") from None
    widths = {len(r) for r in values}
    if len(widths) != 1:
        raise KernelError(f"the rows have different lengths ({', '.join(str(len(r)) for r in values)}); "
                         "every row needs the same number of values")
    kernel = np.asarray(values, dtype=np.float32)
    if max(kernel.shape) > 15:
        raise KernelError(f"the kernel is {kernel.shape[0]}×{kernel.shape[1]}; keep it at most 15×15")
    return kernel


def _number(cell: str) -> float:
    if "/" in cell:
        num, den = cell.split("/", 1)
        return float(num) / float(den)
    return float(cell)


def output_shape(height: int, width: int, kernel_shape: tuple[int, int], stride: int = 1,
                 padding: int = 0) -> tuple[int, int]:
    """Output height × width of a 2-D convolution (the designer's own arithmetic)."""
    return (out_size(height, kernel_shape[0], stride, padding), out_size(width, kernel_shape[1], stride, padding))


def apply_kernel(image: np.ndarray, kernel: np.ndarray, stride: int = 1, padding: int = 0) -> np.ndarray:
    """Cross-correlate a 2-D image (H×W, or C×H×W applied to every channel and summed as a conv
    layer with one filter does) with ``kernel``, zero padding; returns the H'×W' output, as
    ``torch.nn.functional.conv2d`` computes it."""
    img = np.asarray(image, dtype=np.float32)
    if img.ndim == 2:
        img = img[None]
    if img.ndim != 3:
        raise KernelError(f"expected an image of shape H×W or C×H×W, got {tuple(img.shape)}")
    k = np.asarray(kernel, dtype=np.float32)
    if k.ndim != 2:
        raise KernelError(f"expected a 2-D kernel, got shape {tuple(k.shape)}")
    if stride < 1 or padding < 0:
        raise KernelError(f"stride must be ≥ 1 and padding ≥ 0 (got stride {stride}, padding {padding})")
    h, w = output_shape(img.shape[1], img.shape[2], tuple(k.shape), stride, padding)
    if h <= 0 or w <= 0:
        raise KernelError(f"the output would be {h}×{w}: the {k.shape[0]}×{k.shape[1]} kernel does not fit "
                         f"the {img.shape[1]}×{img.shape[2]} image with padding {padding}; add padding")
    summed = np.pad(img, ((0, 0), (padding, padding), (padding, padding))).sum(axis=0, dtype=np.float32)
    out = np.zeros((h, w), dtype=np.float32)
    # One shifted, strided view of the image per kernel cell (at most 15×15 of them): the image
    # is the big axis, so this stays vectorised where it matters.
    for (dy, dx), weight in np.ndenumerate(k):
        out += weight * summed[dy:dy + stride * (h - 1) + 1:stride, dx:dx + stride * (w - 1) + 1:stride]
    return out
