"""The design model: a DAG of block nodes and port-to-port edges, plus metadata.

All edits go through the mutation methods of :class:`Design`. Each checks first and raises a
typed error (the design is then unchanged), applies the change, and notifies subscribers with
a :class:`DesignEvent`, so views mirror the design without polling.

The model cannot be edited any other way, so nothing computed from it can go stale: a node's
``params`` is a read-only mapping, ``Design.nodes`` a read-only view and ``Design.edges`` a
tuple. :meth:`Design.lint` checks every invariant (as ``torch.fx.Graph.lint``).
"""
from __future__ import annotations

import copy
import itertools
import re
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Callable, Mapping, NamedTuple

from . import blocks, design_lint
from .design_lint import LintError
from .edge_index import Edge, EdgeIndex
from .errors import CycleError, DesignError, PortError, PortOccupiedError, UnknownNodeError
from .node import Node

__all__ = ["Design", "DesignEvent", "CompositeDefinition", "Removal", "Node", "Edge", "EdgeIndex", "LintError",
           "MAX_TEXT"]


@dataclass(frozen=True)
class DesignEvent:
    """What changed. ``kind`` is one of: node_added, node_removed, edge_added, edge_removed,
    params_changed, node_moved, node_changed (label/frozen), meta_changed, reset."""

    kind: str
    node_id: str | None = None
    edge: Edge | None = None
    detail: Any = None


@dataclass
class CompositeDefinition:
    """A user-defined block: a sub-design saved with the design file. Its inner Input nodes
    become the block's input ports (in order) and its single Output node its output."""

    key: str
    title: str
    design: "Design"
    doc: str = ""


class Removal(NamedTuple):
    """What :meth:`Design.remove_many` took out, and the order it was in (for undo)."""

    node_order: tuple[str, ...]  # every node id before the removal, in order
    edges_before: tuple[Edge, ...]  # every edge before the removal, in order
    nodes: dict[str, Node]  # the removed nodes, in node order
    edges: tuple[Edge, ...]  # the removed edges, in edge order


_ID_SAFE = re.compile(r"[^0-9a-zA-Z_]+")
MAX_TEXT = 1000  # characters of a design name, a label or a block title


def _check_text(text: str, what: str) -> None:
    if len(text) > MAX_TEXT:
        raise DesignError(f"{what} is at most {MAX_TEXT:,} characters; this one has {len(text):,}")


