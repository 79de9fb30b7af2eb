"""Gesture state objects of the canvas. Each lives from mouse press to release and ends by
calling the document (never the design directly)."""
from __future__ import annotations

from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QColor, QPainterPath, QPen
from PySide6.QtWidgets import QGraphicsPathItem

from engine.errors import DesignError

from .items import PortItem


class NewEdgeDrag:
    """Dragging from an output port: a rubber edge follows the mouse; every input port that
    ``design.check_connect`` refuses (occupied, incompatible, would make a cycle) is greyed out."""

    def __init__(self, scene, source: PortItem):
        self.scene, self.source = scene, source
        self.path_item = QGraphicsPathItem()
        pen = QPen(QColor(scene.theme.selection), 2, Qt.PenStyle.DashLine)
        self.path_item.setPen(pen)
        self.path_item.setZValue(5)
        scene.addItem(self.path_item)
        design, src = scene.document.design, source.node.node_id
        self.allowed: set[tuple[str, str]] = set()
        for item in scene.node_items.values():
            for port in item.inputs.values():
                try:
                    design.check_connect(src, item.node_id, "out", port.name)
                except DesignError:
                    port.set_state("disabled")
                else:
                    port.set_state("ok")
                    self.allowed.add((item.node_id, port.name))
        self.move(source.scenePos())

    def move(self, pos: QPointF) -> None:
        start = self.source.scenePos()
        path = QPainterPath(start)
        dy = max(30.0, abs(pos.y() - start.y()) / 2)
        path.cubicTo(QPointF(start.x(), start.y() + dy), QPointF(pos.x(), pos.y() - dy), pos)
        self.path_item.setPath(path)

    def finish(self, pos: QPointF) -> bool:
        """Connect if released on an input port; returns whether an edge was made."""
        target = self.scene.port_at(pos, outputs=False)
        self.cancel()
        if target is None:
            return False
        return self.scene.document.connect(self.source.node.node_id, target.node.node_id, "out", target.name)

    def cancel(self) -> None:
        for item in self.scene.node_items.values():
            for port in item.inputs.values():
                port.set_state("normal")
        self.scene.removeItem(self.path_item)
