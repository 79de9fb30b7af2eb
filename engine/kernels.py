"""Classic hand-made convolution kernels (catalog §6), applying one to an image, pooling a
matrix, and the course notes' worked exercises as presets.

The kernel playground of the app uses this to teach convolution and pooling: pick a kernel (or
type one), type an input matrix (or use a sample image), choose stride and padding, and see the
output, its numbers and the output-size formula with the numbers plugged in. The shape comes from the same
arithmetic the analysis pass uses (:func:`engine.blocks.common.out_size`), so the lesson and the
designer can never disagree. The convolution and pooling are numpy (tests hold them to torch's
``conv2d``, ``max_pool2d``, ``avg_pool2d`` and ``lp_pool2d``): the playground works the moment the app opens, before torch has been imported.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from .blocks.common import out_size
from .blocks.lazy import LazyModule
from .errors import EngineError

if TYPE_CHECKING:
    import numpy as np
else:
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


MAX_KERNEL = 15  # largest typed kernel side
MAX_INPUT = 16  # largest typed input matrix side: its numbers still fit in the cells


def parse_kernel(text: str) -> np.ndarray:
    """A kernel typed by hand: rows on separate lines (or separated by ';'), numbers by spaces or
    commas. Fractions such as ``1/9`` are allowed. Raises ValueError saying what is wrong."""
    return parse_matrix(text, "kernel", MAX_KERNEL, "0 -1 0; -1 5 -1; 0 -1 0")


def parse_input(text: str) -> np.ndarray:
    """An input matrix typed by hand (as :func:`parse_kernel`, at most 16×16)."""
    return parse_matrix(text, "input", MAX_INPUT, "1 1 2 4; 5 6 7 8; 3 2 1 0; 1 2 3 4")


def parse_matrix(text: str, what: str = "matrix", largest: int = MAX_INPUT, example: str = "1 2; 3 4") -> np.ndarray:
    """Rows of numbers typed by hand → a 2-D float32 array of at most ``largest``×``largest``."""
    rows = [r for r in text.replace(";", "\n").splitlines() if r.strip()]
    if not rows:
        raise KernelError(f"the {what} is empty; type rows of numbers, e.g. '{example}'")
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
    matrix = np.asarray(values, dtype=np.float32)
    if max(matrix.shape) > largest:
        raise KernelError(f"the {what} is {matrix.shape[0]}×{matrix.shape[1]}; keep it at most {largest}×{largest}")
    return matrix


def _number(cell: str) -> float:
    if "/" in cell:
        num, den = cell.split("/", 1)
        return float(num) / float(den)
    return float(cell)


def format_matrix(matrix) -> str:
    """The text :func:`parse_matrix` reads back: one row a line, whole numbers without '.0'."""
    return "\n".join(" ".join(format_number(v) for v in row) for row in matrix)


def format_number(v: float) -> str:
    """A cell's value as a student would write it: 4, -0.5, 0.1111 (four significant digits)."""
    v = float(v)
    if abs(v - round(v)) < 1e-6:
        return str(int(round(v))) if abs(v) < 1e15 else f"{v:g}"
    return f"{v:.4g}"


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


# -- pooling ---------------------------------------------------------------------------------
POOLS = {"max": "max pool", "average": "average pool", "L2": "L2 pool"}


