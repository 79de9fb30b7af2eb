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

from . import blocks
from .errors import CycleError, DesignError, PortError, PortOccupiedError, UnknownNodeError


class Edge(NamedTuple):
    src: str
    dst: str
    src_port: str = "out"
    dst_port: str = "in"


class LintError(DesignError):
    """A broken invariant of the design model (:meth:`Design.lint`): a bug, not a user error."""


class Node:
    """One block of a design.

    ``params`` is read-only (a ``types.MappingProxyType``: writing to it raises TypeError).
    Change parameters with :meth:`Design.set_params`, which validates them, replaces the
    mapping and tells the views; the analysis recognises an edit by the mapping's identity,
    so an edit in place would leave it stale. Read it as a mapping (``node.params["kernel"]``,
    ``dict(node.params)``, ``{**node.params}``); ``dict(node.params)`` is a plain copy.
    """

    __slots__ = ("id", "block", "_params", "pos", "label", "frozen", "__weakref__")

    def __init__(self, id: str, block: str, params: Mapping[str, Any], pos: tuple[float, float] = (0.0, 0.0),
                 label: str = "", frozen: bool = False):
        self.id = id
        self.block = block
        self._params = MappingProxyType(dict(params))  # a private copy: no one else holds the dict
        self.pos = pos
        self.label = label
        self.frozen = frozen  # parameters excluded from training (transfer learning)

    @property
    def params(self) -> Mapping[str, Any]:
        return self._params

    @property
    def name(self) -> str:
        return self.label or self.id

    def _fields(self) -> tuple:
        return self.id, self.block, dict(self._params), self.pos, self.label, self.frozen

    def __eq__(self, other) -> bool:
        return self._fields() == other._fields() if isinstance(other, Node) else NotImplemented

    __hash__ = None  # mutable (pos, label, frozen), as a dataclass

    def __repr__(self) -> str:
        return (f"Node(id={self.id!r}, block={self.block!r}, params={dict(self._params)!r}, pos={self.pos!r}, "
                f"label={self.label!r}, frozen={self.frozen!r})")

    def __reduce__(self):  # pickle and copy.copy: a mapping proxy cannot be pickled itself
        return Node, self._fields()

    def __deepcopy__(self, memo) -> "Node":
        return Node(self.id, self.block, copy.deepcopy(dict(self._params), memo), self.pos, self.label, self.frozen)


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


_ID_SAFE = re.compile(r"[^0-9a-zA-Z_]+")
MAX_TEXT = 1000  # characters of a design name, a label or a block title


