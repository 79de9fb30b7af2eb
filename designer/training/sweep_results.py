"""The results of Run ▸ Sweep… (:mod:`.sweep_dialog`): the comparison table's model (one row per
point, numbers sorting as numbers, the best run marked) and the curves of the chosen runs, read
from their run folders."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QAbstractTableModel, QModelIndex, Qt
from PySide6.QtGui import QColor, QFont
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from designer import theme as themes
from engine.sweep import PointResult, point_label
from engine.training.rundir import read_metrics

from .plots import COLOURS, OVERLAY_COLOURS

RUN_COLOURS = [COLOURS["train"], COLOURS["val"], COLOURS["lr"], *OVERLAY_COLOURS]
SORT_ROLE = Qt.ItemDataRole.UserRole + 1
RESULT_COLUMNS = ("best val acc", "val loss", "epochs", "time", "device", "status")


# -- the comparison table ----------------------------------------------------------------------
class SweepTableModel(QAbstractTableModel):
    """One row per point: its settings, then its results. Numbers sort as numbers (SORT_ROLE);
    a run with no result yet sorts below every result."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.names: list[str] = []
        self.results: list[PointResult] = []
        self.best_index: int | None = None
        self.planned_epochs = 0
        self.hovered = -1  # the run under the pointer in the parallel-coordinates plot
        self.progress: dict[int, tuple[int, float]] = {}  # running run → (epochs done, seconds so far)

    def reset(self, names: list[str], results: list[PointResult], planned_epochs: int = 0) -> None:
        self.beginResetModel()
        self.names, self.results = list(names), list(results)
        self.planned_epochs = planned_epochs or self.planned_epochs
        self.progress = {}
        self._find_best()
        self.endResetModel()

    def set_hovered(self, index: int) -> None:
        rows = {r for r in (self.hovered, index) if 0 <= r < len(self.results)}
        self.hovered = index
        for row in rows:
            self.dataChanged.emit(self.index(row, 0), self.index(row, self.columnCount() - 1))

    def set_progress(self, index: int, epochs: int, seconds: float) -> None:
        """A running run's epochs so far (from its folder) and time so far, shown until it ends."""
        self.progress[index] = (epochs, seconds)
        self.dataChanged.emit(self.index(index, 0), self.index(index, self.columnCount() - 1))

    def update(self, result: PointResult) -> None:
        if not 0 <= result.index < len(self.results):
            return
        self.results[result.index] = result
        if result.status != "running":
            self.progress.pop(result.index, None)
        before = self.best_index
        self._find_best()
        rows = {result.index} | ({before} if before is not None else set()) | \
            ({self.best_index} if self.best_index is not None else set())
        for row in rows:
            self.dataChanged.emit(self.index(row, 0), self.index(row, self.columnCount() - 1))

    def _find_best(self) -> None:
        done = [r for r in self.results if r.best_val_accuracy is not None]
        self.best_index = max(done, key=lambda r: r.best_val_accuracy).index if done else None

    def columns(self) -> list[str]:
        return ["#", *self.names, *RESULT_COLUMNS]

    def rowCount(self, parent=QModelIndex()) -> int:  # noqa: N802 - Qt's name
        return 0 if parent.isValid() else len(self.results)

    def columnCount(self, parent=QModelIndex()) -> int:  # noqa: N802 - Qt's name
        return 0 if parent.isValid() else len(self.columns())

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):  # noqa: N802
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return self.columns()[section]
        return None

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        r = self.results[index.row()]
        column = self.columns()[index.column()]
        if role == Qt.ItemDataRole.DisplayRole:
            if r.status == "running" and column in ("epochs", "time"):
                epochs, seconds = self.progress.get(r.index, (0, 0.0))
                return f"{epochs}/{self.planned_epochs}" if column == "epochs" else f"{seconds:.0f} s"
            if column == "#" and r.index == self.best_index:
                return f"{r.index + 1} ★"  # the best so far, also for a reader who does not see bold
            return self._text(r, column)
        if role == SORT_ROLE:
            return self._sort_key(r, column)
        if role == Qt.ItemDataRole.FontRole and r.index == self.best_index:
            font = QFont()
            font.setBold(True)
            return font
        if role == Qt.ItemDataRole.DecorationRole and column == "#":
            return QColor(*RUN_COLOURS[r.index % len(RUN_COLOURS)])  # the colour of its curves
        if role == Qt.ItemDataRole.BackgroundRole and r.index == self.hovered:
            tint = QColor(themes.active().selection)
            tint.setAlpha(70)
            return tint
        if role == Qt.ItemDataRole.ForegroundRole and column == "status" and r.status in ("failed", "invalid"):
            return QColor(themes.active().bad_text)
        if role == Qt.ItemDataRole.ToolTipRole:
            return (r.message or r.status) + f"\n{r.run_dir}"
        if role == Qt.ItemDataRole.TextAlignmentRole and column not in ("status", "device"):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    @staticmethod
    def _text(r: PointResult, column: str) -> str:
        if column == "#":
            return str(r.index + 1)
        if column == "best val acc":
            return f"{r.best_val_accuracy:.2%}" if r.best_val_accuracy is not None else "—"
        if column == "val loss":
            return f"{r.final_val_loss:.4f}" if r.final_val_loss is not None else "—"
        if column == "epochs":
            return str(r.epochs) if r.status not in ("queued", "running") else ""
        if column == "time":
            return f"{r.seconds:.0f} s" if r.seconds else ""
        if column == "device":
            return r.device
        if column == "status":
            return r.status + (f": {r.message}" if r.message else "")
        value = r.settings.get(column)
        return "" if value is None else (f"{value:g}" if isinstance(value, float) else str(value))

    @staticmethod
    def _sort_key(r: PointResult, column: str):
        numbers = {"#": r.index, "best val acc": r.best_val_accuracy, "val loss": r.final_val_loss,
                   "epochs": r.epochs, "time": r.seconds}
        if column in numbers:
            value = numbers[column]
            return float("-inf") if value is None else float(value)
        if column in ("device", "status"):
            return SweepTableModel._text(r, column)
        value = r.settings.get(column)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        return "" if value is None else str(value)


