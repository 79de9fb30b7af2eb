"""A plot of the learning rate the run will use, drawn from the trainer's own closed-form
schedule (engine.training.schedule_math, which the trainer's LRSchedule uses), so the preview is
exactly what training will do, and it draws at once, without torch."""
from __future__ import annotations

from designer import theme as themes
from designer.deferred import Deferred, pg
from engine.training import schedule_math
from engine.training.config import TrainConfig

MAX_POINTS = 400


def lr_curve(config: TrainConfig, steps_per_epoch: int):
    """(epoch, learning rate) arrays at up to MAX_POINTS steps of the whole run. Reduce-on-plateau
    depends on validation results, so its preview is the curve before any reduction."""
    import numpy as np

    x, y = schedule_math.lr_curve(config, steps_per_epoch, MAX_POINTS)
    return np.asarray(x), np.asarray(y)


class SchedulePreview(Deferred):
    """The curve, drawn in a pyqtgraph plot made when the preview is first painted."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setMinimumHeight(110)
        self.setMaximumHeight(160)
        self._shown = None  # (x, y, title) last given

    def _build(self) -> None:
        self.plot = pg.PlotWidget(background=themes.plot_background())
        self.plot.getPlotItem().hideButtons()
        self.plot.setLabel("bottom", "epoch")
        self.plot.setLabel("left", "LR")
        self.plot.showGrid(x=True, y=True, alpha=0.25)
        self.curve = self.plot.plot(pen=pg.mkPen((52, 168, 83), width=2))
        self.plot.setMouseEnabled(x=False, y=False)
        themes.style_plot_view(self.plot)
        self.body.addWidget(self.plot)
        if self._shown is not None:
            self._draw(*self._shown)

    def show_config(self, config: TrainConfig, steps_per_epoch: int) -> None:
        x, y = schedule_math.lr_curve(config, steps_per_epoch, MAX_POINTS)  # lists: no numpy before the plot
        note = " (reduced ×γ when validation stops improving)" if config.schedule == "plateau" else ""
        self._shown = (x, y, f"schedule: {config.schedule}{note}")
        if self.is_built:
            self._draw(*self._shown)

    def _draw(self, x: list[float], y: list[float], title: str) -> None:
        self.curve.setData(x, y)
        self.plot.setYRange(0, max(y) * 1.1 if y else 1.0, padding=0)  # a flat LR is not drawn at 0
        self.plot.setTitle(title, size="8pt")
