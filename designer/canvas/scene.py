"""The canvas scene: mirrors the design through its change events and shows the engine's
report on nodes and edges. Gestures (connect, move, drop from the palette) go to the document.
"""
from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QPainter, QPen, QPixmap, QTransform
from PySide6.QtWidgets import QGraphicsScene, QToolTip

from engine.graph import DesignEvent
from engine.layout.node_style import AUTO, node_size, style_for

from .. import theme as themes
from . import labels
from .interactions import NewEdgeDrag
from .items import EdgeItem, NodeItem, PortItem

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
        self.node_style_preference = AUTO  # "auto", "full" or "compact"
        self.node_style = style_for(len(document.design.nodes))
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
        report = self.document.report  # analyses now if needed (this scene is empty: nothing to relabel)
        self.node_style = style_for(len(design.nodes), self.node_style_preference)
        for node_id in design.nodes:
            self._add_node(node_id, report)
        for edge in design.edges:
            self._add_edge(edge)
        self.apply_report(report)
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

    def _add_node(self, node_id: str, report=None) -> None:
        node = self.document.design.nodes[node_id]
        spec = self.document.design.spec(node.block)
        content = self._node_texts(node, spec)
        if report is not None and node_id in report.nodes:  # a new node waits for the next report
            content.update(self._report_texts(spec, report.nodes[node_id]))
        item = NodeItem(node_id, spec.category, [p.name for p in spec.inputs], bool(spec.outputs), self.node_style,
                        **content)
        item.setPos(*node.pos)
        self.addItem(item)
        self.node_items[node_id] = item

    @staticmethod
    def _node_texts(node, spec) -> dict:
        return {"title": labels.name_line(node), "detail": labels.type_line(spec, node.params)}

    @staticmethod
    def _report_texts(spec, node_report) -> dict:
        info, problem = labels.info_line(node_report)
        status = error = ""
        if node_report is not None and node_report.diagnostics:
            status = "error" if node_report.has_error else "warning"
            if node_report.has_error:
                error = labels.error_line(spec, node_report)
        return {"info": info, "problem": problem, "status": status, "error": error,
                "shape_text": labels.shape_line(node_report)}

    def _update_texts(self, node_id: str) -> None:
        node = self.document.design.nodes[node_id]
        self.node_items[node_id].set_content(**self._node_texts(node, self.document.design.spec(node.block)))

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
        design = self.document.design
        broken = set()  # nodes whose inputs do not fit: the edges into them are drawn red
        for node_id, item in self.node_items.items():
            node = design.nodes.get(node_id)
            if node is None:  # removed; this scene hears of it next (a report can come first)
                continue
            node_report = report.nodes.get(node_id)
            if labels.has_shape_error(node_report):
                broken.add(node_id)
            item.set_content(opened_part=node_id in opened, **self._report_texts(design.spec(node.block), node_report))
        for edge, item in self.edge_items.items():
            shape = report.edge_shape(edge)
            item.set_label(labels.edge_label(shape), shape is None, edge.dst in broken)

    def set_node_style(self, preference: str) -> None:
        """"auto" (compact above node_style.COMPACT_ABOVE nodes), "full" or "compact". The nodes
        keep their positions: lay the design out again for the new node size."""
        self.node_style_preference = preference
        style = style_for(len(self.document.design.nodes), preference)
        if style != self.node_style:
            self.node_style = style
            for item in self.node_items.values():
                item.set_style(style)

    def tooltip_for(self, node_id: str) -> str:
        design = self.document.design
        node = design.nodes[node_id]
        return labels.tooltip(node, design.spec(node.block), self.document.report.nodes.get(node_id))

    def edge_tooltip_for(self, edge) -> str:
        report = self.document.report
        return labels.edge_tooltip(report.edge_shape(edge), self.document.design.nodes[edge.dst],
                                   report.nodes.get(edge.dst))

    def set_theme(self, theme: themes.Theme) -> None:
        self.theme = theme
        for item in self.items():
            item.update()
        for view in self.views():
            view.resetCachedContent()  # the cached grid is in the old theme's colours
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
            if isinstance(item, EdgeItem):
                QToolTip.showText(event.screenPos(), self.edge_tooltip_for(item.edge), event.widget())
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
        width, height = node_size(self.node_style)
        pos = (round(scene_pos.x() - width / 2), round(scene_pos.y() - height / 2))
        return self.document.add_node(block, pos=pos)

    # -- background ------------------------------------------------------------------------
    def drawBackground(self, painter, rect: QRectF):
        # The grid is one tile the size of a grid step on screen, repeated in device pixels: a
        # tile repeated under the view's scaling cost ~3 ms a frame, lines ~1 ms.
        transform = painter.worldTransform()
        zoom = transform.m11()
        if zoom < 0.45:  # the grid would be a grey haze
            painter.fillRect(rect, QColor(self.theme.background))
            return
        step = max(4, round(GRID * zoom))
        if getattr(self, "_tile_key", None) != (self.theme, step):
            tile = QPixmap(step, step)
            tile.fill(QColor(self.theme.background))
            tile_painter = QPainter(tile)
            tile_painter.setPen(QPen(QColor(self.theme.grid), 1))
            tile_painter.drawLine(0, 0, step, 0)
            tile_painter.drawLine(0, 0, 0, step)
            tile_painter.end()
            self._tile, self._tile_key = QBrush(tile), (self.theme, step)
        origin = transform.map(QPointF(0, 0))
        brush = QBrush(self._tile)
        brush.setTransform(QTransform.fromTranslate(round(origin.x()), round(origin.y())))
        painter.save()
        painter.resetTransform()
        painter.fillRect(transform.mapRect(rect).toAlignedRect(), brush)
        painter.restore()