# -- the curves --------------------------------------------------------------------------------
class SweepCurves(QWidget):
    """Validation accuracy and loss per epoch of the chosen runs, read from their run folders."""

    def __init__(self, parent=None):
        super().__init__(parent)
        import pyqtgraph as pg

        self._pg = pg
        self.graphics = pg.GraphicsLayoutWidget()
        self.plots = {"val_accuracy": self.graphics.addPlot(row=0, col=0, title="Validation accuracy"),
                      "val_loss": self.graphics.addPlot(row=0, col=1, title="Validation loss")}
        for plot in self.plots.values():
            plot.setLabel("bottom", "epoch")
            plot.showGrid(x=True, y=True, alpha=0.2)
            plot.setMenuEnabled(False)
        # No legend (it covered the curves, and a sweep has many runs): the table's # column
        # shows each run's colour, and a curve's tooltip names its run.
        self.note = QLabel("Each run's colour is in the table's # column; select rows to compare a few.")
        self.note.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.graphics, 1)
        layout.addWidget(self.note)
        self.shown: dict[int, int] = {}  # run index → points drawn (for tests and to skip redraws)
        themes.style_plot_view(self.graphics)

    def show_runs(self, results: list[PointResult]) -> None:
        pg = self._pg
        for plot in self.plots.values():
            plot.clear()
        self.shown = {}
        for r in results:
            rows = read_metrics(r.run_dir) if Path(r.run_dir).is_dir() else []
            colour = RUN_COLOURS[r.index % len(RUN_COLOURS)]
            for key, plot in self.plots.items():
                points = [(row["epoch"], row[key]) for row in rows if row.get(key) is not None and "epoch" in row]
                if not points:
                    continue
                xs, ys = zip(*points)
                item = plot.plot(list(xs), list(ys), pen=pg.mkPen(colour, width=2), symbol="o", symbolSize=5,
                                 symbolBrush=colour, symbolPen=None)
                item.setToolTip(f"run {r.index + 1}: {point_label(r.settings)}")
            self.shown[r.index] = len(rows)
        longest = max(self.shown.values(), default=0)
        for plot in self.plots.values():  # whole epochs: a 1-epoch sweep shows no "0.6 epoch" ticks
            plot.getAxis("bottom").setTickSpacing(*((1, 1) if longest <= 12 else (None, None)))
            if longest:
                plot.setXRange(0.5, longest + 0.5, padding=0.02)
        themes.style_plot_view(self.graphics)
