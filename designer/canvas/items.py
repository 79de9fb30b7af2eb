"""Graphics items of the canvas: a node (block), its ports, and an edge with its shape label.

Items hold only what they display (texts set by the scene from the design and the engine's
report); they never change the design themselves: the scene turns gestures into document calls.
"""
from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QFont, QFontMetricsF, QPainter, QPainterPath, QPainterPathStroker, QPen
from PySide6.QtWidgets import QGraphicsItem, QGraphicsObject, QGraphicsPathItem

from ..theme import CATEGORY_COLORS, LIGHT
from .layout import NODE_HEIGHT, NODE_WIDTH

PORT_RADIUS = 6.0
BADGE_RADIUS = 9.0

TITLE_FONT = QFont()
TITLE_FONT.setPointSizeF(9.5)
TITLE_FONT.setBold(True)
BODY_FONT = QFont()
BODY_FONT.setPointSizeF(8.5)
LABEL_FONT = QFont()
LABEL_FONT.setPointSizeF(8.0)
_LABEL_METRICS = QFontMetricsF(LABEL_FONT)
_TITLE_METRICS = QFontMetricsF(TITLE_FONT)
_BODY_METRICS = QFontMetricsF(BODY_FONT)


def _theme(item: QGraphicsItem):
    scene = item.scene()
    return getattr(scene, "theme", LIGHT)


class PortItem(QGraphicsItem):
    """A connection point. ``state`` is "normal", "ok" (a valid drop target while dragging an
    edge) or "disabled" (incompatible or occupied while dragging)."""

    def __init__(self, node: "NodeItem", name: str, is_output: bool, x: float):
        super().__init__(node)
        self.node, self.name, self.is_output = node, name, is_output
        self.state = "normal"
        self.setPos(x, NODE_HEIGHT if is_output else 0.0)
        self.setAcceptHoverEvents(True)
        self.setCursor(Qt.CursorShape.CrossCursor)
        self.setZValue(2)
        direction = "output" if is_output else f"input '{name}'"
        self.setToolTip(f"{direction} — drag to an {'input' if is_output else 'output'} to connect")

    def boundingRect(self) -> QRectF:
        r = PORT_RADIUS + 3
        return QRectF(-r, -r, 2 * r, 2 * r)

    def shape(self) -> QPainterPath:
        path = QPainterPath()
        path.addEllipse(self.boundingRect())  # generous hit area
        return path

    def set_state(self, state: str) -> None:
        if state != self.state:
            self.state = state
            self.update()

    def scene_center(self) -> QPointF:
        return self.scenePos()

    def paint(self, painter: QPainter, option, widget=None):
        theme = _theme(self)
        color = {"ok": theme.port_ok, "disabled": theme.port_disabled}.get(self.state, theme.port)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(QPen(QColor(theme.node_fill), 2))
        painter.setBrush(QColor(color))
        r = PORT_RADIUS + (2 if self.state == "ok" else 0)
        painter.drawEllipse(QPointF(0, 0), r, r)


