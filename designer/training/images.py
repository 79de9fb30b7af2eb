"""Showing arrays as pictures: one image, or many small maps tiled into one mosaic.

A grid of 64 feature maps is drawn as one image item, not 64 widgets: one texture upload per
update, so maps can refresh during training without slowing the UI. A pane makes its pyqtgraph
items when first painted (:class:`designer.deferred.Deferred`): the app starts without them.
"""
from __future__ import annotations

import math

from PySide6.QtCore import QTimer, Signal

from designer import theme as themes
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
    the name of a pyqtgraph colour map. Beside it a colour bar gives the scale: the values the
    caller says the colours stand for (``set_array(..., scale=(lo, hi))``), or 0 → 1 labelled
    'relative' when each picture is stretched to its own range. Small matrices can show their
    numbers in the cells (:meth:`set_numbers`). Background and text follow the plot theme.
    A left click on a cell emits ``cell_clicked(row, column)`` (the playground paints with it)."""

    cell_clicked = Signal(int, int)

    def __init__(self, title: str = "", colormap: str = GREY, parent=None, colorbar: bool = True):
        super().__init__(parent)
        self.colormap_name = colormap
        self.has_colorbar = colorbar
        self._title_text = title
        self._shown = None  # (array, levels) last given to set_array
        self._scale = ((0.0, 1.0), "relative")  # what the colour bar says, last given
        self._numbers = None  # (values, colour positions) shown in the cells, or None
        self._number_items: list = []
        self._ticks: dict[str, list] = {}  # "left" / "bottom" → [(position, label)] last given
        self._shape = None

    def _build(self) -> None:
        self._graphics = pg.GraphicsLayoutWidget()
        self._graphics.setBackground(themes.plot_background())
        self._view = self._graphics.addViewBox(row=1, col=1, lockAspect=True, invertY=True, enableMenu=False)
        self._title = self._graphics.addLabel(self._title_text, row=0, col=0, colspan=3,
                                              color=themes.plot_foreground(), size="9pt")
        self._image = pg.ImageItem(axisOrder="row-major")
        self._colormap = pg.colormap.get(self.colormap_name)
        self._image.setColorMap(self._colormap)
        self._view.addItem(self._image)
        self._bar = None
        if self.has_colorbar:
            self._bar = pg.ColorBarItem(values=(0.0, 1.0), colorMap=self._colormap, width=12, interactive=False,
                                        colorMapMenu=False)
            self._graphics.addItem(self._bar, row=1, col=2)
        self._axes: dict = {}  # "left" / "bottom" → AxisItem, made when ticks are first given
        themes.style_plot_view(self._graphics)
        self._graphics.scene().sigMouseClicked.connect(self._on_click)
        self._graphics.scene().sigMouseMoved.connect(self._on_hover)
        self.body.addWidget(self._graphics)
        if self._shown is not None:
            self._draw(*self._shown)
        self._draw_scale()
        self._draw_numbers()
        self._draw_ticks()

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

    @property
    def colorbar(self):
        """The pyqtgraph ColorBarItem (None for a pane made with ``colorbar=False``)."""
        self.ensure_built()
        return self._bar

    @property
    def scale(self) -> tuple[tuple[float, float], str]:
        """((low, high), label): the values at the two ends of the colour bar and what they are."""
        return self._scale

    def set_title(self, text: str) -> None:
        self._title_text = text
        if self.is_built:
            self._title.setText(text, color=themes.plot_foreground(), size="9pt")

    def set_array(self, array: np.ndarray, levels=(0.0, 1.0), gap_value: float | None = None,
                  scale: tuple[float, float] | None = None, scale_label: str = "") -> None:
        """Show a normalised array (H×W through the colour map, or H×W×3 as RGB); NaN gaps
        between mosaic tiles are transparent (the theme's background shows) unless a
        ``gap_value`` is given.
        ``scale`` is the pair of values the ends of the colour map stand for (None: each
        picture stretched to its own range, 'relative'); ``scale_label`` names them."""
        array = np.asarray(array, dtype=np.float32)
        self._shown = (array if gap_value is None else np.nan_to_num(array, nan=gap_value), levels)
        lo, hi = (float(scale[0]), float(scale[1])) if scale is not None else (0.0, 1.0)
        if hi <= lo:  # a flat picture: any width will do, the colours are all one
            hi = lo + 1.0
        self._scale = ((lo, hi), scale_label or ("value" if scale is not None else "relative (min → max)"))
        if self.is_built:
            self._draw(*self._shown)
            self._draw_scale()

    def set_numbers(self, values: np.ndarray | None, positions: np.ndarray | None = None) -> None:
        """Write each cell's value in it (for matrices of at most 16×16), or clear them with None.
        ``positions`` (0–1, the colour map's position of each cell) picks black or white text
        that stays readable on the cell's colour; default: the values scaled to their range."""
        if values is None:
            self._numbers = None
        else:
            values = np.asarray(values, dtype=np.float64)
            if positions is None:
                positions = normalise(values)
            self._numbers = (values, np.asarray(positions, dtype=np.float64))
        if self.is_built:
            self._draw_numbers()

    def set_ticks(self, left: list | None = None, bottom: list | None = None, left_title: str = "",
                  bottom_title: str = "") -> None:
        """Name rows (``left``) and columns (``bottom``) of the picture: lists of (position in
        pixels, label); ``None`` leaves that side without an axis. Cell i's centre is i + 0.5.
        The titles name what the rows and columns are ('true class')."""
        self._ticks = {side: list(t) for side, t in (("left", left), ("bottom", bottom)) if t is not None}
        self._axis_titles = {"left": left_title, "bottom": bottom_title}
        if self.is_built:
            self._draw_ticks()

    def tick_labels(self, side: str) -> list[str]:
        return [label for _pos, label in self._ticks.get(side, [])]

    def _draw_ticks(self) -> None:
        for side, place in (("left", (1, 0)), ("bottom", (2, 1))):
            ticks = self._ticks.get(side)
            axis = self._axes.get(side)
            if ticks is None:
                if axis is not None:
                    axis.hide()
                continue
            if axis is None:
                axis = self._axes[side] = pg.AxisItem(side)
                axis.linkToView(self._view)
                self._graphics.addItem(axis, row=place[0], col=place[1])
                themes.style_plot_view(self._graphics)
            axis.show()
            axis.setTicks([ticks, []])
            title = getattr(self, "_axis_titles", {}).get(side, "")
            if title != axis.labelText:
                axis.setLabel(title)
                axis.showLabel(bool(title))

    def number_texts(self) -> list[str]:
        """The numbers shown in the cells, row by row (what a test or a reader sees)."""
        return [item.textItem.toPlainText() for item in self._number_items]

    def _on_click(self, event) -> None:
        from PySide6.QtCore import Qt

        if event.button() != Qt.MouseButton.LeftButton or self._shape is None:
            return
        cell = self._cell_at(event.scenePos())
        if cell is not None:
            self.cell_clicked.emit(*cell)

    def _cell_at(self, pos) -> tuple[int, int] | None:
        if self._shape is None or not self._view.sceneBoundingRect().contains(pos):
            return None
        point = self._view.mapSceneToView(pos)
        row, col = math.floor(point.y()), math.floor(point.x())
        return (row, col) if 0 <= row < self._shape[0] and 0 <= col < self._shape[1] else None

    def _on_hover(self, pos) -> None:
        """A matrix with numbers names the cell under the mouse and its value (the numbers in
        the cells hide when the cells get too small to read them)."""
        cell = self._cell_at(pos) if self._numbers is not None else None
        if cell is None or cell[0] >= self._numbers[0].shape[0] or cell[1] >= self._numbers[0].shape[1]:
            self._graphics.setToolTip("")
            return
        from engine.kernels import format_number
        self._graphics.setToolTip(f"row {cell[0]}, column {cell[1]}: {format_number(self._numbers[0][cell])}")

    def text_colors(self, positions) -> list[str]:
        """'w' or 'k' for text on each cell (positions 0–1 in the colour map), whichever reads
        better on the cell's colour."""
        self.ensure_built()
        rgba = self._colormap.map(np.clip(np.ravel(positions), 0, 1), mode="float")
        luminance = rgba[:, :3] @ np.array([0.299, 0.587, 0.114])
        return ["w" if v < 0.5 else "k" for v in luminance]

    def _draw(self, array: np.ndarray, levels) -> None:
        if array.ndim == 3:  # RGB: the colour map does not apply
            self._image.setLookupTable(None)
        else:
            self._image.setColorMap(self._colormap)
        self._image.setImage(array, levels=levels)
        if self._bar is not None:
            self._bar.setVisible(array.ndim == 2)
        if array.shape[:2] != self._shape:  # refit only when the size changes, so zoom survives updates
            self._shape = array.shape[:2]
            self._view.autoRange(padding=0.02)

    def _draw_scale(self) -> None:
        if self._bar is None:
            return
        (lo, hi), label = self._scale
        self._bar.setLevels((lo, hi))
        self._bar.axis.setLabel(label)
        themes.si_ticks(self._bar.axis)

    def _draw_numbers(self) -> None:
        from engine.kernels import format_number

        for item in self._number_items:
            self._view.removeItem(item)
        self._number_items = []
        if self._numbers is None:
            return
        values, positions = self._numbers
        colors = self.text_colors(positions)
        for i, ((r, c), v) in enumerate(np.ndenumerate(values)):
            text = pg.TextItem(format_number(v), anchor=(0.5, 0.5), color=colors[i])
            text.setPos(c + 0.5, r + 0.5)
            self._view.addItem(text)
            self._number_items.append(text)
        self._fit_numbers()

    def _fit_numbers(self) -> None:
        """Size the numbers to the cells on screen (they do not scale with the picture): the
        longest must fit its cell; below 7 px they would be unreadable and are hidden."""
        if not self._number_items or self._numbers is None:
            return
        rows, cols = self._numbers[0].shape
        cell = min(self._view.width() / max(cols, 1), self._view.height() / max(rows, 1))
        chars = max(len(item.textItem.toPlainText()) for item in self._number_items)
        pixels = int(min(14, cell * 0.8, cell / (0.62 * max(chars, 1) + 0.3)))
        for item in self._number_items:
            item.setVisible(pixels >= 7)
            font = item.textItem.font()
            if pixels >= 7 and font.pixelSize() != pixels:
                font.setPixelSize(pixels)
                item.setFont(font)

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().resizeEvent(event)
        if self.is_built:
            QTimer.singleShot(0, self, self._fit_numbers)  # once the view box has its new size
