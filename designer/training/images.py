"""Showing arrays as pictures: one image, or many small maps tiled into one mosaic.

A grid of 64 feature maps is drawn as one image item, not 64 widgets: one texture upload per
update, so maps can refresh during training without slowing the UI. A pane makes its pyqtgraph
items when first painted (:class:`designer.deferred.Deferred`): the app starts without them.
"""
from __future__ import annotations

import math

from designer.deferred import Deferred, np, pg

# pyqtgraph colour maps, by name (looked up when a pane is built)
GREY = "CET-L1"  # perceptually uniform black→white
DIVERGING = "CET-D1"  # blue–white–red: signed weights and kernel outputs


def normalise(a: np.ndarray, symmetric: bool = False) -> np.ndarray:
    """Scale to [0, 1] (or around 0.5 for signed data) so every tile uses the full colour range."""
    a = np.asarray(a, dtype=np.float32)
    if symmetric:
        m = float(np.max(np.abs(a))) if a.size else 0.0
        return 0.5 + 0.5 * a / m if m > 0 else np.full_like(a, 0.5)
    lo, hi = (float(a.min()), float(a.max())) if a.size else (0.0, 0.0)
    return (a - lo) / (hi - lo) if hi > lo else np.zeros_like(a)


def to_display(image: np.ndarray) -> np.ndarray:
    """C×H×W or H×W → H×W (one channel) or H×W×3 (three channels) for display."""
    image = np.asarray(image, dtype=np.float32)
    if image.ndim == 3:
        if image.shape[0] == 3:
            return normalise(np.transpose(image, (1, 2, 0)))
        image = image.mean(axis=0)
    if image.ndim == 1:
        image = image[None, :]
    return normalise(image)


def mosaic(maps: np.ndarray, columns: int | None = None, gap: int = 1, symmetric: bool = False,
           per_tile: bool = True) -> np.ndarray:
    """N×H×W → one 2-D array with the N maps in a grid, each normalised on its own, separated
    by NaN gaps (drawn transparent). 1-D maps (N×L) become N one-row tiles stacked."""
    maps = np.asarray(maps, dtype=np.float32)
    if maps.ndim == 2:  # N×L (1-D signals): one row per channel, taller so they are visible
        maps = np.repeat(maps[:, None, :], max(1, maps.shape[1] // 16), axis=1)
    if maps.ndim != 3 or maps.shape[0] == 0:
        return np.zeros((1, 1), dtype=np.float32)
    n, h, w = maps.shape
    if not per_tile:
        maps = normalise(maps, symmetric)
    columns = columns or max(1, math.ceil(math.sqrt(n * h / w)))
    rows = math.ceil(n / columns)
    out = np.full((rows * (h + gap) - gap, columns * (w + gap) - gap), np.nan, dtype=np.float32)
    for i in range(n):
        r, c = divmod(i, columns)
        tile = normalise(maps[i], symmetric) if per_tile else maps[i]
        out[r * (h + gap):r * (h + gap) + h, c * (w + gap):c * (w + gap) + w] = tile
    return out


class ImagePane(Deferred):
    """A titled picture with locked aspect ratio; rows go down as in a photo. ``colormap`` is
    the name of a pyqtgraph colour map."""

    def __init__(self, title: str = "", colormap: str = GREY, parent=None):
        super().__init__(parent)
        self.colormap_name = colormap
        self._title_text = title
        self._shown = None  # (array, levels) last given to set_array
        self._shape = None

    def _build(self) -> None:
        self._graphics = pg.GraphicsLayoutWidget()
        self._graphics.setBackground("w")
        self._view = self._graphics.addViewBox(row=1, col=0, lockAspect=True, invertY=True, enableMenu=False)
        self._title = self._graphics.addLabel(self._title_text, row=0, col=0, color="k", size="9pt")
        self._image = pg.ImageItem(axisOrder="row-major")
        self._colormap = pg.colormap.get(self.colormap_name)
        self._image.setColorMap(self._colormap)
        self._view.addItem(self._image)
        self.body.addWidget(self._graphics)
        if self._shown is not None:
            self._draw(*self._shown)

    # The pyqtgraph items, made on first use.
    @property
    def graphics(self):
        self.ensure_built()
        return self._graphics

    @property
    def view(self):
        self.ensure_built()
        return self._view

    @property
    def title(self):
        self.ensure_built()
        return self._title

    @property
    def image(self):
        self.ensure_built()
        return self._image

    def set_title(self, text: str) -> None:
        self._title_text = text
        if self.is_built:
            self._title.setText(text, color="k", size="9pt")

    def set_array(self, array: np.ndarray, levels=(0.0, 1.0), gap_value: float = 1.0) -> None:
        """Show a normalised array (H×W through the colour map, or H×W×3 as RGB); NaN gaps
        between mosaic tiles take ``gap_value`` (white in the grey map, 0.5 in the diverging)."""
        array = np.asarray(array, dtype=np.float32)
        self._shown = (np.nan_to_num(array, nan=gap_value), levels)
        if self.is_built:
            self._draw(*self._shown)

    def _draw(self, array: np.ndarray, levels) -> None:
        if array.ndim == 3:  # RGB: the colour map does not apply
            self._image.setLookupTable(None)
        else:
            self._image.setColorMap(self._colormap)
        self._image.setImage(array, levels=levels)
        if array.shape[:2] != self._shape:  # refit only when the size changes, so zoom survives updates
            self._shape = array.shape[:2]
            self._view.autoRange(padding=0.02)