class NodeItem(QGraphicsObject):
    def __init__(self, node_id: str, category: str, input_ports: list[str], has_output: bool):
        super().__init__()
        self.node_id = node_id
        self.category = category
        self.title = ""
        self.detail = ""
        self.info = ""
        self.status = ""  # "", "warning" or "error"
        self.problem = False  # unknown shape: the info line is drawn as a problem
        self.composite = category == "Composite"
        self.opened_part = False  # an inner node of an opened composite
        self.setFlags(QGraphicsItem.GraphicsItemFlag.ItemIsMovable | QGraphicsItem.GraphicsItemFlag.ItemIsSelectable
                      | QGraphicsItem.GraphicsItemFlag.ItemSendsGeometryChanges)
        self.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
        self.setZValue(1)
        self.edges: list["EdgeItem"] = []
        n = len(input_ports)
        self.inputs = {name: PortItem(self, name, False, NODE_WIDTH * (i + 1) / (n + 1))
                       for i, name in enumerate(input_ports)}
        self.output = PortItem(self, "out", True, NODE_WIDTH / 2) if has_output else None

    def ports(self) -> list[PortItem]:
        return [*self.inputs.values(), *([self.output] if self.output else [])]

    def boundingRect(self) -> QRectF:
        return QRectF(-4, -BADGE_RADIUS - 2, NODE_WIDTH + BADGE_RADIUS + 6, NODE_HEIGHT + BADGE_RADIUS + 6)

    def shape(self) -> QPainterPath:
        path = QPainterPath()
        path.addRoundedRect(QRectF(0, 0, NODE_WIDTH, NODE_HEIGHT), 8, 8)
        return path

    def set_texts(self, title: str, detail: str) -> None:
        if (title, detail) != (self.title, self.detail):
            self.title, self.detail = title, detail
            self.update()

    def set_report(self, info: str, problem: bool, status: str, tooltip: str) -> None:
        if (info, problem, status) != (self.info, self.problem, self.status):
            self.info, self.problem, self.status = info, problem, status
            self.update()
        if tooltip != self.toolTip():
            self.setToolTip(tooltip)

    def itemChange(self, change, value):
        if change == QGraphicsItem.GraphicsItemChange.ItemPositionHasChanged:
            for edge in self.edges:
                edge.update_path()
        return super().itemChange(change, value)

    def paint(self, painter: QPainter, option, widget=None):
        theme = _theme(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        rect = QRectF(0, 0, NODE_WIDTH, NODE_HEIGHT)
        accent = QColor(CATEGORY_COLORS.get(self.category, "#888888"))
        border = QColor(theme.selection) if self.isSelected() else QColor(theme.node_border)
        if self.status == "error" and not self.isSelected():
            border = QColor(theme.error)
        pen = QPen(border, 2.2 if self.isSelected() or self.status == "error" else 1.2)
        if self.opened_part:
            pen.setStyle(Qt.PenStyle.DashLine)
        painter.setPen(pen)
        painter.setBrush(QColor(theme.node_fill))
        painter.drawRoundedRect(rect, 8, 8)
        # Category strip on the left edge.
        painter.save()
        painter.setClipPath(self.shape())
        painter.fillRect(QRectF(0, 0, 7, NODE_HEIGHT), accent)
        painter.restore()
        if self.composite:  # a double edge says "there is more inside: open it"
            painter.setPen(QPen(accent, 1.2))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRoundedRect(rect.adjusted(3, 3, -3, -3), 6, 6)
        x, width = 16.0, NODE_WIDTH - 26.0
        painter.setFont(TITLE_FONT)
        painter.setPen(QColor(theme.text))
        painter.drawText(QRectF(x, 8, width - 8, 18), Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                         _TITLE_METRICS.elidedText(self.title, Qt.TextElideMode.ElideRight, width - 8))
        painter.setFont(BODY_FONT)
        painter.setPen(QColor(theme.subtext))
        painter.drawText(QRectF(x, 29, width, 16), Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                         _BODY_METRICS.elidedText(self.detail, Qt.TextElideMode.ElideRight, width))
        painter.setPen(QColor(theme.bad_text if self.problem else theme.text))
        painter.drawText(QRectF(x, 49, width, 16), Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                         _BODY_METRICS.elidedText(self.info, Qt.TextElideMode.ElideRight, width))
        if self.status:
            self._paint_badge(painter, theme)

    def _paint_badge(self, painter: QPainter, theme) -> None:
        center = QPointF(NODE_WIDTH - 2, 0)
        color = QColor(theme.error if self.status == "error" else theme.warning)
        painter.setPen(QPen(QColor(theme.node_fill), 2))
        painter.setBrush(color)
        painter.drawEllipse(center, BADGE_RADIUS, BADGE_RADIUS)
        painter.setPen(QColor("#ffffff" if self.status == "error" else "#3a2a00"))
        font = QFont(TITLE_FONT)
        font.setPointSizeF(9)
        painter.setFont(font)
        painter.drawText(QRectF(center.x() - BADGE_RADIUS, center.y() - BADGE_RADIUS, 2 * BADGE_RADIUS,
                                2 * BADGE_RADIUS), Qt.AlignmentFlag.AlignCenter, "!")


class EdgeItem(QGraphicsPathItem):
    """An edge drawn as a vertical S-curve with the carried tensor shape as a label."""

    def __init__(self, edge, src: NodeItem, dst: NodeItem):
        super().__init__()
        self.edge, self.src, self.dst = edge, src, dst
        self.label = ""
        self.problem = False
        self._label_rect = QRectF()
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIsSelectable)
        self.setZValue(0)
        src.edges.append(self)
        dst.edges.append(self)
        self.update_path()

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
        start, end = self.endpoints()
        path = QPainterPath(start)
        dy = max(40.0, abs(end.y() - start.y()) / 2)
        path.cubicTo(QPointF(start.x(), start.y() + dy), QPointF(end.x(), end.y() - dy), end)
        self.prepareGeometryChange()
        self.setPath(path)
        self._place_label()

    def set_label(self, text: str, problem: bool) -> None:
        if (text, problem) != (self.label, self.problem):
            self.prepareGeometryChange()
            self.label, self.problem = text, problem
            self._place_label()
            self.update()

    def _place_label(self) -> None:
        if not self.label:
            self._label_rect = QRectF()
            return
        mid = self.path().pointAtPercent(0.5)
        w, h = _LABEL_METRICS.horizontalAdvance(self.label) + 10, _LABEL_METRICS.height() + 4
        self._label_rect = QRectF(mid.x() - w / 2, mid.y() - h / 2, w, h)

    def boundingRect(self) -> QRectF:
        return super().boundingRect().adjusted(-4, -4, 4, 4).united(self._label_rect)

    def shape(self) -> QPainterPath:
        stroker = QPainterPathStroker()
        stroker.setWidth(10)
        path = stroker.createStroke(self.path())
        if not self._label_rect.isNull():
            path.addRect(self._label_rect)
        return path

    def paint(self, painter: QPainter, option, widget=None):
        theme = _theme(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        color = QColor(theme.selection if self.isSelected() else (theme.error if self.problem else theme.edge))
        painter.setPen(QPen(color, 2.4 if self.isSelected() else 1.6))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawPath(self.path())
        if self.label:
            painter.setPen(QPen(color, 1))
            painter.setBrush(QBrush(QColor(theme.edge_label_bg)))
            painter.drawRoundedRect(self._label_rect, 4, 4)
            painter.setFont(LABEL_FONT)
            painter.setPen(QColor(theme.bad_text if self.problem else theme.edge_label_text))
            painter.drawText(self._label_rect, Qt.AlignmentFlag.AlignCenter, self.label)
