"""The open document: the design, its undo stack, its file and its analysis report.

It is the one way to edit: every gesture in the UI calls a method here, which checks the edit
with the engine first (so a refused edit never reaches the undo stack) and pushes an undo
command. Views subscribe to ``design`` events and to ``report_changed``; the analysis runs once
per burst of changes, on the next turn of the event loop.

Every undo step (done, undone or redone) runs inside :meth:`Document.batch`: however many nodes
it touches, the views hear ``changed`` once and ``selection_changed`` at most once, at its end.
(Deleting 2,000 selected nodes used to tell every panel of each node leaving the selection, and
the inspector analysed the design each time: 2,000 analyses for one key press.)
"""
from __future__ import annotations

import contextlib
import json
from pathlib import Path

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtGui import QUndoStack

from engine import analysis, composite_editing, persistence
from engine.errors import DesignError
from engine.graph import Design, DesignEvent, Edge

from . import commands as cmd
from .canvas.layout import NODE_HEIGHT, layered_layout

# Copied blocks travel as JSON text with this marker: plain text, because a QMimeData made in
# Python and left on the clipboard is destroyed by Qt after Python has shut down (a crash at exit).
CLIPBOARD_KIND = "network-designer/blocks"


class Document(QObject):
    report_changed = Signal(object)  # engine.analysis.Report
    selection_changed = Signal(list)  # node ids
    path_changed = Signal(str)  # "" when untitled
    edit_refused = Signal(str)  # the engine's message for an edit it refused
    design_replaced = Signal()  # new / open / template: everything redraws
    changed = Signal()  # the design changed: once per undo step, once per change made outside one

    def __init__(self, design: Design | None = None, parent=None):
        super().__init__(parent)
        self.design = Design("Untitled") if design is None else design
        self.undo_stack = QUndoStack(self)
        self.path: str | None = None
        self.selection: list[str] = []
        self.open_composites: dict[str, composite_editing.OpenComposite] = {}
        self._report = analysis.analyze(self.design)
        self._stale = False
        self._replacing = False  # inside replace_design: the views hear of the new report once
        self._batch_depth = 0
        self.batch_serial = 0  # counts outermost batches: views tell one undo step from the next
        self._batch_changed = False  # the design changed during the batch
        self._selection_dirty = False  # nodes left the design during the batch: filter the selection
        self._selection_pending = False  # the selection changed during the batch: tell once at its end
        self._unsubscribe = self.design.subscribe(self._on_design_event)

    # -- analysis --------------------------------------------------------------------------
    @property
    def report(self) -> analysis.Report:
        if self._stale:
            if self._replacing:  # read by a view redrawing the new design: told once, at the end
                self._stale = False
                self._report = analysis.analyze(self.design)
            else:
                self.refresh()
        return self._report

    def refresh(self) -> None:
        """Analyse now and tell the views (normally called on the next event-loop turn)."""
        self._stale = False
        self._report = analysis.analyze(self.design)
        self.report_changed.emit(self._report)

    def _on_design_event(self, event: DesignEvent) -> None:
        if event.kind == "node_removed":
            if self.batching:
                self._selection_dirty = True  # filtered once at the end, not once per node
            elif event.node_id in self.selection:
                self.selection = [n for n in self.selection if n != event.node_id]
                self.selection_changed.emit(list(self.selection))
        elif event.kind == "reset":
            self.set_selection([n for n in self.selection if n in self.design.nodes])
        if self.batching:
            self._batch_changed = True
        else:
            self.changed.emit()
        if event.kind == "node_moved":
            return  # positions do not change the analysis
        if not self._stale:
            self._stale = True
            QTimer.singleShot(0, self._refresh_if_stale)

    def _refresh_if_stale(self) -> None:
        if self._stale:
            self.refresh()

    # -- batches ---------------------------------------------------------------------------
    @contextlib.contextmanager
    def batch(self):
        """Changes made inside are one update for the views: ``changed`` and
        ``selection_changed`` are emitted once, at the end of the outermost batch (the analysis
        runs once anyway, on the next turn of the event loop)."""
        if self._batch_depth == 0:
            self.batch_serial += 1
        self._batch_depth += 1
        try:
            yield
        finally:
            self._batch_depth -= 1
            if self._batch_depth == 0:
                self._end_batch()

    @property
    def batching(self) -> bool:
        """Inside :meth:`batch`: views may leave per-node reactions to its end."""
        return self._batch_depth > 0

    def _end_batch(self) -> None:
        if self._selection_dirty:
            self._selection_dirty = False
            kept = [n for n in self.selection if n in self.design.nodes]
            if kept != self.selection:
                self.selection, self._selection_pending = kept, True
        if self._batch_changed:
            self._batch_changed = False
            self.changed.emit()
        if self._selection_pending:
            self._selection_pending = False
            self.selection_changed.emit(list(self.selection))

    # -- selection -------------------------------------------------------------------------
    def set_selection(self, node_ids) -> None:
        ids = [n for n in node_ids if n in self.design.nodes]
        if ids != self.selection:
            self.selection = ids
            if self.batching:
                self._selection_pending = True
            else:
                self.selection_changed.emit(list(ids))

    # -- editing ---------------------------------------------------------------------------
    def push(self, command: cmd.Command) -> bool:
        self.undo_stack.push(cmd.UndoStep(command, self.batch))
        return True

    def _refuse(self, error: Exception) -> bool:
        self.edit_refused.emit(str(error))
        return False

    def add_node(self, block: str, params: dict | None = None, pos=(0.0, 0.0), select: bool = True) -> str | None:
        try:
            values = self.design.spec(block).validate_params(params)
        except DesignError as e:
            self._refuse(e)
            return None
        command = cmd.AddNodeCommand(self.design, block, values, pos)
        self.push(command)
        if select:
            self.set_selection([command.node_id])
        return command.node_id

    def append_block(self, block: str, after: str | None = None) -> str | None:
        """Add a block below ``after`` (or below the lowest node) and connect it when it fits."""
        try:
            values = self.design.spec(block).validate_params(None)
        except DesignError as e:
            self._refuse(e)
            return None
        if after is None and self.design.nodes:
            after = max(self.design.nodes.values(), key=lambda n: (n.pos[1], n.pos[0])).id
        pos = (0.0, 0.0)
        if after is not None:
            x, y = self.design.node(after).pos
            pos = (x, y + NODE_HEIGHT + 60)
        macro = cmd.MacroCommand(f"Add {self.design.spec(block).title}")
        add = cmd.AddNodeCommand(self.design, block, values, pos, node_id=self.design.new_id(block), parent=macro)
        if after is not None and self.design.spec(block).inputs and self.design.spec(self.design.node(after).block).outputs:
            cmd.AddEdgeCommand(self.design, Edge(after, add.node_id), macro)
        try:
            self.push(macro)
        except DesignError as e:
            return self._refuse(e) and None
        self.set_selection([add.node_id])
        return add.node_id

    def connect(self, src: str, dst: str, src_port: str = "out", dst_port: str = "in") -> bool:
        try:
            self.design.check_connect(src, dst, src_port, dst_port)
        except DesignError as e:
            return self._refuse(e)
        return self.push(cmd.AddEdgeCommand(self.design, Edge(src, dst, src_port, dst_port)))

    def remove(self, node_ids=(), edges=()) -> bool:
        node_ids = [n for n in node_ids if n in self.design.nodes]
        edges = [e for e in edges if e in self.design.edges]
        if not node_ids and not edges:
            return False
        return self.push(cmd.remove_nodes_command(self.design, node_ids, edges))

    def set_params(self, node_id: str, changes: dict, merge_token=None) -> bool:
        node = self.design.node(node_id)
        try:
            self.design.spec(node.block).validate_params({**node.params, **changes})
        except DesignError as e:
            return self._refuse(e)
        return self.push(cmd.SetParamsCommand(self.design, node_id, changes, merge_token))

    def set_label(self, node_id: str, label: str) -> bool:
        if self.design.node(node_id).label == label:
            return False
        return self.push(cmd.SetNodeAttributeCommand(self.design, node_id, "label", label))

    def set_frozen(self, node_id: str, frozen: bool) -> bool:
        if self.design.node(node_id).frozen == frozen:
            return False
        return self.push(cmd.SetNodeAttributeCommand(self.design, node_id, "frozen", bool(frozen)))

    def set_meta(self, **changes) -> bool:
        changes = {k: v for k, v in changes.items() if getattr(self.design, k) != v}
        return bool(changes) and self.push(cmd.SetMetaCommand(self.design, changes))

    def move_nodes(self, moves: dict) -> bool:
        """``moves``: node id -> (old position, new position), after the items were dragged."""
        moves = {k: v for k, v in moves.items() if k in self.design.nodes and tuple(v[0]) != tuple(v[1])}
        return bool(moves) and self.push(cmd.MoveNodesCommand(self.design, moves))

    def auto_layout(self, node_ids=None, style: str | None = None) -> bool:
        """Lay out (one undo step) for the node size of ``style`` (the canvas's; by size when None)."""
        positions = layered_layout(self.design, node_ids, style)
        moves = {k: (self.design.nodes[k].pos, p) for k, p in positions.items()}
        return self.move_nodes(moves)

    # -- clipboard -------------------------------------------------------------------------
    def copy_payload(self, node_ids) -> str:
        ids = [n for n in self.design.nodes if n in set(node_ids)]
        nodes = [{"id": n, "block": self.design.nodes[n].block, "params": dict(self.design.nodes[n].params),
                  "pos": list(self.design.nodes[n].pos), "label": self.design.nodes[n].label,
                  "frozen": self.design.nodes[n].frozen} for n in ids]
        edges = [list(e) for e in self.design.edges if e.src in ids and e.dst in ids]
        return json.dumps({"kind": CLIPBOARD_KIND, "nodes": nodes, "edges": edges})

    @staticmethod
    def holds_blocks(text: str) -> bool:
        """Is this clipboard text blocks copied from a design (not some other text)?"""
        if CLIPBOARD_KIND not in text[:200]:
            return False
        try:
            return json.loads(text).get("kind") == CLIPBOARD_KIND
        except (ValueError, AttributeError):
            return False

    def paste(self, payload: str, offset=(40.0, 40.0)) -> list[str]:
        """Add copies of the nodes (new ids) and their inner edges as one undo step."""
        try:
            data = json.loads(payload)
            raw_nodes = data["nodes"]
            for raw in raw_nodes:
                self.design.spec(raw["block"]).validate_params(raw["params"])
        except DesignError as e:
            self._refuse(e)
            return []
        except (ValueError, KeyError, TypeError):
            self._refuse(ValueError("the clipboard does not hold blocks"))
            return []
        if not raw_nodes:
            return []
        macro = cmd.MacroCommand(f"Paste {len(raw_nodes)} block{'s' if len(raw_nodes) != 1 else ''}")
        new_ids = {}
        for raw in raw_nodes:
            new_ids[raw["id"]] = self.design.new_id(raw["block"])
            pos = (raw["pos"][0] + offset[0], raw["pos"][1] + offset[1])
            cmd.AddNodeCommand(self.design, raw["block"], raw["params"], pos, new_ids[raw["id"]],
                               raw.get("label", ""), raw.get("frozen", False), macro)
        for src, dst, sp, dp in data.get("edges", []):
            cmd.AddEdgeCommand(self.design, Edge(new_ids[src], new_ids[dst], sp, dp), macro)
        self.push(macro)
        self.set_selection(list(new_ids.values()))
        return list(new_ids.values())

    def duplicate(self, node_ids) -> list[str]:
        return self.paste(self.copy_payload(node_ids))

    # -- composites ------------------------------------------------------------------------
    def group(self, node_ids, title: str) -> str | None:
        """Make the selection a new reusable block and replace it by one node of that block."""
        holder = {}

        def edit(work: Design):
            holder["id"] = composite_editing.group(work, node_ids, title)
        if not self._snapshot(f"Group into {title}", edit):
            return None
        self.set_selection([holder["id"]])
        return holder["id"]

    def open_composite(self, node_id: str) -> list[str]:
        """Replace a composite node by the primitive blocks it is made of (editable)."""
        holder = {}

        def edit(work: Design):
            holder["state"] = composite_editing.expand(work, node_id, self.report)
        if not self._snapshot(f"Open {self.design.node(node_id).name}", edit):
            return []
        state = holder["state"]
        self.open_composites[node_id] = state
        self.refresh()  # views mark the opened part
        self.set_selection(state.inner_ids)
        return state.inner_ids

    def close_composite(self, node_id: str) -> bool:
        """Fold an opened composite back into one node (a new user block if it was edited)."""
        state = self.open_composites.get(node_id)
        if state is None or not state.is_present(self.design):
            self.open_composites.pop(node_id, None)
            return self._refuse(DesignError("that block is no longer open (its inner blocks were deleted)"))

        def edit(work: Design):
            composite_editing.collapse(work, state)
        if not self._snapshot(f"Close {node_id}", edit):
            return False
        del self.open_composites[node_id]
        self.refresh()
        self.set_selection([node_id])
        return True

    def open_composite_containing(self, node_id: str) -> str | None:
        for key, state in self.open_composites.items():
            if node_id in state.inner_ids:
                return key
        return None

    def _snapshot(self, text: str, edit) -> bool:
        try:
            edit(self.design.copy())  # dry run: refuse before anything reaches the stack
        except (DesignError, ValueError) as e:
            return self._refuse(e)
        return self.push(cmd.SnapshotCommand(self.design, text, edit))

    # -- files -----------------------------------------------------------------------------
    def replace_design(self, design: Design, path: str | None = None, take: bool = False) -> None:
        """New / open / template: not undoable; the stack starts clean. With ``take`` the caller
        gives ``design`` away (read from a file, built from a template): its nodes are not copied."""
        self.undo_stack.clear()
        self.open_composites.clear()
        self.selection = []
        self._replacing = True
        try:  # the canvas reads the report as it redraws: analysed then, not again below
            self.design.replace_with(design, take=take)
        finally:
            self._replacing = False
        self.set_path(path)
        self.undo_stack.setClean()
        if self._stale:
            self._stale = False
            self._report = analysis.analyze(self.design)
        self.report_changed.emit(self._report)
        self.selection_changed.emit([])
        self.design_replaced.emit()

    def new(self) -> None:
        self.replace_design(Design("Untitled"))

    def open(self, path: str) -> None:
        """Raises DesignFileError (the document is unchanged then). Reads on the calling thread:
        the window opens files with FileActions.open_path, which reads them in the background."""
        self.replace_design(persistence.load(path), str(Path(path).resolve()), take=True)

    def save(self, path: str | None = None) -> None:
        path = path or self.path
        if path is None:
            raise ValueError("the design has no file yet; choose one with Save As")
        persistence.save(self.design, path)
        self.set_path(str(Path(path).resolve()))
        self.undo_stack.setClean()

    def set_path(self, path: str | None) -> None:
        self.path = path
        self.path_changed.emit(path or "")

    @property
    def is_modified(self) -> bool:
        return not self.undo_stack.isClean()

    @property
    def display_name(self) -> str:
        return Path(self.path).name if self.path else self.design.name or "Untitled"

    def close(self) -> None:
        self._unsubscribe()
