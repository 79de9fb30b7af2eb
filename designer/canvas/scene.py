"""The canvas scene: mirrors the design through its change events and shows the engine's
report on nodes and edges. Gestures (connect, move, drop from the palette) go to the document.

Every reaction costs what changed, so an action on thousands of nodes stays within a frame or
two: a report relabels only the nodes whose report object is new (the analysis hands back the
same object for an unchanged node); while the document batches an undo step, an edge moved at
both ends (Auto Layout) is re-routed once, at the end; and the items a delete removed are kept
until the next delete, so undoing it puts them back instead of building them again.
"""
from __future__ import annotations

import time

from PySide6.QtCore import QPointF, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import QBrush, QColor, QPainter, QPen, QPixmap, QTransform
from PySide6.QtWidgets import QGraphicsScene, QToolTip

from engine.graph import DesignEvent
from engine.layout.node_style import AUTO, node_size, style_for

from .. import theme as themes
from . import labels
from .interactions import NewEdgeDrag
from .items import EdgeItem, NodeItem, PortItem

BLOCK_MIME = "application/x-network-designer-block"
BUILD_AT_ONCE = 300  # nodes: a design up to this size is drawn in one go
# A bigger one: the nodes the fitted view shows are drawn before the first paint (at most
# FIRST_VIEW_MAX of them; FIRST_SLICE_S worth from the top when the scene has no view)…
FIRST_VIEW_MAX = 400
FIRST_SLICE_S = 0.04
SLICE_S = 0.012  # … then the rest, this long per turn of the event loop
ROOM = 40.0  # scene units around a design being drawn that the view may scroll to (Fit's margin)
GRID = 24