def pool(image: np.ndarray, kind: str, size: int = 2, stride: int | None = None, padding: int = 0) -> np.ndarray:
    """Pool a 2-D matrix with a ``size``×``size`` window: ``kind`` is 'max', 'average' (zeros of
    the padding counted, as ``avg_pool2d`` does by default) or 'L2' (the square root of the SUM
    of squares, ``lp_pool2d`` with p = 2; not the root of the mean). ``stride`` defaults to
    ``size``, as in PyTorch."""
    img = np.asarray(image, dtype=np.float32)
    if img.ndim != 2:
        raise KernelError(f"pooling takes a 2-D matrix, got shape {tuple(img.shape)}")
    if kind not in POOLS:
        raise KernelError(f"unknown pooling {kind!r}; choose one of: {', '.join(POOLS)}")
    stride = size if stride is None else stride
    if size < 1 or stride < 1 or padding < 0:
        raise KernelError(f"window and stride must be ≥ 1 and padding ≥ 0 (got {size}, {stride}, {padding})")
    if padding > size // 2:
        raise KernelError(f"padding {padding} is more than half the {size}×{size} window; PyTorch allows at "
                          f"most {size // 2}")
    if kind == "L2" and padding:
        raise KernelError("L2 pooling has no padding in PyTorch (lp_pool2d); set padding to 0")
    h, w = output_shape(img.shape[0], img.shape[1], (size, size), stride, padding)
    if h <= 0 or w <= 0:
        raise KernelError(f"the output would be {h}×{w}: the {size}×{size} window does not fit the "
                          f"{img.shape[0]}×{img.shape[1]} matrix; make the window smaller")
    fill = -np.inf if kind == "max" else 0.0  # max pooling pads with −∞: the padding never wins
    padded = np.pad(img, padding, constant_values=fill)
    if kind == "L2":
        padded = padded * padded
    windows = np.stack([padded[dy:dy + stride * (h - 1) + 1:stride, dx:dx + stride * (w - 1) + 1:stride]
                        for dy in range(size) for dx in range(size)])
    if kind == "max":
        return windows.max(axis=0)
    if kind == "average":
        return windows.mean(axis=0, dtype=np.float32)
    return np.sqrt(windows.sum(axis=0, dtype=np.float32))


def size_formula(height: int, width: int, kernel_shape: tuple[int, int], stride: int, padding: int) -> str:
    """The output-size formula with the numbers plugged in, e.g.
    'out = ⌊(in + 2p − k) / s⌋ + 1: height ⌊(5 + 2·0 − 3) / 2⌋ + 1 = 2, width … = 2 → 2×2'."""
    oh, ow = output_shape(height, width, kernel_shape, stride, padding)
    kh, kw = kernel_shape
    return (f"out = ⌊(in + 2p − k) / s⌋ + 1: height ⌊({height} + 2·{padding} − {kh}) / {stride}⌋ + 1 = {oh}, "
            f"width ⌊({width} + 2·{padding} − {kw}) / {stride}⌋ + 1 = {ow} → output {oh}×{ow}")


# -- the course notes' exercises -------------------------------------------------------------
@dataclass(frozen=True)
class Preset:
    """One worked exercise: an input matrix and either a kernel (``operation`` 'conv') or a pooling
    window (``operation`` one of :data:`POOLS`), with stride, padding and what it teaches."""
    name: str
    operation: str  # "conv" or a key of POOLS
    input: tuple[tuple[float, ...], ...]
    kernel: tuple[tuple[float, ...], ...] = ()
    window: int = 2
    stride: int = 1
    padding: int = 0
    note: str = ""

    def run(self) -> np.ndarray:
        """The preset's output, computed as the playground computes it."""
        x = np.asarray(self.input, dtype=np.float32)
        if self.operation == "conv":
            return apply_kernel(x, np.asarray(self.kernel, dtype=np.float32), self.stride, self.padding)
        return pool(x, self.operation, self.window, self.stride, self.padding)