class _EdgeIndex:
    """Edges by node and by port, so that connecting and querying cost O(degree), not O(edges):
    a file of 20,000 layers loads in linear time. Lists keep the design's edge order."""

    def __init__(self, edges: list[Edge]):
        self.edges: set[Edge] = set()
        self.into: dict[str, list[Edge]] = {}
        self.out: dict[str, list[Edge]] = {}
        self.fed: dict[tuple[str, str], int] = {}  # (node, input port) -> edges into it
        for e in edges:
            self.add(e)

    def add(self, e: Edge) -> None:
        self.edges.add(e)
        self.into.setdefault(e.dst, []).append(e)
        self.out.setdefault(e.src, []).append(e)
        self.fed[(e.dst, e.dst_port)] = self.fed.get((e.dst, e.dst_port), 0) + 1


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
        self._index: _EdgeIndex | None = None  # built on first use; None after edits it cannot follow

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
    def _edges_by(self) -> _EdgeIndex:
        if self._index is None:
            self._index = _EdgeIndex(self._edges)
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
            node._params = MappingProxyType(values)  # a new mapping: caches keyed on it see the edit
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

    def replace_with(self, other: "Design") -> None:
        """Take over another design's content (open file, undo of big edits); listeners stay."""
        self.name, self.num_classes, self.notes = other.name, other.num_classes, other.notes
        nodes = copy.deepcopy(other._nodes)
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
    def lint(self) -> None:
        """Check every invariant of the model and raise :class:`LintError` naming the first one
        broken (as ``torch.fx.Graph.lint``): node ids are texts equal to their keys, each node's
        params are a read-only mapping that its block's spec validates unchanged, edges join
        existing nodes and ports, appear once, an input port that takes one edge has at most one,
        the edges make no cycle, the private edge index and edge tuple agree with the edge list,
        and the inner design of every user block lints too. The mutation methods keep all of
        these; a design that fails is a bug (or a file :mod:`persistence` refuses)."""
        # A worklist, not recursion: a file may hold thousands of blocks, each using the next.
        todo: list[tuple[Design, str]] = [(self, "")]
        linted, tables = {id(self)}, set()
        for design, where in todo:  # appended to while walked
            try:
                design._lint_own()
            except LintError as e:
                raise LintError(f"{where}{e}") from None
            if id(design.composites) in tables:
                continue  # inner designs share their owner's table of blocks: walk it once
            tables.add(id(design.composites))
            for key, definition in design.composites.items():
                if definition.key != key:
                    raise LintError(f"{where}the user block {key!r} is defined under the key {definition.key!r}")
                if id(definition.design) not in linted:
                    linted.add(id(definition.design))
                    todo.append((definition.design, f"in the user block {key!r}: "))

    def _lint_own(self) -> None:
        """The invariants of this design's own nodes and edges (not those inside its blocks)."""
        if type(self._nodes_view) is not MappingProxyType or self._nodes_view != self._nodes:
            raise LintError("the nodes view is not a read-only view of the nodes")
        specs: dict[str, blocks.BlockSpec] = {}
        for key, node in self._nodes.items():
            if not isinstance(node, Node):
                raise LintError(f"nodes[{key!r}] is a {type(node).__name__}, not a Node")
            if not isinstance(node.id, str) or not node.id:
                raise LintError(f"node {key!r} has the id {node.id!r}; an id is a non-empty text")
            if node.id != key:
                raise LintError(f"node {key!r} has the id {node.id!r}; a node's id must equal its key")
            if type(node.params) is not MappingProxyType:
                raise LintError(f"node {key!r}: params are a {type(node.params).__name__}, not a read-only mapping")
            spec = specs.get(node.block)
            if spec is None:
                try:
                    spec = specs[node.block] = self.spec(node.block)
                except DesignError as e:
                    raise LintError(f"node {key!r}: {e}") from None
            params = dict(node.params)
            try:
                values = spec.validate_params(params)
            except DesignError as e:
                raise LintError(f"node {key!r}: {e}") from None
            if values != params:
                changed = sorted(set(values) ^ set(params) | {k for k in values if k in params and values[k] != params[k]})
                raise LintError(f"node {key!r}: params {', '.join(map(repr, changed))} are not what its spec "
                                f"validates them to ({params} → {values})")
        seen: set[Edge] = set()
        fed: set[tuple[str, str]] = set()
        for i, e in enumerate(self._edges):
            where = f"edges[{i}] ({e!r})"
            if type(e) is not Edge:
                raise LintError(f"{where} is a {type(e).__name__}, not an Edge")
            for end in (e.src, e.dst):
                if end not in self._nodes:
                    raise LintError(f"{where} refers to node {end!r}, which does not exist")
            if e.src_port not in specs[self._nodes[e.src].block].outputs:
                raise LintError(f"{where}: {e.src!r} has no output port {e.src_port!r}")
            port = specs[self._nodes[e.dst].block].input_port(e.dst_port)
            if port is None:
                raise LintError(f"{where}: {e.dst!r} has no input port {e.dst_port!r}")
            if e in seen:
                raise LintError(f"{where} appears twice")
            seen.add(e)
            if not port.multi:
                if (e.dst, e.dst_port) in fed:
                    raise LintError(f"{where}: {e.dst}.{e.dst_port} takes one input and has several")
                fed.add((e.dst, e.dst_port))
        if self._edges_tuple is not None and self._edges_tuple != tuple(self._edges):
            raise LintError("the edges tuple does not match the edge list")
        if self._index is not None:
            fresh = _EdgeIndex(self._edges)
            for part in ("edges", "into", "out", "fed"):
                if getattr(self._index, part) != getattr(fresh, part):
                    raise LintError(f"the edge index ({part}) does not match the edge list")
        try:
            self.check_acyclic()
        except CycleError as e:
            raise LintError(str(e)) from None

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
