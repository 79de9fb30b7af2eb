"""Live training curves: loss, accuracy and learning rate, for the current run and any runs
chosen for comparison.

Points arrive at up to ~30 Hz, but the plots redraw at most ``REDRAW_HZ`` times a second from
the run records (the records are the data; this view only draws them), and only while the view
is in front. A redraw costs what changed, not what is shown (issue 13: the Curves view in front
made a small run 8× slower):

* only curves that gained points are given new data (a finished overlay is drawn once);
* the view ranges are computed here, from running extents of the drawn points, in "nice" steps
  (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8 × 10ⁿ; the x axis spans the runs' planned epochs), and set
  only when they change: pyqtgraph's auto-range would move an axis on every new point, and an
  axis repaint (tick text, with the grid it draws) is the most expensive thing on screen;
* the grid is not the axes' (pyqtgraph's axis draws its grid, so its bounding rectangle covers
  the plot and every curve update repainted the axis, tick text and all; as pixmaps they
  overflowed Qt's 10 MB pixmap cache and were re-rendered anyway): one line item per plot,
  remade when the range changes, behind the curves; the axes, of fixed width, are only
  repainted when their range changes;
* per-epoch curves mark their points while there are at most ``SYMBOLS_UP_TO`` of them (a
  long run's markers are a blur, and cost more than the rest of a redraw);
* at most five redraws a second, fewer if a redraw costs more than 1% of the UI thread's time
  at that rate (a slow machine, a big window): the interval follows the measured cost;
* downsampling with ``mode='peak'`` and clip-to-view keep a run of 100,000 batches as fast as a
  short one, and a loss spike is never hidden by the downsampling.

Curves of runs no longer shown are removed from their plots (``PlotItem.removeItem``: out of the
plot's curve list and its legend), so the item count follows what is shown. The plots are made
when the view is first painted or drawn into (:class:`designer.deferred.Deferred`).
"""
from __future__ import annotations

import math
import time

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QColor, QFont, QFontMetricsF
from PySide6.QtWidgets import QCheckBox, QGraphicsItem, QHBoxLayout, QLabel, QSlider, QVBoxLayout, QWidget

from designer import theme as themes
from designer.deferred import Deferred, np, pg
from engine.runs import RunRecord

REDRAW_HZ = 5  # at most
REDRAW_BUDGET = 0.01  # share of the UI thread's time the live curves may take; slower redraws come less often
MAX_REDRAW_INTERVAL_MS = 1000  # the curves stay live: at least one redraw a second
SYMBOLS_UP_TO = 40  # per-epoch curves mark each epoch while they have this many points; then a line
NEW_CURVES_MS = 4.0  # a timed redraw makes new curves for this long (at least one), then waits a tick
AXIS_WIDTH = 52  # px for the left axes' tick labels: fixed, so a new label never re-lays out the grid
# (series name, plot, legend text, is per-batch). Per-batch curves are drawn thin, per-epoch
# curves with symbols, so a student sees the noisy batch loss and the clean epoch trend.
CURVES = (
    ("train_loss", "loss", "train (batch)", True),
    ("train_loss_epoch", "loss", "train (epoch)", False),
    ("val_loss", "loss", "validation", False),
    ("train_acc", "accuracy", "train (batch)", True),
    ("train_acc_epoch", "accuracy", "train (epoch)", False),
    ("val_acc", "accuracy", "validation", False),
    ("lr", "lr", "learning rate", True),
)
PLOT_OF = {series: plot for series, plot, _text, _batch in CURVES}
COLOURS = {"train": (66, 133, 244), "val": (234, 67, 53), "lr": (52, 168, 83)}
OVERLAY_COLOURS = [(251, 188, 5), (155, 89, 182), (26, 188, 156), (230, 126, 34), (127, 140, 141)]
_NICE = (1.0, 1.2, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0)


def smooth(y: np.ndarray, weight: float) -> np.ndarray:
    """Exponential moving average with bias correction (as TensorBoard's smoothing slider), so
    the start of the curve is not dragged towards zero."""
    return IncrementalSmoother(weight).extend(y)