class Design:
    """Nodes (by id, in insertion order), edges (in order: the input order of Concatenate),
    composites and metadata. ``nodes`` is a read-only view and ``edges`` a tuple: the mutation
    methods below are the only writers."""

    def __init__(self, name: str = "Untitled", num_classes: int | None = None, notes: str = ""):
        self.name = name
        self.num_classes = num_classes
        self.notes = notes
        self._nodes: dict[str, Node] = {}
        self._nodes_view = MappingProxyType(self._nodes)
        self._edges: list[Edge] = []
        self._edges_tuple: tuple[Edge, ...] | None = ()  # ``edges``, built on first read after a change
        self.composites: dict[str, CompositeDefinition] = {}
        self._listeners: list[Callable[[DesignEvent], None]] = []
        self._counter = itertools.count(1)
        self.version = 0  # bumps on every change; caches key on it
        self.structure_version = 0  # bumps on node/edge changes only
        self._index: EdgeIndex | None = None  # built on first use; None after edits it cannot follow

    @property
    def nodes(self) -> Mapping[str, Node]:
        """Node id -> node, read-only (add_node, remove_node, restore_node edit it)."""
        return self._nodes_view

    @property
    def edges(self) -> tuple[Edge, ...]:
        """The edges in order, as a tuple (connect and disconnect edit them)."""
        edges = self._edges_tuple
        if edges is None:
            edges = self._edges_tuple = tuple(self._edges)
        return edges

    def _edges_changed(self) -> None:
        self._edges_tuple = None

    @property
    def _edges_by(self) -> EdgeIndex:
        if self._index is None:
            self._index = EdgeIndex(self._edges)
        return self._index

    # -- subscription --------------------------------------------------------------------
    def subscribe(self, listener: Callable[[DesignEvent], None]) -> Callable[[], None]:
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    def _emit(self, event: DesignEvent, structural: bool = False) -> None:
        self.version += 1
        if structural:
            self.structure_version += 1
        for listener in list(self._listeners):
            listener(event)

    # -- queries -------------------------------------------------------------------------
    def spec(self, key: str) -> blocks.BlockSpec:
        """The block spec for ``key``, including this design's own composite blocks."""
        if key in self.composites:
            from .user_blocks import spec_for
            return spec_for(self.composites[key], self)
        return blocks.get(key)

    def node(self, node_id: str) -> Node:
        try:
            return self._nodes[node_id]
        except KeyError:
            raise UnknownNodeError(f"no node with id {node_id!r}") from None

    def incoming(self, node_id: str) -> list[Edge]:
        return list(self._edges_by.into.get(node_id, ()))

    def outgoing(self, node_id: str) -> list[Edge]:
        return list(self._edges_by.out.get(node_id, ()))

    def input_nodes(self) -> list[Node]:
        return [n for n in self.nodes.values() if n.block == "input"]

    def output_nodes(self) -> list[Node]:
        return [n for n in self.nodes.values() if n.block == "output"]

    @property
    def input_shape(self) -> tuple[int, ...] | None:
        ins = self.input_nodes()
        return tuple(ins[0].params["shape"]) if ins else None

    def topological_order(self) -> list[str]:
        """Node ids so that every edge goes forward; ties keep insertion order."""
        indegree = {n: 0 for n in self.nodes}
        children: dict[str, list[str]] = {n: [] for n in self.nodes}
        for e in self._edges:
            indegree[e.dst] += 1
            children[e.src].append(e.dst)
        order = [n for n, d in indegree.items() if d == 0]
        for n in order:  # the list is the queue: appended to while it is walked (no pop(0))
            for c in children[n]:
                indegree[c] -= 1
                if indegree[c] == 0:
                    order.append(c)
        return order

    def new_id(self, block: str) -> str:
        base = _ID_SAFE.sub("_", block.split(":")[-1]).strip("_") or "node"
        while True:
            candidate = f"{base}_{next(self._counter)}"
            if candidate not in self.nodes:
                return candidate

    # -- mutations -----------------------------------------------------------------------
    def add_node(self, block: str, params: dict | None = None, pos=(0.0, 0.0), node_id: str | None = None,
                 label: str = "", frozen: bool = False) -> Node:
        spec = self.spec(block)
        values = spec.validate_params(params)
        _check_text(label, "a label")
        if node_id is None:
            node_id = self.new_id(block)
        elif node_id in self.nodes:
            raise DesignError(f"a node with id {node_id!r} already exists")
        elif not node_id or len(node_id) > 100:
            raise DesignError("node ids are 1 to 100 characters")
        node = Node(node_id, block, values, (float(pos[0]), float(pos[1])), label, frozen)
        self._nodes[node_id] = node
        self._emit(DesignEvent("node_added", node_id), structural=True)
        return node

    def remove_node(self, node_id: str) -> tuple[Node, list[tuple[int, Edge]]]:
        """Remove a node and its edges; returns them (with edge positions) so undo can restore."""
        node = self.node(node_id)
        removed = [(i, e) for i, e in enumerate(self._edges) if node_id in (e.src, e.dst)]
        for _, e in reversed(removed):
            self.disconnect(e)
        del self._nodes[node_id]
        self._emit(DesignEvent("node_removed", node_id, detail=node), structural=True)
        return node, removed

    def remove_many(self, node_ids, edges=()) -> "Removal":
        """Remove nodes with their edges, and ``edges``, in one pass over the design (deleting a
        selection of thousands of nodes one by one cost a scan of the edges each); returns what
        :meth:`restore_many` needs to put everything back where it was."""
        ids = set(node_ids)
        for node_id in ids:
            self.node(node_id)  # raises for an unknown id before anything changes
        extra = set(edges)
        missing = extra - self._edges_by.edges
        if missing:
            edge = next(iter(missing))
            raise DesignError(f"there is no edge {edge.src} → {edge.dst}")
        removal = Removal(tuple(self._nodes), tuple(self._edges),
                          {n: self._nodes[n] for n in self._nodes if n in ids},
                          tuple(e for e in self._edges if e.src in ids or e.dst in ids or e in extra))
        gone = set(removal.edges)
        self._edges[:] = [e for e in self._edges if e not in gone]
        self._index = None
        self._edges_changed()
        for node_id in removal.nodes:
            del self._nodes[node_id]
        for edge in reversed(removal.edges):
            self._emit(DesignEvent("edge_removed", edge.dst, edge), structural=True)
        for node_id, node in reversed(removal.nodes.items()):
            self._emit(DesignEvent("node_removed", node_id, detail=node), structural=True)
        return removal

    def restore_many(self, removal: "Removal") -> None:
        """Undo :meth:`remove_many`: the design must be as that removal left it."""
        left = [n for n in removal.node_order if n not in removal.nodes]
        gone = set(removal.edges)
        if list(self._nodes) != left or self._edges != [e for e in removal.edges_before if e not in gone]:
            raise DesignError("the design changed since these blocks were removed; they cannot be put back")
        nodes = {n: self._nodes.get(n) or removal.nodes[n] for n in removal.node_order}
        self._nodes.clear()  # the same dict, reordered: ``nodes`` stays a view of it
        self._nodes.update(nodes)
        self._edges[:] = removal.edges_before
        self._index = None
        self._edges_changed()
        for node_id in removal.nodes:
            self._emit(DesignEvent("node_added", node_id), structural=True)
        for edge in removal.edges:
            self._emit(DesignEvent("edge_added", edge.dst, edge), structural=True)

    def restore_node(self, node: Node, index: int | None = None) -> None:
        """Put back a node object removed earlier (undo); ``index`` restores its place in the
        node order (which is the tie-break of the topological order and the file's order)."""
        if not isinstance(node, Node):
            raise DesignError(f"restore_node takes a Node, not {type(node).__name__}")
        if node.id in self._nodes:
            raise DesignError(f"a node with id {node.id!r} already exists")
        if index is None or index >= len(self._nodes):
            self._nodes[node.id] = node
        else:
            items = list(self._nodes.items())
            items.insert(index, (node.id, node))
            self._nodes.clear()  # the same dict, reordered: ``nodes`` stays a view of it
            self._nodes.update(items)
        self._emit(DesignEvent("node_added", node.id), structural=True)

    def check_connect(self, src: str, dst: str, src_port: str = "out", dst_port: str = "in",
                      check_cycle: bool = True) -> None:
        """Raise the error ``connect`` would raise, without changing anything."""
        s, d = self.node(src), self.node(dst)
        if src_port not in self.spec(s.block).outputs:
            raise PortError(f"{s.name} has no output port {src_port!r}")
        port = self.spec(d.block).input_port(dst_port)
        if port is None:
            raise PortError(f"{d.name} has no input port {dst_port!r}")
        edge = Edge(src, dst, src_port, dst_port)
        index = self._edges_by
        if edge in index.edges:
            raise PortError(f"{s.name} is already connected to {d.name}")
        if not port.multi and index.fed.get((dst, dst_port)):
            raise PortOccupiedError(f"{d.name}.{dst_port} already has an input; remove that edge first, "
                                    "or merge the two with Add or Concatenate")
        if src == dst or (check_cycle and self._reaches(dst, src)):
            raise CycleError(f"connecting {s.name} → {d.name} would make a cycle; a network must flow one way")

    def connect(self, src: str, dst: str, src_port: str = "out", dst_port: str = "in",
                index: int | None = None, check_cycle: bool = True) -> Edge:
        """Add an edge. ``check_cycle=False`` skips the search for a cycle, which costs up to
        the whole design per edge: loading a file connects every edge so and then calls
        :meth:`check_acyclic` once."""
        self.check_connect(src, dst, src_port, dst_port, check_cycle)
        edge = Edge(src, dst, src_port, dst_port)
        if index is None:
            self._edges.append(edge)
            self._edges_by.add(edge)
        else:
            self._edges.insert(index, edge)
            self._index = None  # per-node lists follow the edge order: rebuilt when next needed
        self._edges_changed()
        self._emit(DesignEvent("edge_added", dst, edge), structural=True)
        return edge

    def check_acyclic(self) -> None:
        """Raise CycleError naming a cycle, if the edges make one (one pass over the design)."""
        order = self.topological_order()
        if len(order) == len(self.nodes):
            return
        left = set(self.nodes) - set(order)
        # Every node left over has a parent left over: walking parents must come back round.
        start = next(iter(left))
        path, seen = [start], {start}
        while True:
            parent = next(e.src for e in self._edges_by.into.get(path[-1], ()) if e.src in left)
            if parent in seen:
                cycle = path[path.index(parent):][::-1]
                break
            path.append(parent)
            seen.add(parent)
        names = " → ".join(self.nodes[n].name for n in cycle + cycle[:1])
        raise CycleError(f"the edges make a cycle ({names}); a network must flow one way")

    def disconnect(self, edge: Edge) -> int:
        """Remove an edge; returns its position (edge order is the input order of Concat)."""
        try:
            index = self._edges.index(edge)
        except ValueError:
            raise DesignError(f"there is no edge {edge.src} → {edge.dst}") from None
        del self._edges[index]
        self._index = None
        self._edges_changed()
        self._emit(DesignEvent("edge_removed", edge.dst, edge), structural=True)
        return index

    def set_params(self, node_id: str, changes: dict) -> dict:
        """Set some parameters (validated); returns the previous values of those changed."""
        node = self.node(node_id)
        values = self.spec(node.block).validate_params({**node.params, **changes})
        old = {k: node.params[k] for k in changes if node.params.get(k) != values[k]}
        if old:
            node._replace_params(values)  # a new mapping: caches keyed on it see the edit
            self._emit(DesignEvent("params_changed", node_id, detail=old))
        return old

    def set_param(self, node_id: str, name: str, value) -> dict:
        return self.set_params(node_id, {name: value})

    def move(self, node_id: str, pos) -> None:
        node = self.node(node_id)
        node.pos = (float(pos[0]), float(pos[1]))
        self._emit(DesignEvent("node_moved", node_id))

    def set_label(self, node_id: str, label: str) -> None:
        node = self.node(node_id)
        _check_text(label, "a label")
        node.label = label
        self._emit(DesignEvent("node_changed", node_id))

    def set_frozen(self, node_id: str, frozen: bool) -> None:
        self.node(node_id).frozen = bool(frozen)
        self._emit(DesignEvent("node_changed", node_id))

    def set_meta(self, **changes) -> None:
        unknown = set(changes) - {"name", "num_classes", "notes"}
        if unknown:  # checked before anything is set: a refused edit changes nothing
            raise DesignError(f"unknown design property {', '.join(map(repr, sorted(unknown)))}")
        if "name" in changes:
            _check_text(changes["name"], "a design name")
        for key, value in changes.items():
            setattr(self, key, value)
        self._emit(DesignEvent("meta_changed", detail=changes))

    def add_composite(self, definition: CompositeDefinition) -> None:
        self.composites[definition.key] = definition
        self._emit(DesignEvent("meta_changed", detail={"composites": definition.key}), structural=True)

    def replace_with(self, other: "Design", take: bool = False) -> None:
        """Take over another design's content (open file, undo of big edits); listeners stay.
        The nodes are copied, unless ``take``: then ``other`` is given away (a design just read
        from a file or built from a template, which no one else holds) and its nodes are used as
        they are (a deep copy of 20,000 nodes cost 0.65 s)."""
        self.name, self.num_classes, self.notes = other.name, other.num_classes, other.notes
        nodes = dict(other._nodes) if take else copy.deepcopy(other._nodes)
        self._nodes.clear()
        self._nodes.update(nodes)
        self._edges[:] = other._edges
        self._edges_changed()
        self._index = None
        self.composites = dict(other.composites)
        self._emit(DesignEvent("reset"), structural=True)

    def copy(self) -> "Design":
        """A deep copy without listeners (training snapshots, undo)."""
        clone = Design(self.name, self.num_classes, self.notes)
        clone._nodes.update(copy.deepcopy(self._nodes))
        clone._edges[:] = self._edges
        clone._edges_changed()
        clone.composites = dict(self.composites)
        clone._counter = itertools.count(len(self.nodes) + 1)
        return clone

    # -- invariants ----------------------------------------------------------------------
    def lint(self, acyclic_checked: bool = False) -> None:
        """Check every invariant of the model and raise :class:`LintError` naming the first one
        broken (as ``torch.fx.Graph.lint``): node ids are texts equal to their keys, each node's
        params are a read-only mapping that its block's spec validates unchanged, edges join
        existing nodes and ports, appear once, an input port that takes one edge has at most one,
        the edges make no cycle, the private edge index and edge tuple agree with the edge list,
        and the inner design of every user block lints too. The mutation methods keep all of
        these; a design that fails is a bug (or a file :mod:`persistence` refuses).
        ``acyclic_checked``: the caller has just checked this design and every user block's for
        cycles (the loader does, naming the file's place): they are not walked again.
        The checks are in :mod:`engine.design_lint`."""
        design_lint.lint(self, acyclic_checked)

    def _lint_own(self) -> None:
        """The invariants of this design's own nodes and edges (not those inside its blocks)."""
        design_lint.lint_own(self)

    def _lint_acyclic(self) -> None:
        design_lint.lint_acyclic(self)

    # -- helpers -------------------------------------------------------------------------
    def ancestors(self, targets) -> set[str]:
        """The nodes whose values ``targets`` depend on, the targets included."""
        parents: dict[str, list[str]] = {}
        for e in self._edges:
            parents.setdefault(e.dst, []).append(e.src)
        seen, stack = set(), list(targets)
        while stack:
            n = stack.pop()
            if n not in seen:
                seen.add(n)
                stack.extend(parents.get(n, ()))
        return seen

    def _reaches(self, start: str, goal: str) -> bool:
        out = self._edges_by.out
        stack, seen = [start], set()
        while stack:
            n = stack.pop()
            if n == goal:
                return True
            if n not in seen:
                seen.add(n)
                stack.extend(e.dst for e in out.get(n, ()))
        return False

    def chain(self, *steps: tuple[str, dict] | str, after: str | None = None, spacing: float = 140.0) -> list[str]:
        """Append blocks one after another (templates and tests): ``chain(("conv2d", {...}), "relu")``."""
        ids = []
        prev = after
        x0 = self.nodes[after].pos[0] + spacing if after else 0.0
        for i, step in enumerate(steps):
            block, params = (step, {}) if isinstance(step, str) else step
            node = self.add_node(block, params, pos=(x0 + i * spacing, 0.0))
            if prev is not None:
                self.connect(prev, node.id)
            prev = node.id
            ids.append(node.id)
        return ids
