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
            self.plots[key] = BarChart(title, human_bytes if key == "memory" else human)
            self.tabs.addTab(self.plots[key], title.split(" (")[0])
        outer = QVBoxLayout(self)
        outer.setContentsMargins(2, 2, 2, 2)
        outer.addWidget(self.tabs)
        self.rows: list[dict] = []
        self._cells: list[tuple] = []  # the table's texts, row by row, as shown
        self._table_stale = False  # rows came while the table's tab was behind a chart's
        self._charts_stale = False  # rows came while the table's tab was in front
        self.tabs.currentChanged.connect(self._on_tab_changed)
        # A human reads the table at most a few times a second; the canvas gets every report.
        self._timer = QTimer(self, singleShot=True, interval=120)
        self._timer.timeout.connect(self._refresh_if_seen)
        self._stale = False  # a report came while the panel was hidden: refresh when shown
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

    def _refresh_if_seen(self) -> None:
        """A hidden summary (its tab behind another, its dock closed) waits until it is shown:
        its table and charts cost 0.1–0.3 s a report at 2,000 nodes, for no one to see."""
        if self.isVisible():
            self.refresh()
        else:
            self._stale = True

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if self._stale:
            self.refresh()
        else:
            self._on_tab_changed()

    def refresh(self) -> None:
        self._stale = False
        design, report = self.document.design, self.document.report
        self.rows = summary.rows(design, report)
        if self.table.isVisible() or not self.window().isVisible():
            self._fill_table()
        else:  # a chart's tab is in front: the table is filled when its tab is
            self._table_stale = True
        self.totals.setText(f"Total {report.total_params:,} parameters · {human(report.macs)} MACs · "
                            f"{human_bytes(report.activation_bytes * self.batch)} activations (batch {self.batch})")
        if self.table.isVisible() and self.window().isVisible():
            self._charts_stale = True  # the charts get their bars when one of their tabs is chosen
        else:
            self._draw_charts()

    def _on_tab_changed(self, _index: int = 0) -> None:
        if self._table_stale and self.table.isVisible():
            self._fill_table()
        if self._charts_stale and not self.table.isVisible():
            self._draw_charts()

    def _fill_table(self) -> None:
        """Set the cells whose text changed: an edit changes a few rows of thousands. The
        columns fit their contents, measured once after the cells are set: left to fit as each
        cell changes, the header measured every row again per cell (0.86 s for a DenseNet edit
        that changed the shapes of a dense block)."""
        self._table_stale = False
        cells = [_cells(row, self.batch) for row in self.rows]
        shown = self._cells
        changed = [r for r, texts in enumerate(cells) if r >= len(shown) or shown[r] != texts]
        self._cells = cells
        if not changed and self.table.rowCount() == len(cells):
            return
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self.table.setUpdatesEnabled(False)
        if self.table.rowCount() != len(cells):
            self.table.setRowCount(len(cells))
        for r in changed:
            for c, text in enumerate(cells[r]):
                item = self.table.item(r, c)
                if item is None:
                    item = QTableWidgetItem()
                    if c >= 3:
                        item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                    self.table.setItem(r, c, item)
                item.setText(text)
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.setUpdatesEnabled(True)

    def _draw_charts(self) -> None:
        self._charts_stale = False
        names = [row["name"] for row in self.rows]
        colors = []
        for row in self.rows:
            try:
                category = self.document.design.spec(row["block"]).category
            except Exception:  # a block of a composite that has since been removed
                category = get_block("identity").category
            colors.append(QColor(themes.CATEGORY_COLORS.get(category, "#888888")))
        ticks = [list(enumerate(names))]  # the chart shows as many as fit its width
        for key, plot in self.plots.items():
            values = [float(row[key] * (self.batch if key == "memory" else 1)) for row in self.rows]
            plot.show_bars(values, colors, ticks)

    def text(self) -> str:
        return summary.text_table(self.document.design, self.document.report, self.batch)

    def copy_text(self) -> None:
        QGuiApplication.clipboard().setText(self.text())


def _cells(row: dict, batch: int) -> tuple:
    """One table row's texts: name (marked when it has a problem), block, shape, counts."""
    mark = " ✖" if row["status"] == "error" else " ⚠" if row["status"] == "warning" else ""
    return (row["name"] + mark, row["title"], fmt_shape(row["shape"]) if row["shape"] is not None else "?",
            f"{row['params']:,}", f"{row['macs']:,}", human_bytes(row["memory"] * batch))


VALUE_LABELS_UP_TO = 40  # bars that get their value written on them (beyond that they would touch)
UPRIGHT_UP_TO = 10  # value labels read horizontally up to this many bars, upwards beyond
NAME_CHARS = 10  # a layer's name on the axis is cut to this many characters (hover shows it whole)


