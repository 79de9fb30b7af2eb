"""Opening a composite block into its primitive blocks, closing it again, and grouping a
selection into a new reusable block. Pure edits of a (working copy of a) design, no Qt: the
designer's document wraps each in one undo step.

The inside of a composite is its spec's ``expand(params, input_shapes)``; a group is
``define_from_selection``. This module only re-wires the edges around them, keeping the order
of edges into Concatenate/Add (that order is their input order), and places an opened block's
nodes with ``engine.layout`` at the node size the canvas draws the design in.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .blocks import ShapeProblem
from .errors import DesignError
from .graph import Design, Edge
from .layout import layout_opened, sizes_for
from .user_blocks import define_from_selection

if TYPE_CHECKING:
    from .analysis import Report


@dataclass
class OpenComposite:
    """What is needed to fold an opened composite back: the original node and its inside."""

    node_id: str
    block: str
    params: dict
    pos: tuple
    label: str
    frozen: bool
    inner_ids: list[str]
    inner: dict = field(default_factory=dict)  # id -> (block, params) as expanded
    inner_edges: frozenset = frozenset()
    exit_id: str = ""
    moved: dict = field(default_factory=dict)  # other node -> position it was moved to, from where

    def is_present(self, design: Design) -> bool:
        return any(i in design.nodes for i in self.inner_ids)

    def is_unchanged(self, design: Design) -> bool:
        if any(i not in design.nodes for i in self.inner_ids):
            return False
        if any((design.nodes[i].block, design.nodes[i].params) != self.inner[i] for i in self.inner_ids):
            return False
        ids = set(self.inner_ids)
        edges = frozenset(e for e in design.edges if e.src in ids and e.dst in ids)
        return edges == self.inner_edges


def _sorted_inputs(design: Design, node_id: str) -> list[Edge]:
    ports = [p.name for p in design.spec(design.node(node_id).block).inputs]
    return sorted(design.incoming(node_id), key=lambda e: ports.index(e.dst_port) if e.dst_port in ports else 99)


def _reroute_outputs(design: Design, old_src: str, new_src: str, keep=None) -> None:
    """Move the edges leaving ``old_src`` (to nodes not in ``keep``) so they leave ``new_src``,
    each at its old place in the edge list."""
    keep = keep or set()
    for e in [e for e in design.outgoing(old_src) if e.dst not in keep]:
        port = design.spec(design.node(e.dst).block).input_port(e.dst_port)
        if port is not None and port.multi:
            design.connect(new_src, e.dst, "out", e.dst_port, index=design.edges.index(e))
            design.disconnect(e)
        else:
            index = design.disconnect(e)
            design.connect(new_src, e.dst, "out", e.dst_port, index=index)


def expand(design: Design, node_id: str, report: Report) -> OpenComposite:
    """Replace a composite node by the blocks it is made of, as its spec expands it for the
    input shapes in ``report`` (the design's current analysis)."""
    node = design.node(node_id)
    spec = design.spec(node.block)
    if spec.expand is None:
        raise DesignError(f"{spec.title} is a primitive block; only composite blocks can be opened")
    in_edges = _sorted_inputs(design, node_id)
    shapes = [report.nodes[e.src].shape if e.src in report.nodes else None for e in in_edges]
    known = [s for s in shapes if s is not None]
    if not in_edges or len(known) < len(shapes):
        raise DesignError(f"'{node.name}' cannot be opened while its input shape is unknown; "
                          "connect it and fix the errors above it first")
    try:
        sub = spec.expand(dict(node.params), known)
    except ShapeProblem as e:
        raise DesignError(f"'{node.name}' cannot be opened: {e.message}") from None
    ids = {}
    for local, block, params in sub.nodes:
        ids[local] = _free_id(design, f"{node_id}.{local}")
        design.add_node(block, params, node.pos, node_id=ids[local])

    def source(name: str) -> tuple[str, str]:
        if name.startswith("$in"):
            edge = in_edges[int(name[3:])]
            return edge.src, edge.src_port
        return ids[name], "out"
    for src, dst, port in sub.edges:
        src_id, src_port = source(src)
        design.connect(src_id, ids[dst], src_port, port)
    exit_id = ids.get(sub.output)
    if exit_id is None:
        raise DesignError(f"'{node.name}' passes its input straight through; there is nothing to open")
    _reroute_outputs(design, node_id, exit_id)
    state = OpenComposite(node_id, node.block, dict(node.params), node.pos, node.label, node.frozen,
                          list(ids.values()), exit_id=exit_id)
    design.remove_node(node_id)
    state.moved = _make_room(design, list(ids.values()), node.pos)
    state.inner = {i: (design.nodes[i].block, design.nodes[i].params) for i in state.inner_ids}
    inner = set(state.inner_ids)
    state.inner_edges = frozenset(e for e in design.edges if e.src in inner and e.dst in inner)
    return state


def _make_room(design: Design, new_ids: list[str], anchor) -> dict:
    """Lay the new nodes out where the block stood (branches side by side, an identity shortcut
    in its own lane) and make room: what is below it in its column moves down, the columns
    beside it move apart. Returns {moved node: (new position, old position)}."""
    sizes = sizes_for(design)
    width, height = sizes.node_width, sizes.node_height
    new = set(new_ids)
    positions = layout_opened(design, new_ids, anchor, sizes, _pull_source(design, new, anchor, width))
    moved = {n: (positions[n], design.nodes[n].pos) for n in positions if n not in new}
    for node_id, pos in positions.items():
        design.move(node_id, pos)
    left = min(p[0] for p in positions.values())
    right = max(p[0] for p in positions.values()) + width
    bottom = max(p[1] for p in positions.values()) + height
    grow_down = max(0.0, bottom - (anchor[1] + height))
    # Columns move twice the overhang: the edge between two columns runs up the lane halfway.
    grow_left = 2 * max(0.0, anchor[0] - left)
    grow_right = 2 * max(0.0, right - (anchor[0] + width))
    for other in list(design.nodes.values()):
        if other.id in positions:
            continue
        x, y = other.pos
        if x + width <= anchor[0] + 1:
            target = (x - grow_left, y)
        elif x >= anchor[0] + width - 1:
            target = (x + grow_right, y)
        elif y > anchor[1] + 1:
            target = (x, y + grow_down)
        else:
            continue
        if target != (x, y):
            design.move(other.id, target)
            moved[other.id] = (target, (x, y))
    return moved


def _pull_source(design: Design, inner: set[str], anchor, width: float) -> bool:
    """Should the node feeding the block come along into the block's column? When the block
    starts a column, its input comes from the bottom of the previous one: with it in the column,
    the branches fork right above the block (one edge then leads from column to column)."""
    sources = {e.src for e in design.edges if e.dst in inner and e.src not in inner}
    if len(sources) != 1:
        return False
    source = design.nodes[next(iter(sources))]
    if any(e.dst not in inner for e in design.outgoing(source.id)):
        return False
    above = abs(source.pos[0] - anchor[0]) < width / 2 and source.pos[1] < anchor[1]
    return not above


def _give_room_back(design: Design, state: OpenComposite) -> None:
    """Nodes moved aside when the block was opened go back, unless they were moved since."""
    for node_id, (moved_to, was) in state.moved.items():
        node = design.nodes.get(node_id)
        if node is not None and abs(node.pos[0] - moved_to[0]) < 0.5 and abs(node.pos[1] - moved_to[1]) < 0.5:
            design.move(node_id, was)


def collapse(design: Design, state: OpenComposite) -> str:
    """Fold an opened composite back: the same block if its inside is as it was opened, else a
    new user block of what it now holds. Returns the node's id."""
    ids = [i for i in state.inner_ids if i in design.nodes]
    _give_room_back(design, state)
    if state.is_unchanged(design):
        return _replace_by_node(design, ids, state.block, state.params, state.node_id, state.pos,
                                state.label, state.frozen, exit_id=state.exit_id)
    title = f"{design.spec(state.block).title} (edited)"
    return group(design, ids, title, node_id=state.node_id, pos=state.pos)


def group(design: Design, node_ids, title: str, node_id: str | None = None, pos=None) -> str:
    """Make the nodes ``node_ids`` a new user block titled ``title`` and replace them by one
    node of it; raises DesignError when they do not make one block (one output, wired inputs)."""
    ids = [n for n in design.nodes if n in set(node_ids)]
    key = _free_key(design, title)
    definition = define_from_selection(design, ids, key, title)
    design.add_composite(definition)
    if pos is None:
        xs = [design.nodes[i].pos[0] for i in ids]
        ys = [design.nodes[i].pos[1] for i in ids]
        pos = (min(xs), min(ys))
    return _replace_by_node(design, ids, key, {}, node_id, pos)


def _replace_by_node(design: Design, ids, block: str, params: dict, node_id, pos, label="", frozen=False,
                     exit_id: str | None = None) -> str:
    inside = set(ids)
    entering = [e for e in design.edges if e.dst in inside and e.src not in inside]
    sources: list[tuple[str, str]] = []
    for e in entering:
        if (e.src, e.src_port) not in sources:
            sources.append((e.src, e.src_port))
    leaving = {e.src for e in design.edges if e.src in inside and e.dst not in inside}
    if exit_id is None or exit_id not in leaving:
        if len(leaving) != 1:
            raise DesignError(f"a block has one output, but {len(leaving)} of these nodes feed the rest "
                              "of the network")
        exit_id = next(iter(leaving))
    ports = design.spec(block).inputs
    if len(sources) != len(ports):
        raise DesignError(f"the block takes {len(ports)} input(s) but {len(sources)} sources feed these nodes")
    if node_id is None or node_id in design.nodes:
        node_id = design.new_id(block)
    new = design.add_node(block, params, pos, node_id=node_id, label=label, frozen=frozen)
    for (src, src_port), port in zip(sources, ports):
        design.connect(src, new.id, src_port, port.name)
    _reroute_outputs(design, exit_id, new.id, keep=inside)
    for i in ids:
        design.remove_node(i)
    return new.id


def _free_id(design: Design, wanted: str) -> str:
    candidate, n = wanted[:90], 2
    while candidate in design.nodes:
        candidate, n = f"{wanted[:90]}_{n}", n + 1
    return candidate


def _free_key(design: Design, title: str) -> str:
    base = "user:" + (re.sub(r"[^0-9a-z]+", "_", title.lower()).strip("_") or "block")[:60]
    key, n = base, 2
    while key in design.composites:
        key, n = f"{base}_{n}", n + 1
    return key
