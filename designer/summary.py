"""The layer summary: a torchinfo-style table (copyable as text) and per-layer bar charts of
parameters, compute and memory — where the classic result shows (catalog §6): convolutions
hold the compute, the first fully connected layer the parameters. The charts are pyqtgraph plots
made when first painted (:class:`designer.deferred.Deferred`)."""
from __future__ import annotations

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QColor, QGuiApplication
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from engine import summary
from engine.blocks import get as get_block
from engine.blocks.base import fmt_shape
from engine.summary import human, human_bytes

from . import theme as themes
from .deferred import Deferred, pg

COLUMNS = ("Layer", "Block", "Output shape", "Params", "MACs", "Memory")
CHARTS = (("params", "Parameters"), ("macs", "Multiply-accumulates"), ("memory", "Activation memory (bytes)"))


class SummaryPanel(QWidget):
    def __init__(self, document, parent=None):
        super().__init__(parent)
        self.document = document
        self.batch = 1
        self.theme = themes.LIGHT
        self.tabs = QTabWidget()
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setDefaultSectionSize(22)
        self.table.setAlternatingRowColors(True)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        self.copy_button = QPushButton("Copy as text")
        self.copy_button.clicked.connect(self.copy_text)
        self.totals = QLabel()
        table_page = QWidget()
        layout = QVBoxLayout(table_page)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.table)
        row = QHBoxLayout()
        row.addWidget(self.totals, 1)
        row.addWidget(self.copy_button)
        layout.addLayout(row)
        self.tabs.addTab(table_page, "Table")
        self.plots: dict[str, BarChart] = {}
        for key, title in CHARTS:
            self.plots[key] = BarChart(title)
            self.tabs.addTab(self.plots[key], title.split(" (")[0])
        outer = QVBoxLayout(self)
        outer.setContentsMargins(2, 2, 2, 2)
        outer.addWidget(self.tabs)
        self.rows: list[dict] = []
        # A human reads the table at most a few times a second; the canvas gets every report.
        self._timer = QTimer(self, singleShot=True, interval=120)
        self._timer.timeout.connect(self.refresh)
        document.report_changed.connect(lambda _report: self._timer.start())
        self.refresh()

    def set_batch(self, batch: int) -> None:
        self.batch = batch
        self._timer.start()

    def set_theme(self, theme: themes.Theme) -> None:
        self.theme = theme
        for plot in self.plots.values():
            plot.set_theme(theme)
        self.refresh()

    def refresh(self) -> None:
        design, report = self.document.design, self.document.report
        self.rows = summary.rows(design, report)
        self.table.setUpdatesEnabled(False)
        self.table.setRowCount(len(self.rows))
        for r, row in enumerate(self.rows):
            mark = " ✖" if row["status"] == "error" else " ⚠" if row["status"] == "warning" else ""
            cells = (row["name"] + mark, row["title"], fmt_shape(row["shape"]) if row["shape"] is not None else "?",
                     f"{row['params']:,}", f"{row['macs']:,}", human_bytes(row["memory"] * self.batch))
            for c, text in enumerate(cells):
                item = self.table.item(r, c)
                if item is None:
                    item = QTableWidgetItem()
                    if c >= 3:
                        item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                    self.table.setItem(r, c, item)
                item.setText(text)
        self.table.setUpdatesEnabled(True)
        self.totals.setText(f"Total {report.total_params:,} parameters · {human(report.macs)} MACs · "
                            f"{human_bytes(report.activation_bytes * self.batch)} activations (batch {self.batch})")
        self._draw_charts()

    def _draw_charts(self) -> None:
        names = [row["name"] for row in self.rows]
        colors = []
        for row in self.rows:
            try:
                category = self.document.design.spec(row["block"]).category
            except Exception:  # a block of a composite that has since been removed
                category = get_block("identity").category
            colors.append(QColor(themes.CATEGORY_COLORS.get(category, "#888888")))
        step = max(1, len(names) // 24)  # at most ~24 tick labels stay readable
        ticks = [[(i, names[i]) for i in range(0, len(names), step)]]
        for key, plot in self.plots.items():
            values = [float(row[key] * (self.batch if key == "memory" else 1)) for row in self.rows]
            plot.show_bars(values, colors, ticks)

    def text(self) -> str:
        return summary.text_table(self.document.design, self.document.report, self.batch)

    def copy_text(self) -> None:
        QGuiApplication.clipboard().setText(self.text())


class BarChart(Deferred):
    """One value per layer as coloured bars: a pyqtgraph plot made when first painted, drawing
    the last bars it was given."""

    def __init__(self, title: str, parent=None):
        super().__init__(parent)
        self.title = title
        self._bars = ([], [], [[]])
        self._theme: themes.Theme | None = None

    def _build(self) -> None:
        self.plot = pg.PlotWidget()
        self.plot.setMenuEnabled(False)
        self.plot.setLabel("left", self.title)
        self.plot.showGrid(y=True, alpha=0.25)
        self.body.addWidget(self.plot)
        if self._theme is not None:
            self.set_theme(self._theme)
        self.show_bars(*self._bars)

    def set_theme(self, theme: themes.Theme) -> None:
        self._theme = theme
        if not self.is_built:
            return
        self.plot.setBackground(QColor(theme.node_fill))
        for axis in ("left", "bottom"):
            self.plot.getAxis(axis).setTextPen(QColor(theme.text))
            self.plot.getAxis(axis).setPen(QColor(theme.subtext))

    def show_bars(self, values: list[float], colors: list, ticks: list) -> None:
        self._bars = (values, colors, ticks)
        if not self.is_built:
            return
        self.plot.clear()
        if len(values):
            self.plot.addItem(pg.BarGraphItem(x=list(range(len(values))), height=values, width=0.8,
                                              brushes=colors, pens=[pg.mkPen(None)] * len(values)))
        self.plot.getAxis("bottom").setTicks(ticks)