class DesignScene(QGraphicsScene):
    node_activated = Signal(str)  # double-click on a node
    outline_changed = Signal()  # nodes or edges appeared, went, moved or changed size (the overview redraws)

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
        self._drag_positions: dict[str, tuple] = {}  # where a drag last left each node it moves
        self._syncing_selection = False
        self._shown_reports: dict[str, object] = {}  # node id -> the NodeReport its item shows
        self._shown_opened: set[str] = set()  # inner nodes of opened composites, as drawn
        self._removed: dict[str, tuple] = {}  # node id -> (Node, NodeItem) of the latest delete
        self._removed_edges: dict = {}  # Edge -> EdgeItem of the latest delete
        self._removed_in = -1  # the document batch they were removed in
        self.deferred_edges: set | None = None  # edges to re-route at the end of the batch
        self._content_rect: QRectF | None = None  # content_rect(), until something changes
        self._outline_pending = False  # the outline changed in the document's batch: tell at its end
        self._pending: list[str] = []  # node ids of a big design not drawn yet, top first
        self._build_generation = 0  # a rebuild forgets the slices scheduled for the one before
        self._explicit_rect = False  # the scene rectangle is set while a big design is drawn
        # Indexed: a repaint asks only the items in view for their bounds (without an index it
        # asked every node, port and edge, each a call into Python: O(design) per frame).
        self.setItemIndexMethod(QGraphicsScene.ItemIndexMethod.BspTreeIndex)
        self._unsubscribe = document.design.subscribe(self._on_design_event)
        document.report_changed.connect(self.apply_report)
        document.selection_changed.connect(self._on_document_selection)
        document.changed.connect(self._end_of_change)
        self.selectionChanged.connect(self._on_scene_selection)
        self.rebuild()

    def detach(self) -> None:
        """Stop following the document (the window is closing)."""
        self._unsubscribe()
        self.document.report_changed.disconnect(self.apply_report)
        self.document.selection_changed.disconnect(self._on_document_selection)
        self.document.changed.disconnect(self._end_of_change)

    # -- mirroring the design --------------------------------------------------------------
    def rebuild(self) -> None:
        """Draw the design anew (open, new, template, a structural undo). A design of up to
        BUILD_AT_ONCE nodes is drawn at once; a bigger one from the top down, FIRST_SLICE_S
        before the first paint and then SLICE_S per turn of the event loop, so the window
        paints and answers while the rest is drawn (a 20,000-node design froze it 10–16 s).
        A node not drawn yet is drawn as the design has it then: edits in the meantime are
        simply there when it appears."""
        self._syncing_selection = True
        self.clear()
        self.node_items.clear()
        self.edge_items.clear()
        self._forget_removed()
        self._shown_reports, self._shown_opened = {}, set()
        self._content_rect = None
        self._syncing_selection = False
        design = self.document.design
        self.node_style = style_for(len(design.nodes), self.node_style_preference)
        self._build_generation += 1
        positions = design.nodes
        # From the top down: a big design is fitted from its top (CanvasView.fit(readable=True)).
        self._pending = sorted(design.nodes, key=lambda n: (positions[n].pos[1], positions[n].pos[0]))
        if len(self._pending) <= BUILD_AT_ONCE:
            self._build_some(None)
            return
        in_view = self._pending_in_first_view()
        if in_view:  # what the first paint shows, and nothing more: the rest comes a slice a turn
            self._build_some(None, min(in_view, FIRST_VIEW_MAX))
        else:
            self._build_some(FIRST_SLICE_S)

    def _pending_in_first_view(self) -> int:
        """Put the pending nodes the view will show once fitted (as the window fits a design it
        opens) first; how many they are. The slices draw those first: sorted from the top
        alone, a design laid out in many columns had the first slice draw the top rows of
        columns out of view (half the view was drawn at the first paint at 2,000 nodes)."""
        view = next((v for v in self.views() if hasattr(v, "fitted_scene_rect")), None)
        shown = view.fitted_scene_rect(readable=True) if view is not None else None
        if shown is None:
            return 0
        nodes, (width, height) = self.document.design.nodes, node_size(self.node_style)
        # The slot (x, y, width, height) meets the shown rectangle: compared as numbers, not as
        # a QRectF per node (a call into Qt each: 0.1 s at 20,000 nodes).
        left, top = shown.left() - width, shown.top() - height
        right, bottom = shown.right(), shown.bottom()
        first, rest = [], []
        for node_id in self._pending:
            x, y = nodes[node_id].pos
            (first if left < x < right and top < y < bottom else rest).append(node_id)
        self._pending = first + rest
        return len(first)

    @property
    def building(self) -> bool:
        """Some nodes of a big design are not drawn yet (they are, a slice per event-loop turn)."""
        return bool(self._pending)

    def finish_building(self) -> None:
        """Draw whatever is left now (tests, benches, a screenshot)."""
        if self._pending:
            self._build_some(None)

    def _build_some(self, seconds: float | None, count: int | None = None) -> None:
        """Draw pending nodes (and every edge whose two ends are then drawn) for about
        ``seconds`` (all of them when None), or the first ``count`` of them; schedule the rest
        for the next turn."""
        start = time.perf_counter()
        design, report = self.document.design, self.document.report
        nodes, items, selected = design.nodes, self.node_items, set(self.document.selection)
        pending, done = self._pending, 0
        end = len(pending) if count is None else min(count, len(pending))
        # The rectangle around everything (drawn nodes and edges, slots of the rest), grown by
        # what this slice draws: measured again each slice it made drawing n nodes O(n²).
        rect = self._content_rect
        self._syncing_selection = True
        try:
            while done < end:
                node_id = pending[done]
                done += 1
                if node_id not in nodes or node_id in items:
                    continue  # deleted, or added by an edit meanwhile (drawn then)
                self._add_node(node_id, report)
                item = items[node_id]
                if node_id in selected:
                    item.setSelected(True)
                if rect is not None:
                    rect = rect.united(item.boundingRect().translated(item.pos()))
                for edge in design.incoming(node_id) + design.outgoing(node_id):
                    if edge not in self.edge_items and edge.src in items and edge.dst in items:
                        self._add_edge(edge, report)
                        if rect is not None and edge in self.edge_items:
                            rect = rect.united(self.edge_items[edge].boundingRect())
                if seconds is not None and done % 4 == 0 and time.perf_counter() - start > seconds:
                    break
        finally:
            self._syncing_selection = False
        del pending[:done]
        # While some are pending the rectangle holds their slots (a drawn node may be narrower
        # than its slot): once all are drawn it is measured exactly, when next asked.
        self._content_rect = rect if pending else None
        if pending:
            generation = self._build_generation
            QTimer.singleShot(0, lambda: self._continue_build(generation))
            # The whole design's room, drawn or not: the view scrolls over all of it (from its
            # top when fitted readable) instead of centring the part drawn so far.
            self.setSceneRect(self.content_rect().adjusted(-ROOM, -ROOM, ROOM, ROOM))
        elif not self.sceneRect().isNull() and self._explicit_rect:
            self.setSceneRect(QRectF())  # back to Qt's own: the items' bounds as they grow
        self._explicit_rect = bool(pending)
        self.outline_changed.emit()

    def _continue_build(self, generation: int) -> None:
        if generation == self._build_generation and self._pending:
            self._build_some(SLICE_S)

    def _on_design_event(self, event: DesignEvent) -> None:
        kind = event.kind
        self._content_rect = None
        if kind != "params_changed":
            if self.document.batching:  # told once, at the end of the undo step
                self._outline_pending = True
            else:
                self.outline_changed.emit()
        if kind == "node_added":
            if not self._restore_node(event.node_id):
                self._add_node(event.node_id)
        elif kind == "node_removed":
            item = self.node_items.pop(event.node_id, None)
            if item is not None:
                for edge_item in list(item.edges):
                    self._remove_edge(edge_item.edge)
                self.removeItem(item)
                self._keep_removed(event.node_id, (event.detail, item))
        elif kind == "edge_added":
            if not self._restore_edge(event.edge):
                self._add_edge(event.edge)
        elif kind == "edge_removed":
            self._remove_edge(event.edge)
        elif kind in ("params_changed", "node_changed"):
            self._update_texts(event.node_id)
        elif kind == "node_moved":
            item = self.node_items.get(event.node_id)
            pos = QPointF(*self.document.design.nodes[event.node_id].pos)
            if item is not None and item.pos() != pos:
                if self.document.batching and self.deferred_edges is None:
                    self.deferred_edges = set()  # NodeItem.moved collects, _end_of_change routes
                item.setPos(pos)
                item.moved()
        elif kind == "reset":
            self.rebuild()

    def content_rect(self) -> QRectF:
        """The rectangle around every node and edge (what Fit shows), kept until something is
        added, removed, moved or resized. Qt's itemsBoundingRect asks every item for its
        bounds, ports included, each a call into Python: 0.6 s at 2,000 nodes."""
        if self._content_rect is None:
            rect = QRectF()
            for item in self.node_items.values():
                rect = rect.united(item.boundingRect().translated(item.pos()))
            for item in self.edge_items.values():
                rect = rect.united(item.boundingRect())  # edges sit at the scene's origin
            nodes, drawn = self.document.design.nodes, self.node_items
            slots = [nodes[n].pos for n in self._pending if n in nodes and n not in drawn]
            if slots:  # not drawn yet: their slots (one rectangle around them all)
                (width, height), xs, ys = node_size(self.node_style), [p[0] for p in slots], [p[1] for p in slots]
                left, top = min(xs), min(ys)
                rect = rect.united(QRectF(left, top, max(xs) + width - left, max(ys) + height - top))
            self._content_rect = rect
        return QRectF(self._content_rect)

    def geometry_changed(self) -> None:
        """A node moved or changed size (NodeItem tells): content_rect is measured again."""
        self._content_rect = None
        if self.document.batching:
            self._outline_pending = True
        else:
            self.outline_changed.emit()

    def _end_of_change(self) -> None:
        """The document's change (a whole undo step) is over: route the edges it moved."""
        self._content_rect = None
        edges, self.deferred_edges = self.deferred_edges, None
        for edge in edges or ():
            if edge.scene() is self:
                edge.update_path()
        if self._outline_pending:
            self._outline_pending = False
            self.outline_changed.emit()

    # -- what the latest delete removed: undo puts the same items back -----------------------
    def _keep_removed(self, node_id: str, entry: tuple) -> None:
        self._start_keeping()
        self._removed[node_id] = entry

    def _keep_removed_edge(self, edge, item) -> None:
        self._start_keeping()
        self._removed_edges[edge] = item

    def _start_keeping(self) -> None:
        batch = self.document.batch_serial
        if batch != self._removed_in:  # an older delete's items: undoing that one builds anew
            self._forget_removed()
            self._removed_in = batch

    def _forget_removed(self) -> None:
        self._removed.clear()
        self._removed_edges.clear()
        # What deleted nodes showed is kept with their items (undo puts both back); no longer.
        self._shown_reports = {n: r for n, r in self._shown_reports.items() if n in self.node_items}

    def _restore_node(self, node_id: str) -> bool:
        node, item = self._removed.pop(node_id, (None, None))
        if item is None or node is not self.document.design.nodes[node_id]:
            return False  # not what was removed (the same id made anew): a new item
        item.set_style(self.node_style)
        if (item.pos().x(), item.pos().y()) != node.pos:
            item.setPos(*node.pos)
            item.moved()  # out of the scene and without edges: its edges route when put back
        self.addItem(item)
        self.node_items[node_id] = item
        return True

    def _restore_edge(self, edge) -> bool:
        item = self._removed_edges.pop(edge, None)
        if item is None or self.node_items.get(edge.src) is not item.src or self.node_items.get(edge.dst) is not item.dst:
            return False
        item.attach()
        self.addItem(item)
        self.edge_items[edge] = item
        return True

    def _add_node(self, node_id: str, report=None) -> None:
        node = self.document.design.nodes[node_id]
        spec = self.document.design.spec(node.block)
        content = self._node_texts(node, spec)
        if report is not None and node_id in report.nodes:  # a new node waits for the next report
            node_report = self._shown_reports[node_id] = report.nodes[node_id]
            content.update(self._report_texts(spec, node_report))
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
        if node_id not in self.node_items:
            return  # not drawn yet: drawn with its new texts
        node = self.document.design.nodes[node_id]
        self.node_items[node_id].set_content(**self._node_texts(node, self.document.design.spec(node.block)))

    def _add_edge(self, edge, report=None) -> None:
        if edge.src not in self.node_items or edge.dst not in self.node_items:
            return  # an end is not drawn yet: the edge comes with it
        # Its nodes were labelled from this report as they were made: so is the edge, as it is made.
        label = self._edge_label(edge, report) if report is not None else ()
        item = EdgeItem(edge, self.node_items[edge.src], self.node_items[edge.dst], *label)
        self.addItem(item)
        self.edge_items[edge] = item

    @staticmethod
    def _edge_label(edge, report) -> tuple[str, bool, bool]:
        """(text, shape unknown, shape does not fit the target): EdgeItem.set_label's arguments."""
        shape = report.edge_shape(edge)
        return labels.edge_label(shape), shape is None, labels.has_shape_error(report.nodes.get(edge.dst))

    @classmethod
    def _label_edge(cls, item, report) -> None:
        item.set_label(*cls._edge_label(item.edge, report))

    def _remove_edge(self, edge) -> None:
        item = self.edge_items.pop(edge, None)
        if item is not None:
            item.detach()
            self.removeItem(item)
            if self.document.batching:  # a delete: undo may want it back
                self._keep_removed_edge(edge, item)

    def apply_report(self, report) -> None:
        """Relabel the nodes whose report changed (a new object with other figures, or a new
        opened state) and the edges touching them; the rest already show what this report says.
        The loop's common case (the very same report object) is one lookup and one identity test
        per node: it runs after every edit, over every node."""
        opened = {i for state in self.document.open_composites.values() for i in state.inner_ids}
        design = self.document.design
        nodes, report_of = design.nodes, report.nodes.__getitem__
        shown, shown_opened, changed = self._shown_reports, self._shown_opened, set()
        for node_id, item in self.node_items.items():
            try:
                node_report = report_of(node_id)
            except KeyError:  # added since this report (the next one tells), or removed
                node_report = None
            old = shown.get(node_id, self)
            is_opened = node_id in opened
            if old is node_report and (node_id in shown_opened) == is_opened:
                continue
            node = nodes.get(node_id)
            if node is None:  # removed; this scene hears of it next (a report can come first)
                continue
            shown[node_id] = node_report
            if (node_id in shown_opened) == is_opened and old == node_report:
                continue  # the same figures (a structural edit makes new objects)
            changed.add(node_id)
            item.set_content(opened_part=is_opened, **self._report_texts(design.spec(node.block), node_report))
        self._shown_opened = opened
        if not changed:
            return
        self._content_rect = None  # a node with an error is drawn taller
        for edge, item in self.edge_items.items():
            if edge.src in changed or edge.dst in changed:
                self._label_edge(item, report)

    def set_node_style(self, preference: str) -> None:
        """"auto" (compact above node_style.COMPACT_ABOVE nodes), "full" or "compact". The nodes
        keep their positions: lay the design out again for the new node size."""
        self.node_style_preference = preference
        style = style_for(len(self.document.design.nodes), preference)
        if style != self.node_style:
            self.node_style = style
            self._content_rect = None
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
        # Qt tells of each selected item a batch removes; the document tells the outcome once.
        if self._syncing_selection or self.document.batching:
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
        # Qt tells selectionChanged once per item whose state changes (2,000 for a select all):
        # silenced here, told once below.
        blocked = self.blockSignals(True)
        try:
            for node_id, item in self.node_items.items():
                if item.isSelected() != (node_id in wanted):
                    item.setSelected(node_id in wanted)
        finally:
            self.blockSignals(blocked)
            self.selectionChanged.emit()
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
        self._drag_positions = dict(self._press_positions)

    def mouseMoveEvent(self, event):
        if self.interaction is not None:
            self.interaction.move(event.scenePos())
            return
        super().mouseMoveEvent(event)  # Qt moves the selected nodes being dragged
        seen = self._drag_positions
        for node_id, old in seen.items():
            item = self.node_items.get(node_id)
            if item is not None and (item.pos().x(), item.pos().y()) != old:
                seen[node_id] = (item.pos().x(), item.pos().y())
                item.moved()

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
        self._press_positions, self._drag_positions = {}, {}
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
                QToolTip.showText(event.screenPos(), item.tooltip(), event.widget())
                event.accept()
                return
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
