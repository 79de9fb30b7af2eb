"""A parallel-coordinates plot of a sweep: one vertical axis per setting plus the best validation
accuracy, one polyline per finished run, coloured by its accuracy, the best drawn thick.

The axes' scales are plain arithmetic (:func:`make_axis`, tested without Qt): a positive numeric
setting spanning more than 10× (a learning rate) is drawn on a log scale, any other number on a
linear one, and names (an optimizer, a template) or flags are categories spaced evenly. Every
axis maps its values to 0..1, so the plot's y range is always 0..1 and x is the axis number.

Clicking a line emits :attr:`ParallelCoordinates.point_clicked` with the run's index in the
sweep; :meth:`ParallelCoordinates.set_selected` thickens the lines of runs chosen elsewhere (the
comparison table), so the two stay in step.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QVBoxLayout, QWidget

from designer import theme as themes

ACCURACY_AXIS = "best val acc"
# Worst → best: orange, magenta, blue (an orange–blue blend would be a muddy grey in the middle);
# told apart by the colour-blind too, and readable on the light and the dark background.
ACCURACY_STOPS = ((232, 137, 29), (192, 80, 143), (47, 126, 216))
MAX_TICKS = 6
MIN_TICK_GAP = 0.07  # of the axis' height: about a label's height in the dialog's plot


@dataclass
class Axis:
    """One vertical axis: where a value sits on it (0 bottom .. 1 top) and its tick labels."""

    name: str
    kind: str                      # "log" | "linear" | "category"
    low: float = 0.0
    high: float = 1.0
    categories: list[str] = field(default_factory=list)
    percent: bool = False          # tick labels as percentages (the accuracy axis)

    def position(self, value: Any) -> float:
        if self.kind == "category":
            text = _text(value)
            if len(self.categories) <= 1 or text not in self.categories:
                return 0.5
            return self.categories.index(text) / (len(self.categories) - 1)
        x = float(value)
        low, high = self.low, self.high
        if self.kind == "log":
            x, low, high = math.log10(x), math.log10(low), math.log10(high)
        if high <= low:
            return 0.5
        return (x - low) / (high - low)

    def ticks(self, values: list[Any]) -> list[tuple[float, str]]:
        """(position, label) for each distinct value shown (a sweep has few), or evenly spread
        labels when there are many (a random search over a range)."""
        if self.kind == "category":
            return [(self.position(c), c) for c in self.categories]
        distinct = sorted({float(v) for v in values})
        if len(distinct) > MAX_TICKS:
            if self.kind == "log":
                lo, hi = math.log10(self.low), math.log10(self.high)
                distinct = [10 ** (lo + (hi - lo) * i / (MAX_TICKS - 1)) for i in range(MAX_TICKS)]
            else:
                distinct = [self.low + (self.high - self.low) * i / (MAX_TICKS - 1) for i in range(MAX_TICKS)]
        label = (lambda v: f"{v:.1%}") if self.percent else (lambda v: f"{v:.3g}")
        return [(self.position(v), label(v)) for v in distinct]


def make_axis(name: str, values: list[Any], percent: bool = False) -> Axis:
    """The axis for a setting that took ``values`` (None entries ignored)."""
    present = [v for v in values if v is not None]
    numeric = present and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in present)
    if not numeric:
        categories: list[str] = []
        for v in present:
            if _text(v) not in categories:
                categories.append(_text(v))
        return Axis(name, "category", categories=categories)
    low, high = float(min(present)), float(max(present))
    kind = "log" if low > 0 and high / low > 10 else "linear"
    return Axis(name, kind, low, high, percent=percent)


def _text(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def spaced(ticks: list[tuple[float, str]], gap: float = MIN_TICK_GAP) -> list[tuple[float, str]]:
    """The ticks whose labels do not overlap: the lowest and highest always, the others only
    ``gap`` (a share of the axis) clear of every tick kept."""
    if len(ticks) <= 2:
        return ticks
    ordered = sorted(ticks)
    kept = [ordered[0], ordered[-1]]
    for tick in ordered[1:-1]:
        if all(abs(tick[0] - k[0]) >= gap for k in kept):
            kept.append(tick)
    return sorted(kept)


def accuracy_colour(fraction: float) -> QColor:
    """The line colour of a run whose accuracy sits at ``fraction`` of the accuracy axis."""
    f = min(1.0, max(0.0, fraction)) * (len(ACCURACY_STOPS) - 1)
    i = min(int(f), len(ACCURACY_STOPS) - 2)
    low, high, t = ACCURACY_STOPS[i], ACCURACY_STOPS[i + 1], f - i
    return QColor(*(round(a + (b - a) * t) for a, b in zip(low, high)))


def _run_line_class(pg):
    """A run's polyline whose shape is its stroke, not its bounding box: hover, tooltip and click
    find the line under the pointer (the default shape, the bounding rectangle, covers every line)."""

    class RunLine(pg.PlotCurveItem):
        def __init__(self, index: int, on_hover, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.index, self._on_hover = index, on_hover

        def shape(self):
            return self.mouseShape()

        def hoverEvent(self, event) -> None:  # noqa: N802 - pyqtgraph's name
            self._on_hover(-1 if event.isExit() else self.index)

    return RunLine


class ParallelCoordinates(QWidget):
    point_clicked = Signal(int)  # the run's index in the sweep
    point_hovered = Signal(int)  # the run under the pointer; -1: none

    def __init__(self, parent=None):
        super().__init__(parent)
        import pyqtgraph as pg

        self._pg = pg
        self.plot_widget = pg.PlotWidget()
        self.plot = self.plot_widget.getPlotItem()
        self.plot.hideAxis("left")
        self.plot.hideAxis("bottom")
        self.plot.hideButtons()
        self.plot.setMenuEnabled(False)
        self.plot.getViewBox().setMouseEnabled(False, False)
        self.plot.setTitle("Settings against the best validation accuracy")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.plot_widget)
        self.axes: list[Axis] = []
        self.lines: dict[int, Any] = {}  # run index → its polyline
        self.best_index: int | None = None
        self._selected: set[int] = set()
        self.hovered = -1
        self._line_class = _run_line_class(pg)
        self._fractions: dict[int, float] = {}
        self._data: tuple = ([], [])
        themes.style_plot_view(self.plot_widget)
        themes.on_plot_theme(self._on_theme)

    # -- data --------------------------------------------------------------------------------
    def set_results(self, setting_names: list[str], results: list) -> None:
        """Draw the runs of ``results`` (PointResults) that have a best validation accuracy."""
        self._data = (list(setting_names), list(results))
        self._redraw()

    def set_selected(self, indices) -> None:
        self._selected = set(indices)
        self._restyle_lines()

    def set_hovered(self, index: int) -> None:
        """The run under the pointer, here or in the table (-1: none): drawn thicker, on top."""
        if index != self.hovered:
            self.hovered = index
            self._restyle_lines()
            self.point_hovered.emit(index)

    def _redraw(self) -> None:
        pg = self._pg
        names, results = self._data
        self.plot.clear()
        self.lines.clear()
        theme = themes.active()
        done = [r for r in results if r.best_val_accuracy is not None and r.status != "running"]
        self.axes = [make_axis(n, [r.settings.get(n) for r in results]) for n in names]
        self.axes.append(make_axis(ACCURACY_AXIS, [r.best_val_accuracy for r in done], percent=True))
        count = len(self.axes)
        # The axes: vertical lines, their names above, tick labels beside.
        xs, ys = [], []
        for i in range(count):
            xs += [i, i]
            ys += [0.0, 1.0]
        self.plot.addItem(pg.PlotCurveItem(xs, ys, connect="pairs", pen=pg.mkPen(theme.subtext, width=1)))
        for i, axis in enumerate(self.axes):
            title = pg.TextItem(axis.name, color=theme.text, anchor=(0.5, 1.0))
            title.setPos(i, 1.04)
            self.plot.addItem(title)
            last = i == count - 1
            values = [r.best_val_accuracy for r in done] if last else [r.settings.get(axis.name) for r in results]
            # Labels outside the lines' way: left of each axis, right of the accuracy axis.
            for position, label in spaced(axis.ticks([v for v in values if v is not None])):
                tick = pg.TextItem(label, color=theme.subtext, anchor=(0.0, 0.5) if last else (1.0, 0.5))
                tick.setPos(i + 0.02 if last else i - 0.02, position)
                self.plot.addItem(tick)
        if not done:
            hint = pg.TextItem("a line for each run appears here as it finishes", color=theme.subtext,
                               anchor=(0.5, 0.5))
            hint.setPos((count - 1) / 2, 0.5)
            self.plot.addItem(hint)
        best = max(done, key=lambda r: r.best_val_accuracy) if done else None
        self.best_index = best.index if best is not None else None
        accuracy_axis = self.axes[-1]
        self._fractions = {}
        for r in done:
            points_y = [axis.position(r.settings.get(axis.name)) for axis in self.axes[:-1]]
            points_y.append(accuracy_axis.position(r.best_val_accuracy))
            # One accuracy so far (or all equal): the best colour, not the middle of the scale.
            self._fractions[r.index] = points_y[-1] if accuracy_axis.high > accuracy_axis.low else 1.0
            line = self._line_class(r.index, self.set_hovered, list(range(count)), points_y)
            line.setClickable(True, width=8)
            line.sigClicked.connect(lambda _item, _ev=None, index=r.index: self.point_clicked.emit(index))
            line.setToolTip(f"run {r.index + 1}: " + " ".join(f"{k}={_text(v)}" for k, v in r.settings.items())
                            + f" — best val accuracy {r.best_val_accuracy:.2%}")
            self.plot.addItem(line)
            self.lines[r.index] = line
        self._restyle_lines()
        self.plot.setXRange(-0.5, max(count - 1, 1) + 0.4, padding=0)
        self.plot.setYRange(-0.06, 1.12, padding=0)

    def _restyle_lines(self) -> None:
        pg = self._pg
        for index, line in self.lines.items():
            colour = accuracy_colour(self._fractions.get(index, 0.0))
            width = 2.0
            if index == self.best_index:
                width = 4.0
            if index in self._selected or index == self.hovered:
                width += 2.0
            pen = pg.mkPen(colour, width=width)
            if self._selected and index not in self._selected and index not in (self.best_index, self.hovered):
                faded = QColor(colour)
                faded.setAlpha(90)
                pen = pg.mkPen(faded, width=width)
            line.setPen(pen)
            line.setZValue(20 if index == self.hovered else 10 if index == self.best_index
                           else 5 if index in self._selected else 1)

    def _on_theme(self, _theme) -> None:
        self._redraw()  # tick and title colours are the theme's

    @property
    def line_count(self) -> int:
        return len(self.lines)


__all__ = ["ACCURACY_AXIS", "Axis", "ParallelCoordinates", "accuracy_colour", "make_axis", "spaced"]
