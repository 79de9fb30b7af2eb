"""A plot of the learning rate the run will use, drawn from the trainer's own schedule
(engine.training.optim.LRSchedule), so the preview is exactly what training will do."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
import torch

from engine.training.config import TrainConfig
from engine.training.optim import LRSchedule

MAX_POINTS = 400


def lr_curve(config: TrainConfig, steps_per_epoch: int) -> tuple[np.ndarray, np.ndarray]:
    """(epoch, learning rate) at up to MAX_POINTS steps of the whole run. Reduce-on-plateau
    depends on validation results, so its preview is the curve before any reduction."""
    dummy = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=config.lr)
    schedule = LRSchedule(dummy, config, steps_per_epoch)
    total = max(1, schedule.total)
    steps = np.unique(np.linspace(0, total - 1, min(total, MAX_POINTS)).astype(int))
    lrs = np.array([config.lr * schedule.factor(int(s)) for s in steps])
    return steps / schedule.steps_per_epoch, lrs


class SchedulePreview(pg.PlotWidget):
    def __init__(self, parent=None):
        super().__init__(parent, background="w")
        self.setMinimumHeight(110)
        self.setMaximumHeight(160)
        self.getPlotItem().hideButtons()
        self.setLabel("bottom", "epoch")
        self.setLabel("left", "LR")
        self.showGrid(x=True, y=True, alpha=0.25)
        self.curve = self.plot(pen=pg.mkPen((52, 168, 83), width=2))
        self.setMouseEnabled(x=False, y=False)

    def show_config(self, config: TrainConfig, steps_per_epoch: int) -> None:
        x, y = lr_curve(config, steps_per_epoch)
        self.curve.setData(x, y)
        self.setYRange(0, float(y.max()) * 1.1 if len(y) else 1.0, padding=0)  # a flat LR is not drawn at 0
        note = " (reduced ×γ when validation stops improving)" if config.schedule == "plateau" else ""
        self.setTitle(f"schedule: {config.schedule}{note}", size="8pt")
