"""Undo commands. Each touches only the design; the scene and panels follow its change events.

Commands are plain Python objects with ``redo``/``undo``; :class:`UndoStep` adapts one to
``QUndoStack``. (Nesting real ``QUndoCommand`` children from Python double-frees them in
PySide, so composition happens here.) Compound edits are parents with children, as
orange-canvas-core does it (a paste: nodes, then the edges between them). An edit of many
nodes at once is one command of the design's (``RemoveNodesCommand``: one pass, not one per
node). Every step runs inside the document's batch (``UndoStep(command, batch)``): the views
hear of the selection and the analysis once per step, whatever it touches.
"""
from __future__ import annotations

import contextlib

from PySide6.QtGui import QUndoCommand

from engine.graph import Design, Edge

_MERGE_ID = 1001


class Command:
    """An edit of the design. Children run before the command's own change and are undone
    after it is reverted."""

    merge_key = None  # commands with equal keys in a row merge into one undo step

    def __init__(self, text: str, parent: "Command | None" = None):
        self.text = text
        self.children: list[Command] = []
        self.obsolete = False
        if parent is not None:
            parent.children.append(self)

    def redo(self):
        for child in self.children:
            child.redo()

    def undo(self):
        for child in reversed(self.children):
            child.undo()

    def merge(self, other: "Command") -> bool:
        return False


class MacroCommand(Command):
    """One undo step made of child commands (run in order, undone in reverse)."""


class UndoStep(QUndoCommand):
    """The QUndoStack entry for one command; ``batch`` (a context manager factory, the
    document's) surrounds each run of it."""

    def __init__(self, command: Command, batch=contextlib.nullcontext):
        super().__init__(command.text)
        self.command, self.batch = command, batch

    def redo(self):
        with self.batch():
            self.command.redo()
        self.setObsolete(self.command.obsolete)

    def undo(self):
        with self.batch():
            self.command.undo()

    def id(self):
        return _MERGE_ID if self.command.merge_key is not None else -1

    def mergeWith(self, other):
        if not isinstance(other, UndoStep) or not self.command.merge(other.command):
            return False
        self.setText(self.command.text)
        self.setObsolete(self.command.obsolete)
        return True


class AddNodeCommand(Command):
    def __init__(self, design: Design, block: str, params: dict | None = None, pos=(0.0, 0.0),
                 node_id: str | None = None, label: str = "", frozen: bool = False, parent=None):
        super().__init__(f"Add {design.spec(block).title}", parent)
        self.design, self.block, self.params, self.pos = design, block, params, pos
        self.node_id, self.label, self.frozen = node_id, label, frozen

    def redo(self):
        node = self.design.add_node(self.block, self.params, self.pos, node_id=self.node_id,
                                    label=self.label, frozen=self.frozen)
        self.node_id = node.id  # redo after undo reuses the same id, so later commands still match

    def undo(self):
        self.design.remove_node(self.node_id)


class AddEdgeCommand(Command):
    def __init__(self, design: Design, edge: Edge, parent=None):
        super().__init__("Connect", parent)
        self.design, self.edge = design, edge

    def redo(self):
        self.design.connect(*self.edge)

    def undo(self):
        self.design.disconnect(self.edge)


class RemoveNodesCommand(Command):
    """Deletes nodes with their edges (and any edges given) as one step of the design: a
    selection of thousands of nodes costs one pass, and undo puts every node and edge back at
    its place in the order (edge order is Concatenate's input order)."""

    def __init__(self, design: Design, node_ids, extra_edges=(), parent=None):
        ids = set(node_ids)
        count = sum(1 for n in design.nodes if n in ids)
        super().__init__(f"Delete {count} block{'s' if count != 1 else ''}" if count else "Delete edges", parent)
        self.design, self.node_ids, self.extra_edges = design, ids, tuple(extra_edges)
        self.removal = None

    def redo(self):
        self.removal = self.design.remove_many(self.node_ids, self.extra_edges)

    def undo(self):
        self.design.restore_many(self.removal)


def remove_nodes_command(design: Design, node_ids, extra_edges=()) -> Command:
    """One undo step deleting nodes (and any edges given); shared edges are removed once."""
    return RemoveNodesCommand(design, node_ids, extra_edges)


class SetParamsCommand(Command):
    """A parameter edit. Repeated edits of the same field in one editing session (spin-box
    steps, typing) merge into one undo step."""

    def __init__(self, design: Design, node_id: str, changes: dict, merge_token=None, parent=None):
        name = ", ".join(changes)
        super().__init__(f"Set {name} of {design.node(node_id).name}", parent)
        self.design, self.node_id, self.changes = design, node_id, dict(changes)
        if merge_token is not None:
            self.merge_key = (merge_token, node_id, tuple(sorted(changes)))
        self.old: dict | None = None

    def redo(self):
        old = self.design.set_params(self.node_id, self.changes)
        if self.old is None:
            self.old = old
            self.obsolete = not old  # nothing changed: not worth an undo step

    def undo(self):
        self.design.set_params(self.node_id, self.old)

    def merge(self, other):
        if not isinstance(other, SetParamsCommand) or other.merge_key != self.merge_key or self.merge_key is None:
            return False
        self.changes = other.changes
        self.old = {**(other.old or {}), **self.old}
        # Back at the starting value: the merged command does nothing.
        node = self.design.node(self.node_id)
        self.obsolete = all(node.params.get(k) == v for k, v in self.old.items())
        return True


class MoveNodesCommand(Command):
    def __init__(self, design: Design, moves: dict, parent=None):
        super().__init__("Move" if len(moves) != 1 else f"Move {design.node(next(iter(moves))).name}", parent)
        self.design = design
        self.moves = {k: (tuple(old), tuple(new)) for k, (old, new) in moves.items()}

    def redo(self):
        for node_id, (_, new) in self.moves.items():
            self.design.move(node_id, new)

    def undo(self):
        for node_id, (old, _) in self.moves.items():
            self.design.move(node_id, old)


class SetNodeAttributeCommand(Command):
    """Label or frozen flag of one node."""

    def __init__(self, design: Design, node_id: str, attribute: str, value, parent=None):
        super().__init__(f"Set {attribute} of {design.node(node_id).name}", parent)
        self.design, self.node_id, self.attribute, self.value = design, node_id, attribute, value
        self.old = getattr(design.node(node_id), attribute)

    def _apply(self, value):
        setter = self.design.set_label if self.attribute == "label" else self.design.set_frozen
        setter(self.node_id, value)

    def redo(self):
        self._apply(self.value)

    def undo(self):
        self._apply(self.old)


class SetMetaCommand(Command):
    def __init__(self, design: Design, changes: dict, parent=None):
        super().__init__(f"Set {', '.join(changes)}", parent)
        self.design, self.changes = design, dict(changes)
        self.old = {k: getattr(design, k) for k in changes}

    def redo(self):
        self.design.set_meta(**self.changes)

    def undo(self):
        self.design.set_meta(**self.old)


class SnapshotCommand(Command):
    """A structural rewrite (group into a block, open a composite) recorded as before/after
    copies of the design: simpler and safer than inverting each step, and these edits are rare."""

    def __init__(self, design: Design, text: str, edit, parent=None):
        super().__init__(text, parent)
        self.design, self.edit = design, edit
        self.before: Design | None = None
        self.after: Design | None = None

    def redo(self):
        if self.after is None:
            self.before = self.design.copy()
            work = self.design.copy()
            self.edit(work)  # may raise: the design is untouched then
            self.after = work
        self.design.replace_with(self.after)

    def undo(self):
        self.design.replace_with(self.before)
