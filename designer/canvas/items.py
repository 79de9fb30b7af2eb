"""Graphics items of the canvas: a node (block), its ports, and an edge with its shape label.

Items hold only what they display (texts set by the scene from the design and the engine's
report); they never change the design themselves: the scene turns gestures into document calls.

Every item is a QGraphicsRectItem whose rectangle is its bounds, drawn by its own ``paint``:
Qt reads the bounds natively (the scene's index, each repaint, an undo putting 1,400 items back)
instead of calling a Python ``boundingRect`` per item, port and edge each time.

A node lays its text out once, when its text changes (width, elided rows as plain
``QStaticText``), and its picture is cached in device coordinates, so a repaint after an edit
redraws only the nodes whose words changed.
"""
from __future__ import annotations

from functools import lru_cache

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import (
    QColor,
    QCursor,
    QFont,
    QFontMetricsF,
    QPainter,
    QPainterPath,
    QPainterPathStroker,
    QPen,
    QStaticText,
)
from PySide6.QtWidgets import QGraphicsItem, QGraphicsRectItem, QStyleOptionGraphicsItem

from engine.layout.node_style import COMPACT, FULL, min_width, node_size

from ..theme import CATEGORY_COLORS, LIGHT
from .layout import edge_path_and_middle

__all__ = ["NodeItem", "EdgeItem", "PortItem", "node_size", "FULL", "COMPACT"]

PORT_RADIUS = 6.0
BADGE_RADIUS = 9.0
STRIP = 6.0  # the category colour on the node's left edge
PAD_LEFT, PAD_RIGHT = 14.0, 10.0
ERROR_ROW = 15.0  # a broken full node is this much taller: its error takes two rows
OVERVIEW_LOD = 0.5  # zoomed out below this, a full node shows its name alone, large

# Fonts by role: (point size or -pixel size, bold). Built on first use (a QGuiApplication must exist).
_FONT_SPECS = {"name": (11.0, True), "body": (8.5, False), "compact_name": (10.0, True), "label": (8.0, False),
               "badge": (9.0, True), "overview": (-24, True), "overview_far": (-34, True)}


@lru_cache(maxsize=None)
def font(role: str) -> QFont:
    size, bold = _FONT_SPECS[role]
    f = QFont()
    if size < 0:
        f.setPixelSize(int(-size))
    else:
        f.setPointSizeF(size)
    f.setBold(bold)
    return f


@lru_cache(maxsize=None)
def metrics(role: str) -> QFontMetricsF:
    return QFontMetricsF(font(role))


_PLAIN = Qt.TextFormat.PlainText
_AGGRESSIVE = QStaticText.PerformanceHint.AggressiveCaching
_ELIDE = Qt.TextElideMode.ElideRight
_ANTIALIAS = QPainter.RenderHint.Antialiasing
_CACHE = QGraphicsItem.CacheMode.DeviceCoordinateCache  # redraw a node only when its picture changes
_NO_CONTENTS = QGraphicsItem.GraphicsItemFlag.ItemHasNoContents
_NO_PEN = QPen(Qt.PenStyle.NoPen)  # the rectangle item's bounds are its rectangle, exactly
# No itemChange override and no ItemSendsGeometryChanges: Qt called a Python itemChange ten times
# per node made (flags, z, ports, scene, position) and twice per node selected, added or removed;
# whoever moves a node calls NodeItem.moved() (the scene: a document move, a drag).
_NODE_FLAGS = QGraphicsItem.GraphicsItemFlag.ItemIsMovable | QGraphicsItem.GraphicsItemFlag.ItemIsSelectable


@lru_cache(maxsize=1)
def _port_cursor() -> QCursor:
    return QCursor(Qt.CursorShape.CrossCursor)  # one cursor for every port (made once an app exists)


@lru_cache(maxsize=8192)
def advance(role: str, text: str) -> float:
    """The width of ``text`` in ``role``'s font. Cached: a big design repeats its texts (every
    "ReLU", every "conv 3×3, 64"), and measuring was a third of drawing a node."""
    return metrics(role).horizontalAdvance(text)