_BINARY = ((1, 1, 1, 0, 0), (0, 1, 1, 1, 0), (0, 0, 1, 1, 1), (0, 0, 1, 1, 0), (0, 1, 1, 0, 0))
_CROSS = ((1, 0, 1), (0, 1, 0), (1, 0, 1))
_SQUARE = tuple(tuple(1 if 1 <= r <= 4 and 1 <= c <= 4 else 0 for c in range(6)) for r in range(6))
_POOL_A = ((1, 1, 2, 4), (5, 6, 7, 8), (3, 2, 1, 0), (1, 2, 3, 4))
_POOL_B = ((1, 2, 3, 4), (5, 6, 7, 8), (1, 3, 5, 7), (2, 4, 6, 8))
_POOL_C = ((1, 3, 2, 0, 1), (4, 6, 5, 1, 0), (2, 1, 9, 3, 2), (0, 2, 4, 8, 1), (1, 0, 3, 2, 7))
_LAPLACIAN = tuple(tuple(row) for row in CLASSIC_KERNELS["edge (Laplacian)"])
# A 3×3 kernel with dilation 2 is this 5×5 kernel with holes: it sees 5×5 pixels with 9 weights.
_DILATED_CROSS = tuple(tuple(_CROSS[r // 2][c // 2] if r % 2 == 0 and c % 2 == 0 else 0 for c in range(5))
                       for r in range(5))
_RAMP = tuple(tuple(float(r * 7 + c) for c in range(7)) for r in range(7))

PRESETS: dict[str, Preset] = {p.name: p for p in (
    Preset("5×5 binary image, 3×3 kernel, stride 1", "conv", _BINARY, _CROSS, stride=1,
           note="(5 − 3)/1 + 1 = 3: a 3×3 output; each cell counts the 1s under the kernel's five 1s."),
    Preset("5×5 binary image, 3×3 kernel, stride 2", "conv", _BINARY, _CROSS, stride=2,
           note="(5 − 3)/2 + 1 = 2: stride 2 keeps every other output of stride 1 (the four corners)."),
    Preset("5×5 binary image, 3×3 kernel, stride 1, padding 1", "conv", _BINARY, _CROSS, stride=1, padding=1,
           note="Padding 1 keeps the 5×5 size: (5 + 2 − 3)/1 + 1 = 5."),
    Preset("Laplacian on a 6×6 image", "conv", _SQUARE, _LAPLACIAN, stride=1,
           note="6×6 with a 3×3 kernel → 4×4. The Laplacian is 0 where the image is flat (the middle of "
                "the square) and negative along its edges, most at the corners; padding 1 also shows the "
                "positive ring just outside the square."),
    Preset("3×3 kernel with dilation 2 (a 5×5 kernel with holes)", "conv", _RAMP, _DILATED_CROSS, stride=1,
           note="Dilation 2 spreads the 3×3 kernel's 9 weights over 5×5 pixels: one such layer sees 5×5, with "
                "dilation 4 it would see 9×9. The 7×7 and 15×15 of the course notes are the fields of stacks "
                "of 3×3 layers with dilations 1→2 and 1→2→4. 7×7 input → 3×3 output."),
    Preset("2×2 max pool of a 4×4 matrix", "max", _POOL_A, window=2, stride=2,
           note="Each 2×2 block gives its largest value: [[6, 8], [3, 4]]. Pooling keeps the channel count "
                "and has no parameters."),
    Preset("2×2 average pool of a 4×4 matrix", "average", _POOL_A, window=2, stride=2,
           note="Each 2×2 block gives its mean: [[3.25, 5.25], [2, 2]]."),
    Preset("2×2 L2 pool of a 4×4 matrix", "L2", _POOL_A, window=2, stride=2,
           note="L2 pooling is the square root of the SUM of squares (PyTorch's LPPool2d, p = 2), e.g. "
                "√(1 + 1 + 25 + 36) = 7.937. Some course notes call it 'RMS', but the root of the mean "
                "would be half that on a 2×2 window."),
    Preset("2×2 max pool, second 4×4 example", "max", _POOL_B, window=2, stride=2,
           note="[[6, 8], [4, 8]]."),
    Preset("3×3 max pool, stride 2 (overlapping, as AlexNet)", "max", _POOL_C, window=3, stride=2,
           note="Pooling windows may overlap (the 9 is in all four windows): AlexNet pools 3×3 with stride 2. "
                "(5 − 3)/2 + 1 = 2."),
)}
