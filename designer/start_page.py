"""The start page shown over the canvas while the window holds no design (first start, File ▸
New, File ▸ Close): a card per template with a drawn miniature of its layer stack, a card for
an empty design, the recent files and one line on how to begin. Once the design has a block
the canvas shows; an empty canvas shows a hint instead of an error.

Miniatures come from the template's analysis (``engine.templates.build`` + ``engine.analyze``,
pure Python, a few ms each): they are made one per event-loop turn after the page shows and
kept for the session, so the page paints at once and fills in.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QEvent, QPoint, QRectF, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QFont, QPainter, QPainterPath, QPalette, QPen
from PySide6.QtWidgets import QAbstractButton, QHBoxLayout, QLabel, QPushButton, QScrollArea, QVBoxLayout, QWidget

from . import theme as themes
from .canvas.scene import BLOCK_MIME
from .diagnostics import EMPTY_HINT, is_empty
from .gallery import template_module, template_year

HOW_TO_BEGIN = ("Pick a network to start from, or drag an Input block from the palette on the left onto "
                "this page and connect blocks below it.")
CARD_SIZE = QSize(184, 164)
THUMB_HEIGHT = 74
MAX_RECENT_SHOWN = 5
# Layers that keep the shape (activations, norms, dropout, flatten) are left out of miniatures.
_SKETCHED_CATEGORIES = {"Structure", "Convolution", "Pooling", "Composite"}
_UNSKETCHED_BLOCKS = {"flatten", "output", "identity"}


def short_count(n: int) -> str:
    """Three significant digits in SI units: 61.7 k, 25.6 M, 138 M."""
    for threshold, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if n >= threshold:
            value = n / threshold
            digits = 2 if value < 10 else 1 if value < 100 else 0
            return f"{value:.{digits}f} {suffix}"
    return str(n)


@dataclass(frozen=True)
class Bar:
    category: str
    channels: int
    size: int  # spatial side of a feature map, or the width of a vector
    dense: bool  # a vector (after flatten): drawn thin


@dataclass(frozen=True)
class Sketch:
    params: int
    bars: tuple[Bar, ...]


_SKETCHES: dict[str, Sketch] = {}  # by template name, for the whole session


def sketch(name: str) -> Sketch:
    """The miniature of a template at its default input, from the engine's analysis."""
    if name not in _SKETCHES:
        from engine import analyze

        templates = template_module()
        design = templates.build(name)
        report = analyze(design)
        bars = []
        for node_id in report.order:
            node, result = design.nodes[node_id], report.nodes[node_id]
            category = design.spec(node.block).category
            if category not in _SKETCHED_CATEGORIES or node.block in _UNSKETCHED_BLOCKS or not result.shape:
                continue
            shape = tuple(result.shape)
            if len(shape) == 1:
                bars.append(Bar(category, 1, shape[0], True))
            else:
                bars.append(Bar(category, shape[0], max(shape[1:]), False))
        _SKETCHES[name] = Sketch(report.total_params, tuple(bars))
    return _SKETCHES[name]


def paint_sketch(painter: QPainter, rect: QRectF, bars) -> None:
    """Bars left to right as data flows: height ∝ √(map side), thickness ∝ log(channels),
    colour = the block's category (the palette's and the nodes' colour)."""
    if not bars:
        return
    maps = [b for b in bars if not b.dense]
    max_side = max((b.size for b in maps), default=1)
    max_channels = max((b.channels for b in maps), default=2)
    max_features = max((b.size for b in bars if b.dense), default=2)
    raw = [2.0 if b.dense else 2.0 + 8.0 * math.log2(max(b.channels, 1) + 1) / math.log2(max_channels + 1)
           for b in bars]
    gap = 2.0 if len(bars) < 40 else 1.0
    room = rect.width() - gap * (len(bars) - 1)
    scale = min(1.6, room / sum(raw))
    x = rect.left() + (rect.width() - (sum(raw) * scale + gap * (len(bars) - 1))) / 2
    painter.setPen(Qt.PenStyle.NoPen)
    for bar, width in zip(bars, raw):
        if bar.dense:
            share = 0.18 + 0.5 * math.log(bar.size + 1) / math.log(max_features + 1)
        else:
            share = 0.22 + 0.78 * math.sqrt(bar.size / max_side)
        height = rect.height() * share
        painter.setBrush(QColor(themes.CATEGORY_COLORS.get(bar.category, "#888888")))
        painter.drawRoundedRect(QRectF(x, rect.center().y() - height / 2, max(width * scale, 1.0), height), 1.0, 1.0)
        x += width * scale + gap


