"""Live training curves: loss, accuracy and learning rate, for the current run and any runs
chosen for comparison.

Points arrive at up to ~30 Hz, but the plots redraw at most ``REDRAW_HZ`` times a second from
the run records (the records are the data; this view only draws them). Downsampling with
``mode='peak'`` and clip-to-view keep a run of 100,000 batches as fast as a short one, and a
loss spike is never hidden by the downsampling. The plots themselves are made when the view is
first painted or drawn into (:class:`designer.deferred.Deferred`): the app starts without them.
"""
from __future__ import annotations

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QLabel, QSlider, QVBoxLayout, QWidget

from designer.deferred import Deferred, np, pg
from engine.runs import RunRecord

REDRAW_HZ = 10
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
COLOURS = {"train": (66, 133, 244), "val": (234, 67, 53), "lr": (52, 168, 83)}
OVERLAY_COLOURS = [(251, 188, 5), (155, 89, 182), (26, 188, 156), (230, 126, 34), (127, 140, 141)]


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


class CurvesView(QWidget):
    def __init__(self, parent=None):
        super().__init__(parent)
        self._runs: list[RunRecord] = []
        self._current: str | None = None
        self._items: dict = {}  # (run id, series) → pg.PlotDataItem
        self._smoothers: dict[tuple[str, str], IncrementalSmoother] = {}
        self._dirty = False
        self._smoothing = 0.6

        self.grid = _PlotGrid(self)

        self.smoothing_slider = QSlider(Qt.Horizontal)
        self.smoothing_slider.setRange(0, 99)
        self.smoothing_slider.setValue(int(self._smoothing * 100))
        self.smoothing_slider.setToolTip("Smoothing of the per-batch curves (exponential moving average)")
        self.smoothing_slider.valueChanged.connect(self._on_smoothing_changed)
        self.smoothing_label = QLabel()
        self.log_loss = QCheckBox("log-scale loss")
        self.log_loss.toggled.connect(lambda on: self.plots["loss"].setLogMode(y=on))
        self.log_lr = QCheckBox("log-scale LR")
        self.log_lr.toggled.connect(lambda on: self.plots["lr"].setLogMode(y=on))
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

    # -- what to show --------------------------------------------------------------------
    def set_runs(self, runs: list[RunRecord], current: str | None = None) -> None:
        """Show these runs; ``current`` is drawn in full colour, the others as overlays."""
        self._runs = list(runs)
        self._current = current
        for item in self._items.values():
            item.getViewBox() and item.getViewBox().removeItem(item)
        for plot in self.plots.values():
            if plot.legend is not None:
                plot.legend.clear()
        self._items.clear()
        self._smoothers.clear()
        self.mark_dirty()
        self._redraw()

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
        self.mark_dirty()

    def _redraw_if_dirty(self) -> None:
        # A hidden tab does not redraw (the points wait in the run record): during a run the UI
        # thread's time is shared with the trainer through the GIL.
        if self._dirty and self.isVisible():
            self._redraw()

    def showEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().showEvent(event)
        self._redraw_if_dirty()

    def _redraw(self) -> None:
        self._dirty = False
        overlays = [r for r in self._runs if r.run_id != self._current]
        for i, run in enumerate(self._runs):
            is_current = run.run_id == self._current or self._current is None
            colour_index = overlays.index(run) % len(OVERLAY_COLOURS) if run in overlays else 0
            for series, plot_name, text, per_batch in CURVES:
                data = run.curves.get(series)
                if data is None or len(data) == 0:
                    continue
                item = self._items.get((run.run_id, series))
                if item is None:
                    item = self._new_item(run, series, plot_name, text, per_batch, is_current, colour_index)
                y = data.y
                if per_batch and series != "lr":
                    key = (run.run_id, series)
                    smoother = self._smoothers.get(key)
                    if smoother is None:
                        smoother = self._smoothers[key] = IncrementalSmoother(self._smoothing)
                    y = smoother.extend(y)
                item.setData(data.x, y)
        self._fit_lr_axis()

    def _fit_lr_axis(self) -> None:
        """A constant LR would get a range around zero; start the linear axis at 0 instead."""
        plot = self.plots["lr"]
        if self.log_lr.isChecked():
            plot.enableAutoRange(y=True)
            return
        tops = [float(r.curves["lr"].y.max()) for r in self._runs if len(r.curves.get("lr", ()))]
        if tops:
            plot.setYRange(0, max(tops) * 1.1, padding=0)

    def _new_item(self, run, series, plot_name, text, per_batch, is_current, colour_index):
        if is_current:
            colour = COLOURS["lr" if series == "lr" else ("val" if series.startswith("val") else "train")]
        else:
            colour = OVERLAY_COLOURS[colour_index]
        style = Qt.DashLine if series.startswith("val") and not is_current else Qt.SolidLine
        pen = pg.mkPen(colour + ((110,) if per_batch and series != "lr" else ()), width=1 if per_batch else 2,
                       style=style)
        kwargs = {} if per_batch else {"symbol": "o", "symbolSize": 6, "symbolBrush": colour, "symbolPen": None}
        name = text if is_current else f"{run.title}: {text}"
        if per_batch and not is_current and series != "lr":
            name = None  # the overlay's epoch curves are enough in the legend
        item = self.plots[plot_name].plot(pen=pen, name=name, **kwargs)
        self._items[(run.run_id, series)] = item
        return item


class _PlotGrid(Deferred):
    """The three plots side by side, made on first use with the view's current log settings."""

    def __init__(self, view: CurvesView):
        super().__init__(view)
        self._curves_view = view
        self.plots: dict = {}

    def _build(self) -> None:
        self.graphics = pg.GraphicsLayoutWidget()
        self.graphics.setBackground("w")
        self.plots.update({
            "loss": self.graphics.addPlot(row=0, col=0, title="Loss"),
            "accuracy": self.graphics.addPlot(row=0, col=1, title="Accuracy"),
            "lr": self.graphics.addPlot(row=0, col=2, title="Learning rate"),
        })
        for name, plot in self.plots.items():
            plot.showGrid(x=True, y=True, alpha=0.25)
            plot.setLabel("bottom", "epoch")
            plot.setDownsampling(auto=True, mode="peak")
            plot.setClipToView(True)
            if name != "lr":
                plot.addLegend(offset=(-5, 5), labelTextSize="8pt")
        self.plots["accuracy"].setYRange(0, 1, padding=0.02)
        view = self._curves_view
        self.plots["loss"].setLogMode(y=view.log_loss.isChecked())
        self.plots["lr"].setLogMode(y=view.log_lr.isChecked())
        self.body.addWidget(self.graphics)
