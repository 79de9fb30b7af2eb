"""The canvas view: zoom (wheel, Ctrl+±, fit), pan (middle button or space + drag), rubber band,
and an overview of the whole design in its corner (``minimap``)."""
from __future__ import annotations

from PySide6.QtCore import QPoint, QPointF, QRectF, Qt
from PySide6.QtGui import QPainter, QPixmapCache, QTransform
from PySide6.QtWidgets import QGraphicsView

from .minimap import Minimap

MIN_ZOOM, MAX_ZOOM = 0.08, 3.0
# Every node and edge keeps its picture in Qt's pixmap cache (DeviceCoordinateCache). Qt's
# default 10 MB held a fraction of a big design's view (DenseNet's long concatenation edges cover
# the viewport many times over): each repaint drew every item in Python again (25 ms, vs 6 ms).
PIXMAP_CACHE_KB = 64 * 1024
READABLE_ZOOM = 0.5  # fitting a huge design never shrinks text below this
FIT_MARGIN = 40.0  # scene units around the design when it is fitted


class CanvasView(QGraphicsView):
    def __init__(self, scene, parent=None, minimap: bool = True):
        super().__init__(scene, parent)
        QPixmapCache.setCacheLimit(max(QPixmapCache.cacheLimit(), PIXMAP_CACHE_KB))
        self.setRenderHints(QPainter.RenderHint.Antialiasing | QPainter.RenderHint.TextAntialiasing)
        self.setDragMode(QGraphicsView.DragMode.RubberBandDrag)
        self.setRubberBandSelectionMode(Qt.ItemSelectionMode.IntersectsItemShape)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.SmartViewportUpdate)
        # The grid is drawn once per zoom and theme and blitted after that: filling the viewport
        # with the tiled grid was a third of the canvas's repaint after an edit.
        self.setCacheMode(QGraphicsView.CacheModeFlag.CacheBackground)
        self.setAcceptDrops(True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self._pan_from: QPoint | None = None
        self._space_down = False
        self.minimap: Minimap | None = None
        if minimap:
            self.attach_minimap()

    def attach_minimap(self) -> Minimap:
        """The overview in the viewport's bottom-right corner (shown while part of the design is
        out of view)."""
        if self.minimap is None:
            self.minimap = Minimap(self)
        return self.minimap

    @property
    def zoom(self) -> float:
        return self.transform().m11()

    def set_zoom(self, factor: float) -> None:
        factor = max(MIN_ZOOM, min(MAX_ZOOM, factor))
        self.scale(factor / self.zoom, factor / self.zoom)
        if self.minimap is not None:
            self.minimap.refresh()

    def zoom_in(self) -> None:
        self.set_zoom(self.zoom * 1.25)

    def zoom_out(self) -> None:
        self.set_zoom(self.zoom / 1.25)

    def fit_zoom(self, readable: bool = False) -> float:
        """The zoom :meth:`fit` chooses for the current design and viewport (nothing moves)."""
        return self._fit_plan(readable)[0]

    def fitted_scene_rect(self, readable: bool = True) -> QRectF | None:
        """The part of the scene :meth:`fit` would show (None for an empty scene): the scene
        draws a big design's nodes there first."""
        zoom, centre = self._fit_plan(readable)
        if centre is None:
            return None
        room = self.maximumViewportSize()
        width, height = max(room.width(), 1) / zoom, max(room.height(), 1) / zoom
        return QRectF(centre.x() - width / 2, centre.y() - height / 2, width, height)

    def _fit_plan(self, readable: bool) -> tuple[float, QPointF | None]:
        """(zoom, scene point to centre on); the point is None for an empty scene."""
        scene = self.scene()
        rect = scene.content_rect() if hasattr(scene, "content_rect") else scene.itemsBoundingRect()
        if rect.isNull():
            return 1.0, None
        rect = rect.adjusted(-FIT_MARGIN, -FIT_MARGIN, FIT_MARGIN, FIT_MARGIN)
        # The whole design needs no scroll bars: measure without the ones the last zoom showed.
        room = self.maximumViewportSize()
        width, height = max(room.width(), 1), max(room.height(), 1)
        whole = min(width / rect.width(), height / rect.height(), 1.0)
        if not readable or whole >= READABLE_ZOOM:
            return max(MIN_ZOOM, whole), rect.center()
        # Too big to read whole: as wide as fits (never below readable), from the top.
        zoom = max(READABLE_ZOOM, min(width / rect.width(), 1.0))
        visible_w, visible_h = width / zoom, height / zoom
        x = rect.center().x() if visible_w >= rect.width() else rect.left() + visible_w / 2
        return zoom, QPointF(x, rect.top() + visible_h / 2)

    def fit(self, readable: bool = False) -> None:
        """Show every node (at most at 100 %). With ``readable`` a design too big to read whole
        (below 50 %) is shown as wide as fits, from its top, at a zoom where the text can be read;
        the overview in the corner shows the rest."""
        zoom, centre = self._fit_plan(readable)
        # Scroll bars the last zoom needed would stay (Qt keeps both when either one's room
        # depends on the other): off while zooming, then shown again only where needed.
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setTransform(QTransform.fromScale(zoom, zoom))
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        self.centerOn(centre if centre is not None else QPointF(0, 0))
        if self.minimap is not None:
            self.minimap.rebuild()

    def center_on_node(self, item) -> None:
        self.ensureVisible(item.sceneBoundingRect(), 60, 60)

    # -- events ----------------------------------------------------------------------------
    def wheelEvent(self, event):
        if event.modifiers() & Qt.KeyboardModifier.ShiftModifier:
            return super().wheelEvent(event)  # horizontal scroll
        steps = event.angleDelta().y() / 120
        if steps:
            self.set_zoom(self.zoom * (1.15 ** steps))
        event.accept()

    def keyPressEvent(self, event):
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space_down = True
            self.viewport().setCursor(Qt.CursorShape.OpenHandCursor)
            event.accept()
            return
        super().keyPressEvent(event)

    def keyReleaseEvent(self, event):
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space_down = False
            self.viewport().unsetCursor()
            event.accept()
            return
        super().keyReleaseEvent(event)

    def mousePressEvent(self, event):
        if event.button() == Qt.MouseButton.MiddleButton or (
                event.button() == Qt.MouseButton.LeftButton and self._space_down):
            self._pan_from = event.position().toPoint()
            self.viewport().setCursor(Qt.CursorShape.ClosedHandCursor)
            event.accept()
            return
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event):
        if self._pan_from is not None:
            delta = event.position().toPoint() - self._pan_from
            self._pan_from = event.position().toPoint()
            self.horizontalScrollBar().setValue(self.horizontalScrollBar().value() - delta.x())
            self.verticalScrollBar().setValue(self.verticalScrollBar().value() - delta.y())
            event.accept()
            return
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event):
        if self._pan_from is not None:
            self._pan_from = None
            if self._space_down:
                self.viewport().setCursor(Qt.CursorShape.OpenHandCursor)
            else:
                self.viewport().unsetCursor()
            event.accept()
            return
        super().mouseReleaseEvent(event)

    def visible_scene_rect(self) -> QRectF:
        return self.mapToScene(self.viewport().rect()).boundingRect()

    def resizeEvent(self, event):
        super().resizeEvent(event)
        if self.minimap is not None:
            self.minimap.refresh()

    def scrollContentsBy(self, dx: int, dy: int) -> None:
        super().scrollContentsBy(dx, dy)
        if self.minimap is not None:
            self.minimap.refresh()