@lru_cache(maxsize=8192)
def _elided(role: str, text: str, width: float) -> str:
    return metrics(role).elidedText(text, _ELIDE, width)


@lru_cache(maxsize=8192)
def _static(text: str) -> QStaticText:
    """A prepared plain text, shared by every item showing the same words (drawn, never changed)."""
    st = QStaticText(text)
    st.setTextFormat(_PLAIN)  # a name like "a<b>c" is a name, not markup
    st.setPerformanceHint(_AGGRESSIVE)
    return st


def _wrap(text: str, role: str, width: float) -> tuple[str, str]:
    """Split ``text`` after the last word that fits in ``width``: (first line, the rest)."""
    m = metrics(role)
    if m.horizontalAdvance(text) <= width:
        return text, ""
    words = text.split(" ")
    line, used = words[0], 1
    while used < len(words) and m.horizontalAdvance(f"{line} {words[used]}") <= width:
        line, used = f"{line} {words[used]}", used + 1
    if m.horizontalAdvance(line) > width:  # one word longer than the line: cut inside it
        cut = len(line)
        while cut > 1 and m.horizontalAdvance(line[:cut]) > width:
            cut -= 1
        return text[:cut], text[cut:]
    return line, " ".join(words[used:])


@lru_cache(maxsize=None)
def _category_color(category: str) -> QColor:
    return QColor(CATEGORY_COLORS.get(category, "#888888"))


def _theme(item: QGraphicsItem):
    scene = item.scene()
    return getattr(scene, "theme", LIGHT)


class PortItem(QGraphicsRectItem):
    """A connection point. ``state`` is "normal", "ok" (a valid drop target while dragging an
    edge) or "disabled" (incompatible or occupied while dragging)."""

    def __init__(self, node: "NodeItem", name: str, is_output: bool):
        super().__init__(self._RECT, node)  # placed by the node (NodeItem._place_ports)
        self.setPen(_NO_PEN)
        self.node, self.name, self.is_output = node, name, is_output
        self.state = "normal"
        # A normal port is part of its node's cached picture; the item paints only when a drag
        # makes it a target (or not), which keeps a repaint from drawing every port again.
        self.setFlag(_NO_CONTENTS, True)
        self.setCursor(_port_cursor())
        self.setZValue(2)

    def tooltip(self) -> str:
        """Composed when asked (DesignScene.helpEvent): one less string per port to build."""
        direction = "output" if self.is_output else f"input '{self.name}'"
        return f"{direction} — drag to an {'input' if self.is_output else 'output'} to connect"

    _RECT = QRectF(-PORT_RADIUS - 3, -PORT_RADIUS - 3, 2 * PORT_RADIUS + 6, 2 * PORT_RADIUS + 6)

    def shape(self) -> QPainterPath:
        path = QPainterPath()
        path.addEllipse(self._RECT)  # generous hit area
        return path

    def set_state(self, state: str) -> None:
        if state != self.state:
            self.state = state
            self.setFlag(_NO_CONTENTS, state == "normal")
            self.update()

    def paint(self, painter: QPainter, option, widget=None):
        paint_port(painter, _theme(self), QPointF(0, 0), self.state)


def paint_port(painter: QPainter, theme, center: QPointF, state: str = "normal") -> None:
    colors = _pens(theme)
    painter.setRenderHint(_ANTIALIAS)
    painter.setPen(QPen(colors["node_fill"], 2))
    painter.setBrush(colors[{"ok": "port_ok", "disabled": "port_disabled"}.get(state, "port")])
    r = PORT_RADIUS + (2 if state == "ok" else 0)
    painter.drawEllipse(center, r, r)


class _Row:
    """One line of a node: where it goes, its font, its full and shown (elided) text, laid out
    once (a row whose text and width stay the same is kept, with its prepared static text)."""

    __slots__ = ("key", "role", "full", "shown", "static", "pos")

    def __init__(self, role: str, y: float, height: float, full: str, width: float, x: float):
        self.key = (role, y, height, full, width, x)
        self.role, self.full = role, full
        self.shown = _elided(role, full, width)
        self.static = _static(self.shown)
        self.pos = QPointF(x, y + (height - metrics(role).height()) / 2)