class IncrementalSmoother:
    """The same average, extended with only the new points on each redraw: a long run must not
    cost a pass over all its points ten times a second."""

    def __init__(self, weight: float):
        self.weight = weight
        self._acc = self._norm = 0.0
        self._out = np.empty(0)

    def extend(self, y: np.ndarray) -> np.ndarray:
        if self.weight <= 0:
            return y
        done = len(self._out)
        if len(y) > done:
            new = np.empty(len(y) - done)
            w, acc, norm = self.weight, self._acc, self._norm
            for i, v in enumerate(y[done:].tolist()):
                acc = acc * w + (1 - w) * v
                norm = norm * w + (1 - w)
                new[i] = acc / norm
            self._acc, self._norm = acc, norm
            self._out = np.concatenate([self._out, new])
        return self._out[:len(y)]


def nice_ceil(value: float) -> float:
    """The smallest 'nice' number (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8 × 10ⁿ) ≥ ``value`` > 0."""
    if not value > 0 or not math.isfinite(value):
        return 1.0
    scale = 10.0 ** math.floor(math.log10(value))
    for step in _NICE:
        if step * scale >= value * (1 - 1e-9):
            return step * scale
    return 10 * scale


class _Extent:
    """Running minimum, maximum and smallest positive value of the points drawn on one plot."""

    def __init__(self):
        self.low = self.minpos = math.inf
        self.high = -math.inf

    def add(self, y: np.ndarray) -> None:
        if len(y):
            self.low = min(self.low, float(y.min()))
            self.high = max(self.high, float(y.max()))
            positive = y[y > 0]
            if len(positive):
                self.minpos = min(self.minpos, float(positive.min()))

    @property
    def empty(self) -> bool:
        return self.high < self.low


def y_range(extent: _Extent, log: bool) -> tuple[float, float] | None:
    """The shown y range for these points: from 0 (or a nice floor below a negative minimum) to a
    nice ceiling; in log mode whole decades (in log10 units, as pyqtgraph's log mode wants)."""
    if extent.empty:
        return None
    if log:
        if not math.isfinite(extent.minpos):
            return None
        low, high = math.floor(math.log10(extent.minpos)), math.ceil(math.log10(extent.high))
        return float(low), float(max(high, low + 1))
    low = 0.0 if extent.low >= 0 else -nice_ceil(-extent.low * 1.05)
    high = nice_ceil(extent.high * 1.05) if extent.high > 0 else 1.0  # a constant LR is not drawn on the frame
    return low, high


