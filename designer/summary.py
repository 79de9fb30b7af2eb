"""The layer summary: a torchinfo-style table (copyable as text) and per-layer bar charts of
parameters, compute and memory — where the classic result shows (catalog §6): convolutions
hold the compute, the first fully connected layer the parameters."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QColor, QGuiApplication
from PySide6.QtWidgets import (QAbstractItemView, QHBoxLayout, QHeaderView, QLabel, QPushButton, QTableWidget,
                               QTableWidgetItem, QTabWidget, QVBoxLayout, QWidget)

from engine import summary
from engine.blocks import get as get_block
from engine.blocks.base import fmt_shape
from engine.summary import human, human_bytes

from . import theme as themes

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
        self.plots: dict[str, pg.PlotWidget] = {}
        for key, title in CHARTS:
            plot = pg.PlotWidget()
            plot.setMenuEnabled(False)
            plot.setLabel("left", title)
            plot.showGrid(y=True, alpha=0.25)
            self.plots[key] = plot
            self.tabs.addTab(plot, title.split(" (")[0])
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
            plot.setBackground(QColor(theme.node_fill))
            for axis in ("left", "bottom"):
                plot.getAxis(axis).setTextPen(QColor(theme.text))
                plot.getAxis(axis).setPen(QColor(theme.subtext))
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
            plot.clear()
            values = np.array([float(row[key] * (self.batch if key == "memory" else 1)) for row in self.rows])
            if len(values):
                plot.addItem(pg.BarGraphItem(x=np.arange(len(values)), height=values, width=0.8,
                                             brushes=colors, pens=[pg.mkPen(None)] * len(values)))
            plot.getAxis("bottom").setTicks(ticks)

    def text(self) -> str:
        return summary.text_table(self.document.design, self.document.report, self.batch)

    def copy_text(self) -> None:
        QGuiApplication.clipboard().setText(self.text())
