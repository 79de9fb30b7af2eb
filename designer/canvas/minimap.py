"""An overview of the whole design in a corner of the canvas: every node as a small block in
its category's colour, the edges as thin lines, and the part the view shows as a rectangle.
Clicking moves the view there; dragging the rectangle pans. It hides while the whole design is
in view.

The picture of the design is redrawn into a pixmap a moment after nodes or edges stop appearing,
going or moving (cheap: a rectangle per node); moving the view only repaints the rectangle over it.
"""
from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, QSize, Qt, QTimer
from PySide6.QtGui import QColor, QPainter, QPen, QPixmap
from PySide6.QtWidgets import QWidget

from ..theme import CATEGORY_COLORS, LIGHT

MAX_SIZE = QSize(220, 160)  # the overview's largest size, in pixels
MARGIN = 12  # from the viewport's corner
PADDING = 6  # inside the overview, around the design
REBUILD_MS = 120  # quiet time after the last scene change before the picture is redrawn


class Minimap(QWidget):
    def __init__(self, view):
        # A child of the view, not of its viewport: the viewport's children scroll with it.
        super().__init__(view)
        self.view = view
        self.bounds = QRectF()  # the scene rectangle the overview shows
        self._pixmap: QPixmap | None = None
        self._scale = 1.0
        self._origin = QPointF()
        self._grab: QPointF | None = None  # where in the view rectangle the drag holds it
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(REBUILD_MS)
        self._timer.timeout.connect(self.rebuild)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setToolTip("Overview of the whole design: click or drag to move the view")
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent, False)
        scene = view.scene()
        # The design scene says when its outline changes; any other scene, on every change
        # (a relabelled node would redraw the whole overview: 55 ms a DenseNet edit).
        (getattr(scene, "outline_changed", None) or scene.changed).connect(self._on_scene_changed)
        view.horizontalScrollBar().valueChanged.connect(self.refresh)
        view.verticalScrollBar().valueChanged.connect(self.refresh)
        self.hide()

    # -- state -------------------------------------------------------------------------------
    def _on_scene_changed(self, _regions=None) -> None:
        self._timer.start()

    def rebuild(self) -> None:
        """Redraw the picture of the design (and show or hide the overview)."""
        self._timer.stop()
        scene = self.view.scene()
        if scene is None:
            self.bounds = QRectF()
        else:  # the design scene keeps its rectangle; asking every item costs a call into Python each
            self.bounds = scene.content_rect() if hasattr(scene, "content_rect") else scene.itemsBoundingRect()
        self._pixmap = None
        self.refresh()

    def whole_design_visible(self) -> bool:
        if self.bounds.isEmpty():
            return True
        visible = self.view.visible_scene_rect().adjusted(-2, -2, 2, 2)
        return visible.contains(self.bounds)

    def refresh(self, *_args) -> None:
        """Follow the view: place, show or hide, and repaint the view rectangle."""
        if self.whole_design_visible():
            self.hide()
            return
        size = self._size_for(self.bounds)
        viewport = self.view.viewport().geometry()
        self.setGeometry(viewport.right() - size.width() - MARGIN, viewport.bottom() - size.height() - MARGIN,
                         size.width(), size.height())
        if not self.isVisible():
            self.show()
            self.raise_()
        self.update()

    @staticmethod
    def _size_for(bounds: QRectF) -> QSize:
        inner_w, inner_h = MAX_SIZE.width() - 2 * PADDING, MAX_SIZE.height() - 2 * PADDING
        scale = min(inner_w / max(bounds.width(), 1.0), inner_h / max(bounds.height(), 1.0))
        return QSize(max(60, int(bounds.width() * scale) + 2 * PADDING),
                     max(40, int(bounds.height() * scale) + 2 * PADDING))

    # -- coordinates -----------------------------------------------------------------------
    def _fit(self) -> None:
        w, h = self.width() - 2 * PADDING, self.height() - 2 * PADDING
        self._scale = min(w / max(self.bounds.width(), 1.0), h / max(self.bounds.height(), 1.0))
        extra_x = (w - self.bounds.width() * self._scale) / 2
        extra_y = (h - self.bounds.height() * self._scale) / 2
        self._origin = QPointF(PADDING + extra_x, PADDING + extra_y)

    def to_map(self, scene_point: QPointF) -> QPointF:
        return self._origin + (scene_point - self.bounds.topLeft()) * self._scale

    def to_scene(self, map_point: QPointF) -> QPointF:
        return self.bounds.topLeft() + (map_point - self._origin) / self._scale

    def view_rect(self) -> QRectF:
        """The part of the design the view shows, in the overview's pixels."""
        visible = self.view.visible_scene_rect()
        return QRectF(self.to_map(visible.topLeft()), self.to_map(visible.bottomRight()))

    # -- painting --------------------------------------------------------------------------
    def _theme(self):
        return getattr(self.view.scene(), "theme", LIGHT)

    def _render(self, theme) -> QPixmap:
        pixmap = QPixmap(self.size() * self.devicePixelRatioF())
        pixmap.setDevicePixelRatio(self.devicePixelRatioF())
        pixmap.fill(Qt.GlobalColor.transparent)
        painter = QPainter(pixmap)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        scene = self.view.scene()
        edge_pen = QPen(QColor(theme.edge), 1.0)
        edge_pen.setCosmetic(True)  # one pixel wide whatever the scale
        painter.save()
        painter.translate(self._origin)
        painter.scale(self._scale, self._scale)
        painter.translate(-self.bounds.topLeft())
        painter.setPen(edge_pen)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        for item in getattr(scene, "edge_items", {}).values():
            painter.drawPath(item.path())  # edges sit at the scene's origin: their path is in scene units
        # Nodes in scene units too, one drawRects per colour: a call into Qt per category, not
        # two mappings and a brush per node (0.2 s at 2,000 nodes).
        painter.setPen(Qt.PenStyle.NoPen)
        by_category: dict[str, list[QRectF]] = {}
        for item in getattr(scene, "node_items", {}).values():
            by_category.setdefault(getattr(item, "category", ""), []).append(
                item.body_rect().translated(item.pos()) if hasattr(item, "body_rect") else item.sceneBoundingRect())
        for category, rects in by_category.items():
            painter.setBrush(QColor(CATEGORY_COLORS.get(category, "#888888")))
            painter.drawRects(rects)
        painter.restore()
        painter.end()
        return pixmap

    def paintEvent(self, _event) -> None:
        theme = self._theme()
        self._fit()
        if self._pixmap is None or self._pixmap.deviceIndependentSize().toSize() != self.size():
            self._pixmap = self._render(theme)
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        background = QColor(theme.node_fill)
        background.setAlpha(235)
        painter.setPen(QPen(QColor(theme.node_border), 1))
        painter.setBrush(background)
        painter.drawRoundedRect(QRectF(self.rect()).adjusted(0.5, 0.5, -0.5, -0.5), 6, 6)
        painter.drawPixmap(0, 0, self._pixmap)
        frame = self.view_rect().intersected(QRectF(self.rect()).adjusted(1, 1, -1, -1))
        fill = QColor(theme.selection)
        fill.setAlpha(40)
        painter.setBrush(fill)
        painter.setPen(QPen(QColor(theme.selection), 1.5))
        painter.drawRect(frame)
        painter.end()

    # -- moving the view ---------------------------------------------------------------------
    def mousePressEvent(self, event) -> None:
        if event.button() != Qt.MouseButton.LeftButton:
            return super().mousePressEvent(event)
        self._fit()
        pos = event.position()
        frame = self.view_rect()
        # Held inside the rectangle it moves with the mouse; elsewhere the view jumps there.
        self._grab = pos - frame.center() if frame.contains(pos) else QPointF()
        self._move_to(pos)
        event.accept()

    def mouseMoveEvent(self, event) -> None:
        if self._grab is not None:
            self._move_to(event.position())
            event.accept()

    def mouseReleaseEvent(self, event) -> None:
        if self._grab is not None:
            self._grab = None
            event.accept()

    def wheelEvent(self, event) -> None:
        event.accept()  # not a zoom of the canvas underneath

    def _move_to(self, pos: QPointF) -> None:
        self.view.centerOn(self.to_scene(pos - self._grab))
        self.update()
