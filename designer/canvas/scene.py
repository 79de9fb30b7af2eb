"""The canvas scene: mirrors the design through its change events and shows the engine's
report on nodes and edges. Gestures (connect, move, drop from the palette) go to the document.
"""
from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QPainter, QPen, QPixmap
from PySide6.QtWidgets import QGraphicsScene, QToolTip

from engine.graph import DesignEvent

from .. import theme as themes
from . import labels
from .interactions import NewEdgeDrag
from .items import EdgeItem, NodeItem, PortItem
from .layout import NODE_HEIGHT, NODE_WIDTH

BLOCK_MIME = "application/x-network-designer-block"
GRID = 24


class DesignScene(QGraphicsScene):
    node_activated = Signal(str)  # double-click on a node

    def __init__(self, document, theme: themes.Theme = themes.LIGHT, parent=None):
        super().__init__(parent)
        self.document = document
        self.theme = theme
        self.node_items: dict[str, NodeItem] = {}
        self.edge_items: dict = {}
        self.interaction: NewEdgeDrag | None = None
        self._press_positions: dict[str, tuple] = {}
        self._syncing_selection = False
        self.setItemIndexMethod(QGraphicsScene.ItemIndexMethod.NoIndex)
        self._unsubscribe = document.design.subscribe(self._on_design_event)
        document.report_changed.connect(self.apply_report)
        document.selection_changed.connect(self._on_document_selection)
        self.selectionChanged.connect(self._on_scene_selection)
        self.rebuild()

    def detach(self) -> None:
        """Stop following the document (the window is closing)."""
        self._unsubscribe()
        self.document.report_changed.disconnect(self.apply_report)
        self.document.selection_changed.disconnect(self._on_document_selection)

    # -- mirroring the design --------------------------------------------------------------
    def rebuild(self) -> None:
        self._syncing_selection = True
        self.clear()
        self.node_items.clear()
        self.edge_items.clear()
        self._syncing_selection = False
        design = self.document.design
        for node_id in design.nodes:
            self._add_node(node_id)
        for edge in design.edges:
            self._add_edge(edge)
        self.apply_report(self.document.report)
        self._on_document_selection(self.document.selection)

    def _on_design_event(self, event: DesignEvent) -> None:
        kind = event.kind
        if kind == "node_added":
            self._add_node(event.node_id)
        elif kind == "node_removed":
            item = self.node_items.pop(event.node_id, None)
            if item is not None:
                for edge_item in list(item.edges):
                    self._remove_edge(edge_item.edge)
                self.removeItem(item)
        elif kind == "edge_added":
            self._add_edge(event.edge)
        elif kind == "edge_removed":
            self._remove_edge(event.edge)
        elif kind in ("params_changed", "node_changed"):
            self._update_texts(event.node_id)
        elif kind == "node_moved":
            item = self.node_items.get(event.node_id)
            pos = QPointF(*self.document.design.nodes[event.node_id].pos)
            if item is not None and item.pos() != pos:
                item.setPos(pos)
        elif kind == "reset":
            self.rebuild()

    def _add_node(self, node_id: str) -> None:
        node = self.document.design.nodes[node_id]
        spec = self.document.design.spec(node.block)
        item = NodeItem(node_id, spec.category, [p.name for p in spec.inputs], bool(spec.outputs))
        item.setPos(*node.pos)
        self.addItem(item)
        self.node_items[node_id] = item
        self._update_texts(node_id)

    def _update_texts(self, node_id: str) -> None:
        node = self.document.design.nodes[node_id]
        spec = self.document.design.spec(node.block)
        title = node.label or spec.title
        if node.frozen:
            title += " ❄"
        self.node_items[node_id].set_texts(title, labels.key_params(spec, node.params))

    def _add_edge(self, edge) -> None:
        item = EdgeItem(edge, self.node_items[edge.src], self.node_items[edge.dst])
        self.addItem(item)
        self.edge_items[edge] = item

    def _remove_edge(self, edge) -> None:
        item = self.edge_items.pop(edge, None)
        if item is not None:
            item.detach()
            self.removeItem(item)

    def apply_report(self, report) -> None:
        opened = {i for state in self.document.open_composites.values() for i in state.inner_ids}
        for node_id, item in self.node_items.items():
            node_report = report.nodes.get(node_id)
            info, problem = labels.info_line(node_report)
            status = ""
            if node_report is not None and node_report.diagnostics:
                status = "error" if node_report.has_error else "warning"
            item.opened_part = node_id in opened
            item.set_report(info, problem, status, "")
        for edge, item in self.edge_items.items():
            shape = report.edge_shape(edge)
            item.set_label(labels.edge_label(shape), shape is None)

    def tooltip_for(self, node_id: str) -> str:
        design = self.document.design
        node = design.nodes[node_id]
        return labels.tooltip(node, design.spec(node.block), self.document.report.nodes.get(node_id))

    def set_theme(self, theme: themes.Theme) -> None:
        self.theme = theme
        for item in self.items():
            item.update()
        self.update()

    # -- selection -------------------------------------------------------------------------
    def _on_scene_selection(self) -> None:
        if self._syncing_selection:
            return
        ids = [i.node_id for i in self.selectedItems() if isinstance(i, NodeItem)]
        order = {n: k for k, n in enumerate(self.document.design.nodes)}
        self.document.set_selection(sorted(ids, key=order.get))

    def _on_document_selection(self, ids) -> None:
        wanted = set(ids)
        current = {i.node_id for i in self.selectedItems() if isinstance(i, NodeItem)}
        if wanted == current:
            return
        self._syncing_selection = True
        try:
            for node_id, item in self.node_items.items():
                item.setSelected(node_id in wanted)
        finally:
            self._syncing_selection = False

    def selected_edges(self) -> list:
        return [i.edge for i in self.selectedItems() if isinstance(i, EdgeItem)]

    # -- gestures --------------------------------------------------------------------------
    def port_at(self, pos: QPointF, outputs: bool) -> PortItem | None:
        for item in self.items(QRectF(pos.x() - 8, pos.y() - 8, 16, 16)):
            if isinstance(item, PortItem) and item.is_output == outputs:
                return item
        return None

    def mousePressEvent(self, event):
        if event.button() == Qt.MouseButton.LeftButton:
            port = self.port_at(event.scenePos(), outputs=True)
            if port is not None:
                self.interaction = NewEdgeDrag(self, port)
                event.accept()
                return
        super().mousePressEvent(event)
        self._press_positions = {i.node_id: (i.pos().x(), i.pos().y())
                                 for i in self.selectedItems() if isinstance(i, NodeItem)}

    def mouseMoveEvent(self, event):
        if self.interaction is not None:
            self.interaction.move(event.scenePos())
            return
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event):
        if self.interaction is not None:
            interaction, self.interaction = self.interaction, None
            interaction.finish(event.scenePos())
            return
        super().mouseReleaseEvent(event)
        moves = {}
        for node_id, old in self._press_positions.items():
            item = self.node_items.get(node_id)
            if item is not None and (item.pos().x(), item.pos().y()) != old:
                moves[node_id] = (old, (item.pos().x(), item.pos().y()))
        self._press_positions = {}
        if moves:
            self.document.move_nodes(moves)

    def mouseDoubleClickEvent(self, event):
        for item in self.items(event.scenePos()):
            if isinstance(item, NodeItem):
                self.node_activated.emit(item.node_id)
                return
        super().mouseDoubleClickEvent(event)

    def helpEvent(self, event):
        # Tooltips are composed on demand from the current report: cheaper than keeping
        # hundreds of HTML strings up to date on every edit.
        for item in self.items(event.scenePos()):
            if isinstance(item, PortItem):
                break
            if isinstance(item, NodeItem):
                QToolTip.showText(event.screenPos(), self.tooltip_for(item.node_id), event.widget())
                event.accept()
                return
        super().helpEvent(event)

    # -- drop from the palette -------------------------------------------------------------
    def dragEnterEvent(self, event):
        if event.mimeData().hasFormat(BLOCK_MIME):
            event.acceptProposedAction()
        else:
            super().dragEnterEvent(event)

    def dragMoveEvent(self, event):
        if event.mimeData().hasFormat(BLOCK_MIME):
            event.acceptProposedAction()
        else:
            super().dragMoveEvent(event)

    def dropEvent(self, event):
        if not event.mimeData().hasFormat(BLOCK_MIME):
            return super().dropEvent(event)
        block = bytes(event.mimeData().data(BLOCK_MIME)).decode()
        self.drop_block(block, event.scenePos())
        event.acceptProposedAction()

    def drop_block(self, block: str, scene_pos: QPointF) -> str | None:
        pos = (round(scene_pos.x() - NODE_WIDTH / 2), round(scene_pos.y() - NODE_HEIGHT / 2))
        return self.document.add_node(block, pos=pos)

    # -- background ------------------------------------------------------------------------
    def _grid_brush(self) -> QBrush:
        # One tile painted once; the painter repeats it (a line per grid step was ~1 ms a frame).
        if getattr(self, "_brush_theme", None) is not self.theme:
            tile = QPixmap(GRID, GRID)
            tile.fill(QColor(self.theme.background))
            painter = QPainter(tile)
            painter.setPen(QPen(QColor(self.theme.grid), 1))
            painter.drawLine(0, 0, GRID, 0)
            painter.drawLine(0, 0, 0, GRID)
            painter.end()
            self._brush, self._brush_theme = QBrush(tile), self.theme
        return self._brush

    def drawBackground(self, painter, rect: QRectF):
        if painter.worldTransform().m11() < 0.45:  # the grid would be a grey haze
            painter.fillRect(rect, QColor(self.theme.background))
        else:
            painter.fillRect(rect, self._grid_brush())