class CurvesView(QWidget):
    def __init__(self, parent=None):
        super().__init__(parent)
        self._runs: list[RunRecord] = []
        self._current: str | None = None
        self._items: dict = {}  # (run id, series) → pg.PlotDataItem
        self._drawn: dict[tuple[str, str], int] = {}  # (run id, series) → points given to its item
        self._roles: dict[str, tuple] = {}  # run id → (is current, colour index) its items were made with
        self._colour_of: dict[str, int] = {}  # run id → overlay colour, kept for the session
        self._smoothers: dict[tuple[str, str], IncrementalSmoother] = {}
        self._extents: dict[str, _Extent] = {}  # plot → extent of its drawn points
        self._ranges: dict[tuple[str, str], tuple] = {}  # (plot, "x"/"y") → range last set
        self._manual: set[str] = set()  # plots the user zoomed or panned: no more fitting until the next run
        self._fitting = False  # our own setXRange/setYRange calls are not the user's
        self._dirty = False
        self._cost_ms = 0.0  # average UI-thread time of a redraw, painting included
        self._smoothing = 0.6

        self.grid = _PlotGrid(self)

        self.smoothing_slider = QSlider(Qt.Horizontal)
        self.smoothing_slider.setRange(0, 99)
        self.smoothing_slider.setValue(int(self._smoothing * 100))
        self.smoothing_slider.setToolTip("Smoothing of the per-batch curves (exponential moving average)")
        self.smoothing_slider.valueChanged.connect(self._on_smoothing_changed)
        self.smoothing_label = QLabel()
        self.log_loss = QCheckBox("log-scale loss")
        self.log_loss.toggled.connect(lambda on: self._set_log("loss", on))
        self.log_lr = QCheckBox("log-scale LR")
        self.log_lr.toggled.connect(lambda on: self._set_log("lr", on))
        controls = QHBoxLayout()
        controls.addWidget(QLabel("Smoothing"))
        controls.addWidget(self.smoothing_slider, 1)
        controls.addWidget(self.smoothing_label)
        controls.addWidget(self.log_loss)
        controls.addWidget(self.log_lr)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addLayout(controls)
        layout.addWidget(self.grid, 1)
        self._on_smoothing_changed(self.smoothing_slider.value())

        self._timer = QTimer(self)
        self._timer.setInterval(1000 // REDRAW_HZ)
        self._timer.timeout.connect(self._redraw_if_dirty)
        self._timer.start()

    @property
    def plots(self) -> dict:
        """name → pg.PlotItem (made on first use)."""
        self.grid.ensure_built()
        return self.grid.plots

    def item_count(self) -> int:
        """Curves in the plots (their ``PlotItem.curves``) and entries in their legends."""
        plots = self.plots.values()
        return sum(len(p.curves) for p in plots) + sum(len(p.legend.items) for p in plots if p.legend is not None)

    # -- what to show --------------------------------------------------------------------
    def set_runs(self, runs: list[RunRecord], current: str | None = None) -> None:
        """Show these runs; ``current`` is drawn in full colour, the others as overlays. Curves
        of runs no longer shown leave their plots; those still shown in the same role stay."""
        self._runs = list(runs)
        self._current = current
        roles = {}
        for run in self._runs:
            is_current = run.run_id == current or current is None
            colour = self._colour_of.setdefault(run.run_id, len(self._colour_of)) % len(OVERLAY_COLOURS)
            roles[run.run_id] = (is_current, colour)
        for key in [k for k in self._items if roles.get(k[0]) != self._roles.get(k[0])]:
            self._remove(key)
        self._roles = roles
        self._manual.clear()  # a new set of runs is fitted afresh
        self._recompute_extents()
        self._show_lr_plot()
        self.mark_dirty()
        self._redraw()
        self._make_curves_of_a_starting_run()

    def _make_curves_of_a_starting_run(self) -> None:
        """The current run has just started: make its curves and legend entries now, before its
        first points, while nothing competes for the UI thread (made during training, each was
        the most expensive part of a redraw). Only where the plots exist already."""
        run = next((r for r in self._runs if r.run_id == self._current and r.status == "running"), None)
        if run is None or not self.grid.is_built:
            return
        for series, plot_name, text, per_batch in CURVES:
            if (run.run_id, series) not in self._items and (series != "lr" or self.lr_changes()):
                self._new_item(run, series, plot_name, text, per_batch)

    def lr_changes(self) -> bool:
        """Whether any run shown has a learning-rate schedule or warm-up (else the rate is flat)."""
        return any(str(r.config.get("schedule") or "none") != "none" or float(r.config.get("warmup_epochs") or 0) > 0
                   for r in self._runs)

    def _show_lr_plot(self) -> None:
        if self.grid.is_built:
            self.grid.show_lr(self.lr_changes())

    def _remove(self, key) -> None:
        item = self._items.pop(key)
        self.plots[PLOT_OF[key[1]]].removeItem(item)  # out of the view box, PlotItem.curves and the legend
        self._drawn.pop(key, None)
        self._smoothers.pop(key, None)

    def mark_dirty(self) -> None:
        """New points arrived; redraw on the next tick (coalesces bursts of events)."""
        self._dirty = True

    def point_count(self, series: str, run_id: str | None = None) -> int:
        """Points currently drawn for a series (tests and the status line use it)."""
        item = self._items.get((run_id or self._current or "", series))
        if item is None or item.xData is None:
            return 0
        return len(item.xData)

    # -- drawing -------------------------------------------------------------------------
    def _on_smoothing_changed(self, value: int) -> None:
        self._smoothing = value / 100
        self.smoothing_label.setText(f"{self._smoothing:.2f}")
        self._smoothers.clear()
        for key in [k for k in self._drawn if _smoothed(k[1])]:
            del self._drawn[key]  # redrawn whole, with the new weight
        self._recompute_extents()
        self.mark_dirty()

    def _set_log(self, plot_name: str, on: bool) -> None:
        self.plots[plot_name].setLogMode(y=on)
        self._ranges.pop((plot_name, "y"), None)
        self.mark_dirty()
        self._redraw_if_dirty()

    def _redraw_if_dirty(self, new_curves_ms: float | None = NEW_CURVES_MS) -> None:
        # A hidden tab does not redraw (the points wait in the run record): during a run the UI
        # thread's time is shared with the trainer through the GIL. Qt paints what changed on the
        # next turn of the event loop, once (a forced repaint here painted it twice: the scene
        # repainted its dirty items after it); the cost of a redraw is its own time plus the
        # painting since the last one, and the next redraw is put off in proportion.
        if self._dirty and self.isVisible():
            started = time.thread_time()
            # New curves (with their legend entries) only within a few ms a tick during a run:
            # each costs a few ms, and a run's first points would make four at once (issue 15).
            self._redraw(new_curves_ms)
            cost_ms = (time.thread_time() - started) * 1000 + self.grid.take_paint_ms()
            self._cost_ms = 0.7 * self._cost_ms + 0.3 * cost_ms if self._cost_ms else cost_ms  # one slow redraw is no trend
            interval = min(MAX_REDRAW_INTERVAL_MS, max(1000 // REDRAW_HZ, int(self._cost_ms / REDRAW_BUDGET)))
            self._timer.setInterval(interval)

    def catch_up(self) -> None:
        """Draw everything not drawn yet, new curves included (the run has ended: nothing
        competes for the UI thread any more, and its last points are what the user looks at)."""
        self._redraw_if_dirty(new_curves_ms=None)

    def showEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().showEvent(event)
        self._redraw_if_dirty(new_curves_ms=None)  # all at once: someone has just asked to see them

    def _redraw(self, new_curves_ms: float | None = None) -> None:
        """Draw the points not drawn yet. New curves are made while this redraw has taken less
        than ``new_curves_ms`` of the UI thread (at least one; None: all), the rest next time."""
        self._dirty = False
        started = time.thread_time()
        made = False
        for run in self._runs:
            for series, plot_name, text, per_batch in CURVES:
                data = run.curves.get(series)
                key = (run.run_id, series)
                if data is None or len(data) == 0 or self._drawn.get(key) == len(data):
                    continue
                item = self._items.get(key)
                if item is None:
                    if made and new_curves_ms is not None and (time.thread_time() - started) * 1000 > new_curves_ms:
                        self._dirty = True  # the next redraw makes it
                        continue
                    item, made = self._new_item(run, series, plot_name, text, per_batch), True
                y = data.y
                if _smoothed(series):
                    smoother = self._smoothers.get(key)
                    if smoother is None:
                        smoother = self._smoothers[key] = IncrementalSmoother(self._smoothing)
                    y = smoother.extend(y)
                done = self._drawn.get(key, 0)
                self._extents.setdefault(plot_name, _Extent()).add(y[done:])
                if len(data) > SYMBOLS_UP_TO and item.opts["symbol"] is not None:
                    item.setSymbol(None)  # dozens of markers are a blur, and the most costly part to draw
                item.setData(data.x, y)
                self._drawn[key] = len(data)
        self._fit_ranges()

    def _recompute_extents(self) -> None:
        """From the drawn points of the runs shown (a new run, a run dropped, new smoothing)."""
        self._extents = {}
        for (run_id, series), item in self._items.items():
            if item.yData is not None and (run_id, series) in self._drawn:
                self._extents.setdefault(PLOT_OF[series], _Extent()).add(np.asarray(item.yData))

    def _fit_ranges(self) -> None:
        """Set each plot's range from the extents, only where it changed (an axis repaints, with
        its tick text, only then). The user's zoom is left alone until the next run."""
        if not self.grid.is_built:
            return
        planned = [float(r.config.get("epochs") or 0) for r in self._runs]
        last_x = [float(s.x[-1]) for r in self._runs for s in r.curves.values() if len(s)]
        x_high = max(planned + last_x + [1.0])
        ranges = {"x": (0.0, x_high)}
        for name, plot in self.plots.items():
            if name in self._manual:
                continue
            vb = plot.getViewBox()
            if any(vb.autoRangeEnabled()):  # "View all" from the plot's menu: fitted by us from now on
                vb.disableAutoRange()
                self._ranges.pop((name, "x"), None)
                self._ranges.pop((name, "y"), None)
            if name == "accuracy":
                wanted_y = (0.0, 1.0)
            else:
                wanted_y = y_range(self._extents.get(name, _Extent()), plot.getAxis("left").logMode)
            self._set_range(name, plot, "x", ranges["x"])
            if wanted_y is not None:
                self._set_range(name, plot, "y", wanted_y)

    def _set_range(self, name: str, plot, axis: str, wanted: tuple) -> None:
        if self._ranges.get((name, axis)) == wanted:
            return
        self._ranges[(name, axis)] = wanted
        self._fitting = True
        try:
            if axis == "x":
                plot.setXRange(*wanted, padding=0.02)
            else:
                plot.setYRange(*wanted, padding=0.02)
        finally:
            self._fitting = False
        self.grid.update_grid(name)

    def _on_range_changed_manually(self, plot_name: str) -> None:
        if not self._fitting:
            self._manual.add(plot_name)

    def _new_item(self, run, series, plot_name, text, per_batch):
        is_current, colour_index = self._roles.get(run.run_id, (True, 0))
        if is_current:
            colour = COLOURS["lr" if series == "lr" else ("val" if series.startswith("val") else "train")]
        else:
            colour = OVERLAY_COLOURS[colour_index]
        style = Qt.DashLine if series.startswith("val") and not is_current else Qt.SolidLine
        pen = pg.mkPen(colour + ((110,) if per_batch and series != "lr" else ()), width=1 if per_batch else 2,
                       style=style)
        marked = not per_batch and len(run.curves.get(series) or ()) <= SYMBOLS_UP_TO
        kwargs = {"symbol": "o", "symbolSize": 6, "symbolBrush": colour, "symbolPen": None} if marked else {}
        name = text if is_current else f"{run.title}: {text}"
        if per_batch and not is_current and series != "lr":
            name = None  # the overlay's epoch curves are enough in the legend
        item = self.plots[plot_name].plot(pen=pen, name=name, **kwargs)
        self._items[(run.run_id, series)] = item
        return item


def _smoothed(series: str) -> bool:
    return series in ("train_loss", "train_acc")


def _compact_ticks(axis) -> None:
    """Tick labels of at most three significant digits (0.0005, 1.2, 2.5e-05), so that they fit
    the axis' fixed width; log mode keeps pyqtgraph's powers of ten."""
    default = axis.tickStrings

    def tick_strings(values, scale, spacing):
        if axis.logMode:
            return default(values, scale, spacing)
        return [f"{v * scale:.3g}" for v in values]
    axis.tickStrings = tick_strings


def _uncrowded_ticks(axis) -> None:
    """Labelled ticks at least 1.5 lines of text apart. pyqtgraph labels every major tick and
    puts at least 2.25 intervals on an axis, so a short plot (the Curves view in a low dock) had
    0, 0.2, … 1 written over each other in 60 px; there it now shows 0, 0.5, 1. The grid lines
    follow (they are drawn at the major ticks)."""
    default = axis.tickSpacing

    def tick_spacing(low, high, size):
        levels = default(low, high, size)
        if not levels or axis.logMode:
            return levels
        line = QFontMetricsF(axis.style.get("tickFont") or QFont()).height()
        most = max(1.0, size / (1.5 * line) - 1)  # intervals whose labels fit
        major = levels[0][0]
        span = abs(high - low)
        while span / major > most and _next_nice_step(major) <= span:  # two labels at least
            major = _next_nice_step(major)
        return levels if major == levels[0][0] else [(major, 0)] + list(levels[1:])
    axis.tickSpacing = tick_spacing


def _next_nice_step(step: float) -> float:
    """The next of 1, 2, 5 × 10ⁿ above ``step``."""
    power = 10.0 ** math.floor(math.log10(step))
    for factor in (2.0, 5.0, 10.0):
        if factor * power > step * 1.0001:
            return factor * power
    return 10.0 * power


class _PlotGrid(Deferred):
    """The three plots side by side, made on first use with the view's current log settings."""

    def __init__(self, view: CurvesView):
        super().__init__(view)
        self._curves_view = view
        self.plots: dict = {}

    def _build(self) -> None:
        self.graphics = _timed_graphics_class()()
        self.graphics.setBackground(themes.plot_background())
        # Row 0: each plot's legend, in a row of its own above the plot, so it never covers a curve.
        self.legends = {name: _row_legend() for name in ("loss", "accuracy")}
        for col, legend in enumerate(self.legends.values()):
            self.graphics.addItem(legend, row=0, col=col)
        self.plots.update({
            "loss": self.graphics.addPlot(row=1, col=0, title="Loss"),
            "accuracy": self.graphics.addPlot(row=1, col=1, title="Accuracy"),
            "lr": self.graphics.addPlot(row=1, col=2, title="Learning rate"),
        })
        layout = self.graphics.ci.layout
        for col, stretch in enumerate((3, 3, 1)):  # the LR plot is a narrow column when shown at all
            layout.setColumnStretchFactor(col, stretch)
        self.lr_shown = True
        view = self._curves_view
        self.grids: dict = {}
        for name, plot in self.plots.items():
            grid = self.grids[name] = pg.PlotCurveItem(pen=_grid_pen(themes.active()), connect="pairs")
            grid.setZValue(-100)
            plot.getViewBox().addItem(grid, ignoreBounds=True)  # not a data item: no log transform
            plot.getViewBox().sigResized.connect(lambda _vb, n=name: self.update_grid(n))
            plot.sigRangeChanged.connect(lambda _vb, _range, n=name: self._grid_later(n))
            plot.setLabel("bottom", "epoch")
            plot.setDownsampling(auto=True, mode="peak")
            plot.setClipToView(True)
            plot.hideButtons()  # the auto-range button: ranges are fitted here, in steps
            plot.getViewBox().disableAutoRange()
            plot.getAxis("left").setWidth(AXIS_WIDTH)
            _compact_ticks(plot.getAxis("left"))
            _uncrowded_ticks(plot.getAxis("left"))
            for axis in ("left", "bottom"):  # blitted when the window repaints; re-rendered on a new range
                plot.getAxis(axis).setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
            if name in self.legends:
                plot.legend = self.legends[name]  # PlotItem.plot(name=…) and removeItem use it
            plot.sigRangeChangedManually.connect(lambda _mask, n=name: view._on_range_changed_manually(n))
        self.plots["loss"].setLogMode(y=view.log_loss.isChecked())
        self.plots["lr"].setLogMode(y=view.log_lr.isChecked())
        themes.style_plot_view(self.graphics)
        themes.on_plot_theme(self._on_theme)
        self.body.addWidget(self.graphics)
        self._grid_pending: set[str] = set()
        view._ranges.clear()
        view._fit_ranges()
        view._show_lr_plot()

    def take_paint_ms(self) -> float:
        """UI-thread time spent painting the plots since the last call (0 before they exist)."""
        if not self.is_built:
            return 0.0
        painted, self.graphics.paint_ms = self.graphics.paint_ms, 0.0
        return painted

    def _on_theme(self, theme) -> None:
        for grid in self.grids.values():
            grid.setPen(_grid_pen(theme))

    def show_lr(self, shown: bool) -> None:
        """The LR plot only for a schedule that changes the rate: a constant rate is a flat line."""
        if shown == self.lr_shown:
            return
        self.lr_shown = shown
        plot = self.plots["lr"]
        # Kept in the layout (out of the scene, its PlotItem would outlive the view), its column
        # collapsed to nothing.
        plot.setMaximumWidth(1e6 if shown else 0)
        plot.setMinimumWidth(-1 if shown else 0)
        self.graphics.ci.layout.setColumnStretchFactor(2, 1 if shown else 0)
        plot.setVisible(shown)
        self._curves_view.log_lr.setVisible(shown)

    def _grid_later(self, name: str) -> None:
        """A zoom or pan by the user: remake that plot's grid once, after the gesture's events."""
        if not self._grid_pending:
            QTimer.singleShot(0, self._remake_pending_grids)
        self._grid_pending.add(name)

    def _remake_pending_grids(self) -> None:
        pending, self._grid_pending = self._grid_pending, set()
        for name in pending:
            self.update_grid(name)

    def update_grid(self, name: str) -> None:
        """Grid lines at the axes' major ticks over the plot's current range (pyqtgraph's own tick
        choice, so they meet the labels)."""
        if name not in self.grids:
            return
        plot = self.plots[name]
        vb = plot.getViewBox()
        (x0, x1), (y0, y1) = vb.viewRange()
        xs = _major_ticks(plot.getAxis("bottom"), x0, x1, vb.width())
        ys = _major_ticks(plot.getAxis("left"), y0, y1, vb.height())
        x = [v for t in xs for v in (t, t)] + [v for _ in ys for v in (x0, x1)]
        y = [v for _ in xs for v in (y0, y1)] + [v for t in ys for v in (t, t)]
        self.grids[name].setData(np.array(x, dtype=float), np.array(y, dtype=float))


_TIMED_GRAPHICS = None


def _timed_graphics_class():
    """pyqtgraph's GraphicsLayoutWidget that adds up the UI-thread time of its paints (made on
    first use: pyqtgraph is imported after the first window is shown)."""
    global _TIMED_GRAPHICS
    if _TIMED_GRAPHICS is None:
        class TimedGraphics(pg.GraphicsLayoutWidget):
            paint_ms = 0.0

            def paintEvent(self, event) -> None:  # noqa: N802 - Qt's name
                started = time.thread_time()
                super().paintEvent(event)
                self.paint_ms += (time.thread_time() - started) * 1000
        _TIMED_GRAPHICS = TimedGraphics
    return _TIMED_GRAPHICS


def _grid_pen(theme):
    colour = QColor(theme.text)
    colour.setAlpha(40)
    return pg.mkPen(colour)


def _row_legend():
    """A legend laid out by the plots' grid layout (a row above its plot), its entries side by
    side; pyqtgraph's own would be anchored inside the view box, over the curves."""

    class RowLegend(pg.LegendItem):
        def updateSize(self):  # noqa: N802 - pyqtgraph's name
            # The layout places it: ask for the room the entries need, do not move.
            width = height = 0.0
            for row in range(self.layout.rowCount()):
                row_width = row_height = 0.0
                for col in range(self.layout.columnCount()):
                    item = self.layout.itemAt(row, col)
                    if item:
                        row_width += item.width() + 3
                        row_height = max(row_height, item.height())
                width, height = max(width, row_width), height + row_height
            self.setMinimumHeight(max(height, 18))
            self.setMaximumHeight(max(height, 18))
            self.setMinimumWidth(0)
            self.updateGeometry()

    legend = RowLegend(colCount=3, labelTextSize="8pt", labelTextColor=themes.active().text)
    legend.setMinimumHeight(18)
    legend.setMaximumHeight(18)
    return legend


def _major_ticks(axis, low: float, high: float, pixels: float) -> list[float]:
    if not pixels > 0 or not high > low:
        return []
    levels = axis.tickValues(low, high, pixels)
    return [float(v) for v in levels[0][1]] if levels else []