@lru_cache(maxsize=8)
def _pens(theme):
    """The theme's colours as QColor objects, made once per theme rather than per paint."""
    return {name: QColor(getattr(theme, name)) for name in theme.__dataclass_fields__ if name != "name"}


# A node's outline and colour strip depend only on its body's place and size, which most nodes
# share: made once per size, not per node painted (the strip's intersection was a tenth of it).
@lru_cache(maxsize=1024)
def _outline_for(left: float, width: float, height: float) -> QPainterPath:
    path = QPainterPath()
    path.addRoundedRect(QRectF(left, 0, width, height), 8, 8)
    return path


@lru_cache(maxsize=1024)
def _strip_for(left: float, width: float, height: float) -> QPainterPath:
    strip = QPainterPath()
    strip.addRect(QRectF(left, 0, STRIP, height))
    return _outline_for(left, width, height).intersected(strip)


class NodeItem(QGraphicsRectItem):
    """A block on the canvas. Full style, top to bottom: the layer's name (largest), its type and
    key parameters, its output shape and parameter count — or, when it is broken, the first line
    of its error. Compact style: the name and the output shape (or the error)."""

    def __init__(self, node_id: str, category: str, input_ports: list[str], has_output: bool, style: str = FULL,
                 **content):
        super().__init__()
        self.setPen(_NO_PEN)
        self.node_id = node_id
        self.category = category
        self.style = style
        self.box_width, self.height = node_size(style)
        self.width = min_width(style)
        self.title = ""  # the layer's name
        self.detail = ""  # block type and key parameters
        self.info = ""  # "→ shape · count params"
        self.shape_text = ""  # the compact style's shape
        self.error = ""  # first line of the first error, "" when none
        self.status = ""  # "", "warning" or "error"
        self.problem = False  # unknown shape: the info line is drawn as a problem
        self.composite = category == "Composite"
        self.opened_part = False  # an inner node of an opened composite
        self.rows: list[_Row] = []
        self._overview: dict[str, QStaticText] = {}
        self.edges: list["EdgeItem"] = []
        self.geometry_serial = 0  # counts moves and resizes: an edge put back knows if its ends moved
        for name, value in content.items():  # texts given now are laid out once, below
            setattr(self, name, value)
        self.setFlags(_NODE_FLAGS)
        self.setCacheMode(_CACHE)
        self.setZValue(1)
        # The ports first, so the text's layout places them (once) with the node's final width.
        self.inputs: dict[str, PortItem] = {name: PortItem(self, name, False) for name in input_ports}
        self.output: PortItem | None = PortItem(self, "out", True) if has_output else None
        self._layout_text(force_geometry=True)

    def ports(self) -> list[PortItem]:
        return [*self.inputs.values(), *([self.output] if self.output else [])]

    # -- geometry ------------------------------------------------------------------------------
    def body_rect(self) -> QRectF:
        """The drawn node, centred in its box."""
        return QRectF((self.box_width - self.width) / 2, 0, self.width, self.height)

    def _update_bounds(self) -> None:
        body = self.body_rect()
        self.setRect(body.adjusted(-4, -BADGE_RADIUS - 2, BADGE_RADIUS + 2, PORT_RADIUS + 4))  # boundingRect()
        self._outline = self._strip = None  # made when first painted (most nodes of a big design never are)

    def _outline_path(self) -> QPainterPath:
        if self._outline is None:
            self._outline = _outline_for(self.body_rect().left(), self.width, self.height)
        return self._outline

    def _strip_path(self) -> QPainterPath:
        if self._strip is None:
            self._strip = _strip_for(self.body_rect().left(), self.width, self.height)
        return self._strip

    def shape(self) -> QPainterPath:
        return self._outline_path()

    def _place_ports(self) -> None:
        self.geometry_serial += 1
        self._update_bounds()
        body, n = self.body_rect(), len(self.inputs)
        for i, port in enumerate(self.inputs.values()):
            port.setPos(body.left() + body.width() * (i + 1) / (n + 1), 0.0)
        if self.output is not None:
            self.output.setPos(self.box_width / 2, self.height)
        for edge in self.edges:
            edge.update_path()

    # -- text ------------------------------------------------------------------------------------
    def set_content(self, **content) -> None:
        """Set any of title, detail, info, problem, status, error, shape_text, opened_part; the
        text is laid out again (once) if one of them changed."""
        changed = False
        for name, value in content.items():
            if getattr(self, name) != value:
                setattr(self, name, value)
                changed = True
        if changed or not self.rows:
            self._layout_text()

    def set_texts(self, title: str, detail: str) -> None:
        self.set_content(title=title, detail=detail)

    def set_report(self, info: str, problem: bool, status: str, error: str = "", shape_text: str = "") -> None:
        self.set_content(info=info, problem=problem, status=status, error=error, shape_text=shape_text)

    def set_style(self, style: str) -> None:
        if style == self.style:
            return
        self.style = style
        self.box_width, self.height = node_size(style)
        self._layout_text(force_geometry=True)

    def _row_texts(self, text_width: float) -> list[tuple[str, float, float, str]]:
        """(font role, y, height, full text) of each row of the current style. A broken full
        node writes its error on two rows (it grows by ERROR_ROW into the gap below it)."""
        if self.style == COMPACT:
            return [("compact_name", 5.0, 18.0, self.title), ("body", 24.0, 15.0, self.error or self.shape_text)]
        rows = [("name", 7.0, 21.0, self.title), ("body", 29.0, 15.0, self.detail)]
        if not self.error:
            return rows + [("body", 46.0, 15.0, self.info)]
        first, rest = _wrap(self.error, "body", text_width)
        return rows + [("body", 46.0, 15.0, first)] + ([("body", 46.0 + ERROR_ROW, 15.0, rest)] if rest else [])

    def _layout_text(self, force_geometry: bool = False) -> None:
        """Measure once per change: the width the text needs (within the style's bounds) and
        each row elided to it. Painting then only draws these."""
        last = self.error or (self.info if self.style == FULL else self.shape_text)
        need = max(advance("compact_name" if self.style == COMPACT else "name", self.title),
                   advance("body", last), advance("body", self.detail) if self.style == FULL else 0.0)
        width = max(min_width(self.style), min(self.box_width, float(int(need + PAD_LEFT + PAD_RIGHT + 0.999))))
        rows = self._row_texts(width - PAD_LEFT - PAD_RIGHT)
        height = node_size(self.style)[1] + (ERROR_ROW if len(rows) > 3 else 0.0)
        if width != self.width or height != self.height or force_geometry:
            scene = self.scene()
            if hasattr(scene, "geometry_changed"):
                scene.geometry_changed()
            self.prepareGeometryChange()
            self.width, self.height = width, height
            self._place_ports()
        text_width, x = self.width - PAD_LEFT - PAD_RIGHT, self.body_rect().left() + PAD_LEFT
        kept = {row.key: row for row in self.rows}
        self.rows = [kept.get((role, y, h, text, text_width, x)) or _Row(role, y, h, text, text_width, x)
                     for role, y, h, text in rows]
        self._overview = {}
        self.update()

    def shown_texts(self) -> list[str]:
        """The rows as drawn (elided with "…" when too long)."""
        return [row.shown for row in self.rows]

    def full_texts(self) -> list[str]:
        return [row.full for row in self.rows]

    def moved(self) -> None:
        """The node was moved (setPos): its edges follow and the scene's outline is measured again."""
        self.geometry_serial += 1
        scene = self.scene()
        if hasattr(scene, "geometry_changed"):
            scene.geometry_changed()
        deferred = getattr(scene, "deferred_edges", None)
        if deferred is not None:  # many nodes move at once: each edge is routed once, at the end
            deferred.update(self.edges)
        else:
            for edge in self.edges:
                edge.update_path()

    # -- painting --------------------------------------------------------------------------------
    def paint(self, painter: QPainter, option, widget=None):
        theme = _theme(self)
        colors = _pens(theme)
        painter.setRenderHint(_ANTIALIAS)
        rect = self.body_rect()
        accent = _category_color(self.category)
        selected = self.isSelected()
        border = colors["selection"] if selected else colors["error" if self.status == "error" else "node_border"]
        pen = QPen(border, 2.2 if selected or self.status == "error" else 1.2)
        if self.opened_part:
            pen.setStyle(Qt.PenStyle.DashLine)
        painter.setPen(pen)
        painter.setBrush(colors["node_fill"])
        painter.drawPath(self._outline_path())
        painter.fillPath(self._strip_path(), accent)
        if self.composite:  # a double edge says "there is more inside: open it"
            painter.setPen(QPen(accent, 1.2))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRoundedRect(rect.adjusted(3, 3, -3, -3), 6, 6)
        lod = QStyleOptionGraphicsItem.levelOfDetailFromTransform(painter.worldTransform())
        if self.style == FULL and lod < OVERVIEW_LOD:
            self._paint_overview(painter, theme, rect, "overview_far" if lod < 0.3 else "overview")
        else:
            self._paint_rows(painter, colors)
        if self.status:
            self._paint_badge(painter, theme, rect)
        for port in self.ports():
            if port.state == "normal":
                paint_port(painter, theme, port.pos())

    def _row_color(self, index: int, colors) -> QColor:
        if index == 0:
            return colors["text"]
        if self.error and (index >= 2 or self.style == COMPACT):
            return colors["bad_text"]
        if index == len(self.rows) - 1:
            return colors["subtext" if self.problem else "text"]
        return colors["subtext"]

    def _paint_rows(self, painter: QPainter, colors) -> None:
        for i, row in enumerate(self.rows):
            painter.setFont(font(row.role))
            painter.setPen(self._row_color(i, colors))
            painter.drawStaticText(row.pos, row.static)

    def _paint_overview(self, painter: QPainter, theme, rect: QRectF, role: str) -> None:
        """Zoomed far out the small rows are a grey smudge: the name alone, big enough to read."""
        static = self._overview.get(role)
        if static is None:
            shown = metrics(role).elidedText(self.title, _ELIDE,
                                             rect.width() - PAD_LEFT - PAD_RIGHT)
            static = self._overview[role] = _static(shown)
        m = metrics(role)
        painter.setFont(font(role))
        painter.setPen(QColor(theme.bad_text if self.error else theme.text))
        painter.drawStaticText(QPointF(rect.left() + PAD_LEFT, (self.height - m.height()) / 2), static)

    def _paint_badge(self, painter: QPainter, theme, rect: QRectF) -> None:
        center = QPointF(rect.right() - 2, 0)
        color = QColor(theme.error if self.status == "error" else theme.warning)
        painter.setPen(QPen(QColor(theme.node_fill), 2))
        painter.setBrush(color)
        painter.drawEllipse(center, BADGE_RADIUS, BADGE_RADIUS)
        painter.setPen(QColor("#ffffff" if self.status == "error" else "#3a2a00"))
        painter.setFont(font("badge"))
        painter.drawText(QRectF(center.x() - BADGE_RADIUS, center.y() - BADGE_RADIUS, 2 * BADGE_RADIUS,
                                2 * BADGE_RADIUS), Qt.AlignmentFlag.AlignCenter, "!")


