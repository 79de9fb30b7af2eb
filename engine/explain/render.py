"""Pictures of the explanations as PNG files (numpy + Pillow, no plotting library): every
figure has its panels, a colour bar saying what the colours mean, and a plain-language caption."""
from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np

# Colour maps as a few anchor colours, interpolated: "heat" for amounts ≥ 0 (dark → yellow),
# "signed" for changes either way (blue → white → red).
MAPS = {
    "heat": [(0, 0, 4), (87, 16, 110), (188, 55, 84), (249, 142, 9), (252, 255, 164)],
    "signed": [(33, 102, 172), (146, 197, 222), (247, 247, 247), (244, 165, 130), (178, 24, 43)],
    "grey": [(0, 0, 0), (255, 255, 255)],
}
CLASS_COLOURS = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189), (140, 86, 75),
                 (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207)]
TILE = 96  # pixels per tile side in grids
PAD = 8


def _font(size: int = 13):
    from PIL import ImageFont
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1: one fixed bitmap font
        return ImageFont.load_default()


def colourise(values: np.ndarray, kind: str = "heat") -> np.ndarray:
    """Values in [0, 1] → uint8 RGB (…×3)."""
    anchors = np.array(MAPS[kind], dtype=np.float64)
    t = np.clip(np.nan_to_num(values), 0, 1) * (len(anchors) - 1)
    i = np.minimum(t.astype(int), len(anchors) - 2)
    f = (t - i)[..., None]
    return (anchors[i] * (1 - f) + anchors[i + 1] * f).round().astype(np.uint8)


def scale_range(m: np.ndarray, signed: bool) -> tuple[float, float]:
    if signed:
        r = float(np.abs(m).max()) or 1.0
        return -r, r
    lo, hi = float(m.min()), float(m.max())
    if hi - lo <= 1e-6 * max(abs(hi), abs(lo), 1e-12):  # a constant map (rounding aside): one colour
        return lo, lo + max(abs(lo), 1.0)
    return lo, hi


def picture(sample: np.ndarray) -> np.ndarray:
    """A sample [C, H, W] in about [0, 1] as H×W×3 uint8 (grey, RGB, or the channels' mean)."""
    s = np.asarray(sample, dtype=np.float64)
    if s.shape[0] == 3:
        img = np.moveaxis(s, 0, -1)
    else:
        img = np.repeat(s.mean(0)[..., None], 3, axis=-1)
    lo, hi = float(img.min()), float(img.max())
    if lo < 0 or hi > 1:  # not a [0, 1] image (an optimised input): stretch it to its own range
        img = (img - lo) / (hi - lo if hi > lo else 1.0)
    return (np.clip(img, 0, 1) * 255).round().astype(np.uint8)


