"""What the training panel shows of a loaded dataset, side by side in little height: a mosaic
of validation samples (3-D volumes as their maximum along depth), or a table of the first rows
for tabular data; and the class balance of the training set. Colours follow the
plot theme."""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QSizePolicy,
    QStackedWidget,
    QTableWidget,
    QTableWidgetItem,
    QWidget,
)

from designer import theme as themes
from designer.deferred import Deferred, np, pg

from .dataset_preview import DatasetPreview
from .images import ImagePane, mosaic, to_display

HEIGHT = 150  # px: mosaic and balance side by side; the Start button stays on screen at 1440×900
TABLE_ROWS, TABLE_COLUMNS = 8, 6  # of a table's preview: the first rows, the first feature columns
NAME_CHAR_PX = 7  # about one character of the axis font
HEADER_CHARS = 7  # a column's name beyond this is cut (the whole name is its tooltip)


def sample_tiles(images) -> np.ndarray:
    """N×H×W display tiles of N samples: grey images as they are, colour as luminance (the
    mosaic has one colour map), volumes as their maximum along depth (the whole shape shows)."""
    tiles = []
    for im in images:
        im = np.asarray(im, dtype=np.float32)
        if im.ndim == 4:  # C×D×H×W
            im = im.max(axis=1)
        shown = to_display(im)
        tiles.append(shown.mean(axis=-1) if shown.ndim == 3 else shown)
    return np.stack(tiles) if tiles else np.zeros((1, 1, 1))


class DatasetView(QWidget):
    """The samples (mosaic or table) left, the class balance right."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.samples = ImagePane("samples", colorbar=False)
        self.table = QTableWidget()
        self.table.setObjectName("feature_table")
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        self.table.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        font = self.table.font()
        font.setPointSizeF(max(6.0, font.pointSizeF() * 0.85))
        self.table.setFont(font)
        self.table.verticalHeader().setDefaultSectionSize(self.table.fontMetrics().height() + 4)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.samples)
        self.stack.addWidget(self.table)
        self.balance = ClassBalance()
        row = self.row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(4)
        row.addWidget(self.stack, 2)
        row.addWidget(self.balance, 2)
        for half in (self.stack, self.balance):  # their plots' size hints must not widen the dock
            half.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.setFixedHeight(HEIGHT)

    def show_preview(self, bundle, preview: DatasetPreview) -> None:
        features = getattr(bundle, "feature_names", None)
        if features:
            self._show_table(features, preview, bundle.classes)
        else:
            self.samples.set_array(mosaic(sample_tiles(preview.images), gap=1, per_tile=False))
            volumes = np.asarray(preview.images).ndim == 5
            self.samples.set_title(f"{len(preview.labels)} {'volumes' if volumes else 'samples'}")
            self.samples.setToolTip("each 3-D volume shown as its maximum along the depth axis" if volumes else "")
            self.stack.setCurrentWidget(self.samples)
            self.row.setStretch(0, 2)
        self.balance.show_counts(preview.class_counts, bundle.classes)

    def _show_table(self, features: list[str], preview: DatasetPreview, classes: list[str]) -> None:
        values = np.asarray(preview.images).reshape(len(preview.labels), -1)
        shown = list(features[:TABLE_COLUMNS])
        more = len(features) - len(shown)
        headers = shown + ([f"+{more}"] if more else []) + ["label"]
        rows = min(TABLE_ROWS, len(values))
        self.table.clear()
        self.table.setColumnCount(len(headers))
        self.table.setRowCount(rows)
        for c, name in enumerate(headers):
            item = QTableWidgetItem(name if len(name) <= HEADER_CHARS else name[:HEADER_CHARS - 1] + "…")
            item.setToolTip(name)
            self.table.setHorizontalHeaderItem(c, item)
        for r in range(rows):
            cells = [f"{v:.4g}" for v in values[r, :len(shown)]] + (["…"] if more else [])
            cells.append(classes[int(preview.labels[r])])
            for c, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight if c < len(cells) - 1 else Qt.AlignmentFlag.AlignLeft)
                self.table.setItem(r, c, item)
        self.table.setToolTip(f"the first {rows} validation rows; {len(features)} feature column(s): "
                              + ", ".join(features)[:400])
        self.stack.setCurrentWidget(self.table)
        self.row.setStretch(0, 3)  # numbers need more width than bars (the balance gets 2 of 5)

    def table_text(self) -> list[list[str]]:
        """The table's header and cells as shown (for tests and readers)."""
        t = self.table
        head = [t.horizontalHeaderItem(c).toolTip() for c in range(t.columnCount())]
        return [head] + [[t.item(r, c).text() for c in range(t.columnCount())] for r in range(t.rowCount())]


class ClassBalance(Deferred):
    """Training samples per class as bars (a pyqtgraph plot, made when first painted), in the
    plot theme's colours."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self._counts = (np.zeros(0), [])

    def _build(self) -> None:
        self.plot = pg.PlotWidget(background=themes.plot_background(), title="class balance")
        self.plot.getPlotItem().hideButtons()
        self.plot.setMouseEnabled(x=False, y=False)
        self.bars = pg.BarGraphItem(x=[], height=[], width=0.7, brush=_bar_colour(themes.active()))
        self.plot.addItem(self.bars)
        themes.si_ticks(self.plot.getAxis("left"))
        self.body.addWidget(self.plot)
        themes.style_plot_view(self.plot)
        self.plot.getPlotItem().titleLabel.setText("class balance", size="8pt",
                                                   color=themes.active().text)
        themes.on_plot_theme(self._on_theme)
        self.show_counts(*self._counts)

    def _on_theme(self, theme) -> None:
        self.bars.setOpts(brush=_bar_colour(theme))

    def counts(self) -> list[int]:
        return [int(c) for c in self._counts[0]]

    def show_counts(self, counts, classes: list[str]) -> None:
        self._counts = (np.asarray(counts), list(classes))
        if self.is_built and len(self._counts[0]):
            self.bars.setOpts(x=np.arange(len(counts)), height=self._counts[0], width=0.7)
            self._name_bars()

    def _name_bars(self) -> None:
        """Class names under the bars, cut to the room each bar has (every other one if that is
        under two characters); the full names are the tooltip."""
        classes = self._counts[1]
        if not classes:
            return
        room = max(1, self.width() - 45) / len(classes)  # px per bar beside the left axis
        step = 1
        while room * step < 2 * NAME_CHAR_PX and step < len(classes):
            step += 1
        chars = max(1, int(room * step // NAME_CHAR_PX) - 1)
        names = [(i, c if len(c) <= chars else c[:max(1, chars - 1)] + "…") for i, c in enumerate(classes)
                 if i % step == 0]
        self.plot.getAxis("bottom").setTicks([names, []])
        self.setToolTip("training samples per class: " + ", ".join(
            f"{c} {int(n):,}" for c, n in zip(classes, self._counts[0]))[:600])

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().resizeEvent(event)
        if self.is_built:
            self._name_bars()


def _bar_colour(theme) -> QColor:
    return QColor(theme.selection)


__all__ = ["DatasetView", "ClassBalance", "sample_tiles"]
