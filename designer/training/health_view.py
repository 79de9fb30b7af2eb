"""Training health, a tab beside the curves: two heat maps, one row per layer, one column per
sample (every ``health_interval`` steps): each layer's gradient norm (log scale) and each ReLU
layer's share of dead units. What the engine samples (engine.training.health) is shown as is;
its diagnostics (vanishing, exploding, dead) go to the Problems list, not here.

Long runs keep every sample but draw at most :data:`MAX_COLUMNS` columns (evenly spaced ones),
so a redraw costs the same at step 100 and at step 100,000.
"""
from __future__ import annotations

import math

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QHBoxLayout, QLabel, QVBoxLayout, QWidget

from designer.deferred import np
from designer.training.images import ImagePane

MAX_COLUMNS = 300
REDRAW_MS = 500  # samples come every health_interval steps: twice a second is plenty
MAX_ROW_LABELS = 16  # more layers than this: every k-th is named (the tooltip of a cell names any)
LABEL_CHARS = 16


class HealthView(QWidget):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.grads = ImagePane("Gradient norm per layer (log₁₀)", "viridis")
        self.dead = ImagePane("Dead ReLU units per layer (share)", "inferno")
        self.caption = QLabel("Training health appears here during a run: each layer's gradient norm (far "
                              "smaller than the others: vanishing; huge: exploding) and the share of each ReLU "
                              "layer's units that output zero for a whole batch (dead).")
        self.caption.setWordWrap(True)
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.grads, 3)
        row.addWidget(self.dead, 2)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(row, 1)
        layout.addWidget(self.caption)
        self.caption.setContentsMargins(6, 0, 6, 2)
        self.labels: dict[str, str] = {}
        # redrawn at most every REDRAW_MS, and only while on screen (a hidden tab costs nothing)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(REDRAW_MS)
        self._timer.timeout.connect(lambda: self.redraw() if self.isVisible() else None)
        self.reset()

    def reset(self, labels: dict[str, str] | None = None) -> None:
        """Forget the samples (a new run); ``labels`` names the design's nodes (id → name)."""
        self.labels = dict(labels or {})
        self.steps: list[int] = []
        self.grad_rows: dict[str, list[float]] = {}   # node → one value per sample (NaN: not sampled)
        self.dead_rows: dict[str, list[float]] = {}
        self._dirty = False

    def add(self, sample) -> None:
        """Keep an events.Health sample; :meth:`redraw` shows what was added."""
        column = len(self.steps)
        self.steps.append(sample.step)
        for rows, values in ((self.grad_rows, sample.grad_norms), (self.dead_rows, sample.dead_fraction)):
            for node, value in values.items():
                rows.setdefault(node, [math.nan] * column).append(float(value))
            for row in rows.values():
                if len(row) == column:
                    row.append(math.nan)
        self._dirty = True
        if not self._timer.isActive():
            self._timer.start()

    def showEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().showEvent(event)
        self.redraw()  # what came while the tab was hidden

    def redraw(self) -> None:
        if not self._dirty:
            return
        self._dirty = False
        columns = self._columns()
        self._draw(self.grads, self.grad_rows, columns, log=True)
        self._draw(self.dead, self.dead_rows, columns, log=False)
        self.caption.setText(self._summary())

    def _columns(self):
        n = len(self.steps)
        if n <= MAX_COLUMNS:
            return np.arange(n)
        return np.unique(np.linspace(0, n - 1, MAX_COLUMNS).round().astype(int))

    def _draw(self, pane: ImagePane, rows: dict[str, list[float]], columns, log: bool) -> None:
        if not rows or not len(columns):
            pane.set_array(np.full((1, 1), np.nan), scale=None)
            return
        values = np.array([rows[node] for node in rows], dtype=np.float64)[:, columns]
        if log:
            with np.errstate(divide="ignore", invalid="ignore"):
                values = np.where(values > 0, np.log10(values), np.nan)
        finite = values[np.isfinite(values)]
        lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
        if not log:
            lo, hi = 0.0, 1.0
        span = hi - lo if hi > lo else 1.0
        pane.set_array((values - lo) / span, scale=(lo, hi),
                       scale_label="log₁₀ gradient norm" if log else "share of units dead")
        pane.view.setAspectLocked(False)
        names = list(rows)
        every = max(1, math.ceil(len(names) / MAX_ROW_LABELS))
        left = [(i + 0.5, self._short(names[i])) for i in range(0, len(names), every)]
        picks = np.linspace(0, len(columns) - 1, min(5, len(columns))).round().astype(int)
        bottom = [(int(i) + 0.5, f"{self.steps[int(columns[i])]:,}") for i in picks]
        pane.set_ticks(left=left, bottom=bottom, bottom_title="step")

    def _short(self, node: str) -> str:
        name = self.labels.get(node) or node
        return name if len(name) <= LABEL_CHARS else name[:LABEL_CHARS - 1] + "…"

    def _summary(self) -> str:
        if not self.steps:
            return "No health samples yet."
        last = {node: row[-1] for node, row in self.grad_rows.items() if row and math.isfinite(row[-1])}
        text = f"{len(self.steps)} samples, the last at step {self.steps[-1]:,}."
        if last:
            low, high = min(last, key=last.get), max(last, key=last.get)
            text += (f" Gradient norms now: smallest {self._short(low)} {last[low]:.2g}, "
                     f"largest {self._short(high)} {last[high]:.2g}.")
        dead = {node: row[-1] for node, row in self.dead_rows.items() if row and math.isfinite(row[-1])}
        if dead:
            worst = max(dead, key=dead.get)
            text += f" Most dead ReLU units: {self._short(worst)} {dead[worst]:.0%}."
        return text