def _elide(name: str, chars: int = NAME_CHARS) -> str:
    return name if len(name) <= chars else name[:chars - 1] + "…"


class BarChart(Deferred):
    """One value per layer as coloured bars: a pyqtgraph plot made when first painted, drawing
    the last bars it was given. Each bar has its value written on it (up to 40 bars); the layer
    names under the bars are cut to 10 characters and thinned to what fits the width, and
    hovering a bar shows its layer's full name and exact value."""

    def __init__(self, title: str, fmt=human, parent=None):
        super().__init__(parent)
        self.title = title
        self.fmt = fmt  # value → short text for the label on a bar
        self._bars = ([], [], [[]])
        self._names: list[str] = []
        self._value_items: list = []
        self._theme: themes.Theme | None = None
        self._dirty = False  # bars came while the chart was out of sight

    def _build(self) -> None:
        self.plot = pg.PlotWidget()
        self.plot.setMenuEnabled(False)
        self.plot.setLabel("left", self.title)
        self.plot.showGrid(y=True, alpha=0.25)
        themes.si_ticks(self.plot.getAxis("left"))
        themes.style_plot_view(self.plot)
        self.plot.scene().sigMouseMoved.connect(self._on_hover)
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
        for item in self._value_items:
            item.setColor(QColor(theme.text))

    def show_bars(self, values: list[float], colors: list, ticks: list) -> None:
        """``ticks``: [[(bar index, layer name), ...]], one name per bar."""
        self._bars = (values, colors, ticks)
        names = dict(ticks[0]) if ticks and ticks[0] else {}
        self._names = [str(names.get(i, "")) for i in range(len(values))]
        if not self.is_built:
            return
        if not self.isVisible() and self.window().isVisible():
            self._dirty = True  # behind another tab: drawn when shown (thousands of bars, per edit)
            return
        self._dirty = False
        self.plot.clear()
        self._value_items = []
        if len(values):
            self.plot.addItem(pg.BarGraphItem(x=list(range(len(values))), height=values, width=0.8,
                                              brushes=colors, pens=[pg.mkPen(None)] * len(values)))
        upright = len(values) <= UPRIGHT_UP_TO
        if len(values) <= VALUE_LABELS_UP_TO:
            color = QColor((self._theme or themes.active()).text)
            for i, v in enumerate(values):
                if not v:
                    continue  # a row of zeros under the pools and activations says nothing
                text = pg.TextItem(self.fmt(v), color=color, anchor=(0.5, 1.0) if upright else (0.0, 0.5),
                                   angle=0 if upright else 90)
                text.setPos(i, v)
                self.plot.addItem(text)
                self._value_items.append(text)
        top = max(values) if len(values) else 1.0
        # headroom for the labels on the tallest bars: a line of text, or an upward label
        self.plot.setYRange(0, (top or 1.0) * (1.12 if upright or not self._value_items else 1.35), padding=0)
        self.plot.setXRange(-0.6, max(len(values), 1) - 0.4, padding=0)
        self._place_names()

    def value_texts(self) -> list[str]:
        return [item.textItem.toPlainText() for item in self._value_items]

    def name_ticks(self) -> list[tuple[int, str]]:
        """The (bar, name) pairs under the bars: as many as fit, cut to NAME_CHARS."""
        return list(self._shown_ticks) if hasattr(self, "_shown_ticks") else []

    def showEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().showEvent(event)
        if self._dirty:
            self.show_bars(*self._bars)

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().resizeEvent(event)
        if self.is_built and not self._dirty:
            self._place_names()

    def _place_names(self) -> None:
        n = len(self._names)
        width = max(self.plot.width() - 80, 1)  # less the value axis
        label_px = NAME_CHARS * 7 + 10  # a cut name in the axis font, and a gap
        step = max(1, -(-n * label_px // int(width)))  # ceil: bars per name that fits
        # The tallest bars are named first, each name at least `step` bars from the next: the
        # layers that hold the parameters or the compute are the ones a reader looks for.
        values = self._bars[0]
        chosen: list[int] = []
        for i in sorted(range(n), key=lambda i: (-values[i], i)):
            if all(abs(i - j) >= step for j in chosen):
                chosen.append(i)
        self._shown_ticks = [(i, _elide(self._names[i])) for i in sorted(chosen)]
        self.plot.getAxis("bottom").setTicks([self._shown_ticks, []])

    def _on_hover(self, pos) -> None:
        view = self.plot.getViewBox()
        if not view.sceneBoundingRect().contains(pos):
            self.plot.setToolTip("")
            return
        i = round(view.mapSceneToView(pos).x())
        values = self._bars[0]
        if 0 <= i < len(values):
            self.plot.setToolTip(f"{self._names[i]}: {self.fmt(values[i])} ({values[i]:,.0f})")