class Card(QAbstractButton):
    """A clickable card: a picture on top, a bold title, two lines of detail."""

    def __init__(self, title: str, lines=(), tooltip: str = "", parent=None):
        super().__init__(parent)
        self.title, self.lines = title, list(lines)
        self.theme = themes.LIGHT
        self.setFixedSize(CARD_SIZE)
        self.setToolTip(tooltip)
        self.setAccessibleName(title)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setAttribute(Qt.WidgetAttribute.WA_Hover)

    def set_theme(self, theme: themes.Theme) -> None:
        self.theme = theme
        self.update()

    def sizeHint(self) -> QSize:
        return CARD_SIZE

    def event(self, event) -> bool:
        if event.type() in (QEvent.Type.HoverEnter, QEvent.Type.HoverLeave):
            self.update()
        return super().event(event)

    def paintEvent(self, _event) -> None:
        t = self.theme
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        frame = QRectF(self.rect()).adjusted(1, 1, -1, -1)
        hot = self.underMouse() or self.hasFocus() or self.isDown()
        p.setPen(QPen(t.color("selection" if hot else "node_border"), 2 if hot else 1))
        p.setBrush(t.color("node_fill"))
        p.drawRoundedRect(frame, 8, 8)
        picture = QRectF(frame.left() + 8, frame.top() + 8, frame.width() - 16, THUMB_HEIGHT)
        clip = QPainterPath()
        clip.addRoundedRect(picture, 5, 5)
        p.fillPath(clip, t.color("background"))
        self.paint_picture(p, picture.adjusted(6, 6, -6, -6))
        p.setPen(t.color("text"))
        font = QFont(self.font())
        font.setBold(True)
        p.setFont(font)
        y = picture.bottom() + 6
        text_w = int(frame.width() - 20)
        # A long title wraps onto a second line ("VGG-16 with batch norm"); never cut mid-word.
        title_box = QRectF(frame.left() + 10, y, text_w, 2 * p.fontMetrics().height())
        flags = Qt.AlignmentFlag.AlignLeft | Qt.TextFlag.TextWordWrap
        used = p.boundingRect(title_box, flags, self.title)
        p.drawText(title_box, flags, self.title)
        y += min(used.height(), title_box.height()) + 2
        p.setFont(self.font())
        p.setPen(t.color("subtext"))
        small_h = p.fontMetrics().height()
        for line in self.lines:
            p.drawText(QRectF(frame.left() + 10, y, text_w, small_h), Qt.AlignmentFlag.AlignLeft,
                       p.fontMetrics().elidedText(line, Qt.TextElideMode.ElideRight, text_w))
            y += small_h
        p.end()

    def paint_picture(self, painter: QPainter, rect: QRectF) -> None:
        painter.setPen(QPen(self.theme.color("subtext"), 2, Qt.PenStyle.DashLine))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        box = QRectF(0, 0, 44, 30)
        box.moveCenter(rect.center())
        painter.drawRoundedRect(box, 5, 5)
        painter.setPen(QPen(self.theme.color("subtext"), 2))
        c = rect.center()
        painter.drawLine(int(c.x() - 7), int(c.y()), int(c.x() + 7), int(c.y()))
        painter.drawLine(int(c.x()), int(c.y() - 7), int(c.x()), int(c.y() + 7))


class TemplateCard(Card):
    def __init__(self, info, parent=None):
        shape = "×".join(map(str, info.default_input))
        super().__init__(info.title, ["", f"input {shape}"],
                         f"{info.title}: {info.description}", parent)
        self.info = info
        self.sketch: Sketch | None = None
        self.set_sketch(_SKETCHES.get(info.name))

    @property
    def name(self) -> str:
        return self.info.name

    def set_sketch(self, found: Sketch | None) -> None:
        self.sketch = found
        year = template_year(self.info)
        count = f"{short_count(found.params)} params" if found else "counting…"
        self.lines[0] = " · ".join(x for x in (count, year) if x)
        self.update()

    def paint_picture(self, painter: QPainter, rect: QRectF) -> None:
        if self.sketch is not None:
            paint_sketch(painter, rect, self.sketch.bars)