def _zoom(img: np.ndarray, size: int) -> np.ndarray:
    factor = max(1, size // max(img.shape[:2]))
    return img.repeat(factor, 0).repeat(factor, 1)


def tile(sample: np.ndarray, size: int = TILE, heat: np.ndarray | None = None, kind: str = "heat",
         vrange=None, outline=None):
    """A PIL image of one sample (image or 1-D signal), optionally with a map blended over it and
    a rectangle (``outline``: ((y0, y1), (x0, x1)) or ((x0, x1),) in sample pixels)."""
    from PIL import Image, ImageDraw
    s = np.asarray(sample)
    if s.ndim == 1:  # a table's row: its features drawn as a one-channel signal
        s = s[None]
    if s.ndim == 2:
        return _signal_tile(s, size, heat, kind, vrange, outline)
    img = picture(s).astype(np.float64)
    if heat is not None:
        lo, hi = vrange or scale_range(heat, kind == "signed")
        colour = colourise((heat - lo) / (hi - lo), kind).astype(np.float64)
        img = 0.45 * img + 0.55 * colour  # the picture stays visible under the map
    img = _zoom(img.round().astype(np.uint8), size)
    out = Image.fromarray(img)
    if outline is not None:
        f = img.shape[0] // s.shape[1]
        (y0, y1), (x0, x1) = outline
        ImageDraw.Draw(out).rectangle([x0 * f, y0 * f, x1 * f - 1, y1 * f - 1], outline=(255, 40, 40), width=2)
    return out


def _signal_tile(s: np.ndarray, size: int, heat, kind, vrange, outline):
    from PIL import Image, ImageDraw
    length = s.shape[-1]
    width, height = max(size, min(4 * length, 3 * size)), size
    out = Image.new("RGB", (width, height), (255, 255, 255))
    draw = ImageDraw.Draw(out)
    xs = np.linspace(2, width - 3, length)
    if heat is not None:
        lo, hi = vrange or scale_range(heat, kind == "signed")
        colours = colourise((np.asarray(heat) - lo) / (hi - lo), kind)
        for i in range(length):
            x0 = xs[i] - (xs[1] - xs[0]) / 2 if length > 1 else 0
            draw.rectangle([x0, height - 14, x0 + (xs[1] - xs[0] if length > 1 else width), height - 1],
                           fill=tuple(int(v) for v in colours[i]))
    if outline is not None:
        ((a, b),) = outline
        step = xs[1] - xs[0] if length > 1 else 1
        draw.rectangle([xs[0] + a * step - step / 2, 1, xs[0] + (b - 1) * step + step / 2, height - 16],
                       outline=(255, 40, 40), width=2)
    for c, row in enumerate(s):
        lo, hi = float(row.min()), float(row.max())
        ys = (height - 20) - (row - lo) / (hi - lo if hi > lo else 1.0) * (height - 26)
        draw.line(list(zip(xs.tolist(), ys.tolist())), fill=CLASS_COLOURS[c % 10], width=2)
    return out


def colour_bar(lo: float, hi: float, kind: str, label: str, height: int = 160):
    """A vertical bar of the colour map with its end values and what it measures."""
    from PIL import Image, ImageDraw
    font = _font(11)
    bar = colourise(np.linspace(1, 0, height)[:, None].repeat(14, 1), kind)
    out = Image.new("RGB", (120, height + 36), (255, 255, 255))
    out.paste(Image.fromarray(bar), (4, 18))
    draw = ImageDraw.Draw(out)
    draw.text((22, 14), f"{hi:.3g}", fill=(0, 0, 0), font=font)
    draw.text((22, height + 8), f"{lo:.3g}", fill=(0, 0, 0), font=font)
    draw.text((4, 0), plain(label), fill=(0, 0, 0), font=font)
    return out


# The default font has no glyphs for these: say them in ASCII.
ASCII = {"×": "x", "→": "to", "…": "...", "⅛": "1/8", "≥": ">=", "≤": "<=", "−": "-"}


def plain(text: str) -> str:
    for k, v in ASCII.items():
        text = text.replace(k, v)
    return text


def figure(panels: list, caption: str, title: str = "", columns: int | None = None, labels=None, side=None):
    """Panels (PIL images) in a grid, ``side`` (a colour bar) to the right of it, a title above
    and the caption wrapped below."""
    from PIL import Image, ImageDraw
    font, bold = _font(12), _font(15)
    caption, title = plain(caption), plain(title)
    labels = [plain(t) for t in labels] if labels else labels
    columns = columns or len(panels)
    rows = -(-len(panels) // columns)
    w = max(p.width for p in panels)
    label_h = 16 if labels else 0
    row_h = [max(p.height for p in panels[r * columns:(r + 1) * columns]) + label_h for r in range(rows)]
    grid_w = PAD + columns * (w + PAD)
    width = max(grid_w + (side.width + PAD if side is not None else 0), 360)
    lines = textwrap.wrap(caption, max(40, width // 7))
    top = 26 if title else PAD
    grid_h = max(sum(row_h) + PAD * rows, side.height + PAD if side is not None else 0)
    height = top + grid_h + 17 * len(lines) + 2 * PAD
    out = Image.new("RGB", (width, height), (255, 255, 255))
    if side is not None:
        out.paste(side, (grid_w, top))
    draw = ImageDraw.Draw(out)
    if title:
        draw.text((PAD, 5), title, fill=(0, 0, 0), font=bold)
    y = top
    for r in range(rows):
        for c, panel in enumerate(panels[r * columns:(r + 1) * columns]):
            x = PAD + c * (w + PAD)
            out.paste(panel, (x, y))
            if labels:
                draw.text((x, y + panel.height + 1), labels[r * columns + c], fill=(40, 40, 40), font=font)
        y += row_h[r] + PAD
    y = top + grid_h
    for i, line in enumerate(lines):
        draw.text((PAD, y + PAD + 17 * i), line, fill=(0, 0, 0), font=font)
    return out


def save(image, path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, format="PNG")
    return path