class EdgeItem(QGraphicsRectItem):
    """An edge drawn as a vertical S-curve with the carried tensor shape as a label. A broken
    edge (its shape does not fit the block it enters) is red; an edge whose shape is unknown
    (an error upstream) is dashed with a "?"."""

    def __init__(self, edge, src: NodeItem, dst: NodeItem, label: str = "", problem: bool = False,
                 broken: bool = False):
        super().__init__()
        self.setPen(_NO_PEN)
        self.edge, self.src, self.dst = edge, src, dst
        self._path = QPainterPath()
        # A label given now is placed with the first route (set_label after would place it again).
        self.label = label
        self.problem = problem  # the shape is unknown
        self.broken = broken  # the shape does not fit the target
        self._label_rect = QRectF()
        self._label_static = _static(label)
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIsSelectable)
        self.setCacheMode(_CACHE)
        self.setZValue(0)
        self._ends: tuple | None = None  # the ports' scene positions the path was made for
        self._routed_for: tuple | None = None  # the two nodes' geometry_serial then
        self._middle = QPointF()  # halfway along the path: the label's centre
        self._shape: QPainterPath | None = None  # the hit area, made when first asked for
        self.attach()

    def attach(self) -> None:
        """Join the two node items (again, when undo puts a deleted edge back)."""
        self.src.edges.append(self)
        self.dst.edges.append(self)
        if self._routed_for != (self.src.geometry_serial, self.dst.geometry_serial):
            self.update_path()  # an end moved or resized since (undo puts most edges back unmoved)

    def detach(self) -> None:
        for node in (self.src, self.dst):
            if self in node.edges:
                node.edges.remove(self)

    def endpoints(self) -> tuple[QPointF, QPointF]:
        start = self.src.output.scenePos() if self.src.output else self.src.scenePos()
        port = self.dst.inputs.get(self.edge.dst_port)
        end = port.scenePos() if port else self.dst.scenePos()
        return start, end

    def update_path(self) -> None:
        self._routed_for = (self.src.geometry_serial, self.dst.geometry_serial)
        start, end = self.endpoints()
        ends = (start.x(), start.y(), end.x(), end.y())
        if ends == self._ends:
            return  # neither end moved (both ends of a deferred edge, an edge put back by undo)
        self._ends = ends
        self._shape = None
        self.prepareGeometryChange()
        # The layout's route: an S-curve down, a lane up (in scene units: the item sits at the origin).
        self._path, self._middle = edge_path_and_middle(start, end)
        self._place_label()

    def set_label(self, text: str, problem: bool, broken: bool = False) -> None:
        if (text, problem, broken) != (self.label, self.problem, self.broken):
            self.prepareGeometryChange()
            if text != self.label:
                self._label_static = _static(text)
            self.label, self.problem, self.broken = text, problem, broken
            self._shape = None
            self._place_label()
            self.update()

    def _place_label(self) -> None:
        if not self.label:
            self._label_rect = QRectF()
        else:
            mid = self._middle
            w, h = advance("label", self.label) + 10, metrics("label").height() + 4
            self._label_rect = QRectF(mid.x() - w / 2, mid.y() - h / 2, w, h)
        # The curve's control points bound it (a QGraphicsPathItem's boundingRect strokes the
        # path through shape(), our hit area: a stroke per edge drawn, twice).
        self.setRect(self._path.controlPointRect().adjusted(-4, -4, 4, 4).united(self._label_rect))

    def path(self) -> QPainterPath:
        return self._path

    def shape(self) -> QPainterPath:
        if self._shape is None:
            stroker = QPainterPathStroker()
            stroker.setWidth(10)
            self._shape = stroker.createStroke(self._path)
            if not self._label_rect.isNull():
                self._shape.addRect(self._label_rect)
        return self._shape

    def paint(self, painter: QPainter, option, widget=None):
        colors = _pens(_theme(self))
        painter.setRenderHint(_ANTIALIAS)
        if self.isSelected():
            color, width = colors["selection"], 2.4
        elif self.broken:
            color, width = colors["error"], 2.6
        else:
            color, width = colors["edge"], 1.6
        pen = QPen(color, width)
        if self.problem and not self.broken:
            pen.setStyle(Qt.PenStyle.DashLine)
        painter.setPen(pen)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawPath(self._path)
        # Zoomed far out a shape label is an unreadable smudge over the names: left out.
        if self.label and QStyleOptionGraphicsItem.levelOfDetailFromTransform(painter.worldTransform()) >= OVERVIEW_LOD:
            painter.setPen(QPen(color, 1.4 if self.broken else 1))
            painter.setBrush(colors["edge_label_bg"])
            painter.drawRoundedRect(self._label_rect, 4, 4)
            painter.setFont(font("label"))
            painter.setPen(colors["bad_text" if self.broken else ("subtext" if self.problem else "edge_label_text")])
            painter.drawStaticText(QPointF(self._label_rect.left() + 5, self._label_rect.top() + 2),
                                   self._label_static)