class CardGrid(QWidget):
    """Cards in as many columns as fit the width, reflowed on every resize (placed by hand: a
    grid layout would hold the page as wide as its widest past arrangement)."""

    SPACING = 14

    def __init__(self, parent=None):
        super().__init__(parent)
        self.cards: list[Card] = []
        self.columns = 1

    def add(self, card: Card) -> None:
        card.setParent(self)
        self.cards.append(card)
        self._reflow()

    def columns_for(self, width: int) -> int:
        return max(1, (width + self.SPACING) // (CARD_SIZE.width() + self.SPACING))

    def _height_for(self, columns: int) -> int:
        rows = -(-len(self.cards) // columns)
        return max(0, rows * (CARD_SIZE.height() + self.SPACING) - self.SPACING)

    def sizeHint(self) -> QSize:
        return QSize(4 * (CARD_SIZE.width() + self.SPACING), self._height_for(4))

    def minimumSizeHint(self) -> QSize:
        return QSize(CARD_SIZE.width(), self._height_for(self.columns))

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._reflow()

    def _reflow(self) -> None:
        self.columns = self.columns_for(self.width())
        step_x, step_y = CARD_SIZE.width() + self.SPACING, CARD_SIZE.height() + self.SPACING
        for k, card in enumerate(self.cards):
            card.move((k % self.columns) * step_x, (k // self.columns) * step_y)
        height = self._height_for(self.columns)
        if self.minimumHeight() != height:
            self.setMinimumHeight(height)  # the scroll area's content grows with the rows


class StartPage(QWidget):
    """Lies over the canvas view (a child of it) while the document holds an untitled, empty
    design. Drops of palette blocks and files work here as on the canvas."""

    template_chosen = Signal(str)  # a template name: build it as File ▸ New from Template does
    empty_chosen = Signal()
    recent_chosen = Signal(str)
    open_chosen = Signal()
    block_dropped = Signal(str, QPoint)  # block key, position in the view's viewport

    def __init__(self, document, view, parent=None):
        super().__init__(parent or view)
        self.setObjectName("StartPage")
        self.document, self.view = document, view
        self.theme = themes.LIGHT
        self.setAcceptDrops(True)
        self.setAutoFillBackground(True)
        self.heading = QLabel("Start a network")
        font = self.heading.font()
        font.setPointSizeF(font.pointSizeF() * 1.8)
        font.setBold(True)
        self.heading.setFont(font)
        self.how_to = QLabel(HOW_TO_BEGIN, wordWrap=True)
        self.recent_heading = self._section("Recent files")
        self.recent_box = QVBoxLayout()
        self.recent_box.setSpacing(2)
        self.open_button = QPushButton("Open a design…")
        self.open_button.setToolTip("File ▸ Open (Ctrl+O)")
        self.open_button.clicked.connect(self.open_chosen)
        self.templates_heading = self._section("New design")
        self.grid = CardGrid()
        self.empty_card = Card("Empty design", ["a blank canvas; drag", "blocks from the palette"],
                               "Start from nothing: drag an Input block from the palette")
        self.empty_card.clicked.connect(self._on_empty)
        self.grid.add(self.empty_card)
        self.template_cards: list[TemplateCard] = []
        for info in template_module().catalog():
            card = TemplateCard(info)
            card.clicked.connect(lambda _checked=False, n=info.name: self.template_chosen.emit(n))
            self.grid.add(card)
            self.template_cards.append(card)
        content = QWidget()
        content.setObjectName("StartPageContent")
        column = QVBoxLayout(content)
        column.setContentsMargins(28, 22, 28, 22)
        column.setSpacing(8)
        column.addWidget(self.heading)
        column.addWidget(self.how_to)
        column.addSpacing(10)
        column.addWidget(self.recent_heading)
        column.addLayout(self.recent_box)
        open_row = QHBoxLayout()
        open_row.addWidget(self.open_button)
        open_row.addStretch(1)
        column.addLayout(open_row)
        column.addSpacing(10)
        column.addWidget(self.templates_heading)
        column.addWidget(self.grid)
        column.addStretch(1)
        self.scroll = QScrollArea()
        self.scroll.setWidget(content)
        self.scroll.setWidgetResizable(True)
        self.scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        self.scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.scroll)
        self._pending = [card for card in self.template_cards if card.sketch is None]
        self._sketch_timer = QTimer(self, singleShot=True, interval=0)
        self._sketch_timer.timeout.connect(self._sketch_next)
        self.set_recent([])
        view.installEventFilter(self)
        document.design_replaced.connect(self._on_design_replaced)
        document.report_changed.connect(self._on_report)
        self.setGeometry(view.rect())
        self.setVisible(self.wanted())

    @staticmethod
    def _section(text: str) -> QLabel:
        label = QLabel(text)
        font = label.font()
        font.setBold(True)
        font.setPointSizeF(font.pointSizeF() * 1.15)
        label.setFont(font)
        return label

    # -- what is shown ---------------------------------------------------------------------
    def wanted(self) -> bool:
        """An untitled design with no blocks: a new window, File ▸ New or a closed design."""
        return is_empty(self.document.design) and not self.document.path

    def _on_design_replaced(self) -> None:
        self.setVisible(self.wanted())

    def _on_report(self, _report) -> None:
        if not self.isHidden() and not is_empty(self.document.design):
            self.hide()  # a block arrived (palette double-click, paste, a drop)

    def _on_empty(self) -> None:
        self.hide()
        self.empty_chosen.emit()

    def set_recent(self, paths) -> None:
        while self.recent_box.count():
            widget = self.recent_box.takeAt(0).widget()
            if widget is not None:
                widget.hide()
                widget.deleteLater()
        paths = list(paths)[:MAX_RECENT_SHOWN]
        self.recent_links: list[QLabel] = []
        for path in paths:
            link = QLabel()
            link.setProperty("path", path)
            link.setToolTip(path)
            link.setTextInteractionFlags(Qt.TextInteractionFlag.LinksAccessibleByMouse
                                         | Qt.TextInteractionFlag.LinksAccessibleByKeyboard)
            # The link names no path (paths may hold '#', '%' or quotes): the label knows it.
            link.linkActivated.connect(lambda _href, p=path: self.recent_chosen.emit(p))
            self.recent_box.addWidget(link)
            self.recent_links.append(link)
        if not paths:
            none = QLabel("No recent files yet: designs you open or save are listed here.")
            none.setProperty("muted", True)
            self.recent_box.addWidget(none)
            self.recent_links.append(none)
        self._style_recent()

    def _style_recent(self) -> None:
        t = self.theme
        for label in self.recent_links:
            path = label.property("path")
            if path is None:
                label.setStyleSheet(f"color: {t.subtext};")
                continue
            folder = str(Path(path).parent)
            label.setText(f"<a href='recent' style='color:{t.selection}; text-decoration:none'>"
                          f"{_html(Path(path).name)}</a>&nbsp;&nbsp;<span style='color:{t.subtext}'>"
                          f"{_html(folder)}</span>")

    def set_theme(self, theme: themes.Theme) -> None:
        self.theme = theme
        palette = self.palette()
        palette.setColor(QPalette.ColorRole.Window, QColor(theme.background))
        palette.setColor(QPalette.ColorRole.WindowText, QColor(theme.text))
        self.setPalette(palette)
        self.scroll.viewport().setAutoFillBackground(False)
        self.scroll.widget().setAutoFillBackground(False)
        self.how_to.setStyleSheet(f"color: {theme.subtext};")
        for label in (self.heading, self.recent_heading, self.templates_heading):
            label.setStyleSheet(f"color: {theme.text};")
        for card in self.grid.cards:
            card.set_theme(theme)
        self._style_recent()

    # -- miniatures, one per event-loop turn -----------------------------------------------
    def showEvent(self, event) -> None:
        super().showEvent(event)
        self.raise_()
        if self._pending:
            self._sketch_timer.start()

    def _sketch_next(self) -> None:
        if not self._pending or not self.isVisible():
            return
        card = self._pending.pop(0)
        try:
            card.set_sketch(sketch(card.name))
        except ValueError:
            card.set_sketch(None)
        if self._pending:
            self._sketch_timer.start()

    def sketches_done(self) -> bool:
        return not self._pending

    # -- geometry and drops ----------------------------------------------------------------
    def eventFilter(self, watched, event) -> bool:
        if watched is self.view and event.type() == QEvent.Type.Resize:
            self.setGeometry(self.view.rect())
        return False

    def dragEnterEvent(self, event) -> None:
        if event.mimeData().hasFormat(BLOCK_MIME):
            event.acceptProposedAction()

    def dragMoveEvent(self, event) -> None:
        if event.mimeData().hasFormat(BLOCK_MIME):
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        if not event.mimeData().hasFormat(BLOCK_MIME):
            return
        block = bytes(event.mimeData().data(BLOCK_MIME)).decode()
        event.acceptProposedAction()
        where = self.view.viewport().mapFrom(self, event.position().toPoint())
        self.hide()
        self.block_dropped.emit(block, where)


class EmptyCanvasHint(QLabel):
    """Centred over an empty canvas once the start page is put away: how to begin, not an error."""

    def __init__(self, document, view, start_page: StartPage):
        super().__init__(EMPTY_HINT, view)
        self.document, self.view, self.start_page = document, view, start_page
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setWordWrap(True)
        self.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        view.installEventFilter(self)
        start_page.installEventFilter(self)
        document.report_changed.connect(lambda _r: self.refresh())
        document.design_replaced.connect(self.refresh)
        self.refresh()

    def set_theme(self, theme: themes.Theme) -> None:
        self.setStyleSheet(f"color: {theme.subtext}; font-size: 12pt; background: transparent;")

    def refresh(self) -> None:
        self.setVisible(is_empty(self.document.design) and self.start_page.isHidden())
        if not self.isHidden():
            width = min(520, self.view.width() - 40)
            self.setFixedWidth(max(width, 100))
            self.adjustSize()
            self.move((self.view.width() - self.width()) // 2, (self.view.height() - self.height()) // 2)
            self.raise_()

    def eventFilter(self, watched, event) -> bool:
        if event.type() in (QEvent.Type.Resize, QEvent.Type.Show, QEvent.Type.Hide):
            QTimer.singleShot(0, self, self.refresh)
        return False


def _html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
