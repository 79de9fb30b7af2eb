"""The invariants of the design model, checked as ``torch.fx.Graph.lint`` checks a graph.

:meth:`engine.graph.Design.lint` runs these. The mutation methods of ``Design`` keep every
invariant, so a design that fails is a bug in the engine (or a file that :mod:`persistence`
refuses); the checks read the design's private state, which they exist to verify.
"""
from __future__ import annotations

from types import MappingProxyType
from typing import TYPE_CHECKING

from . import blocks
from .edge_index import Edge, EdgeIndex
from .errors import CycleError, DesignError
from .node import Node

if TYPE_CHECKING:
    from .graph import Design


class LintError(DesignError):
    """A broken invariant of the design model (:meth:`Design.lint`): a bug, not a user error."""


def lint(design: Design, acyclic_checked: bool = False) -> None:
    """Raise :class:`LintError` naming the first invariant ``design`` or one of its user blocks'
    inner designs breaks (see :meth:`Design.lint`)."""
    # A worklist, not recursion: a file may hold thousands of blocks, each using the next.
    todo: list[tuple[Design, str]] = [(design, "")]
    linted, tables = {id(design)}, set()
    for inner, where in todo:  # appended to while walked
        try:
            inner._lint_own()
            if not acyclic_checked:
                inner._lint_acyclic()
        except LintError as e:
            raise LintError(f"{where}{e}") from None
        if id(inner.composites) in tables:
            continue  # inner designs share their owner's table of blocks: walk it once
        tables.add(id(inner.composites))
        for key, definition in inner.composites.items():
            if definition.key != key:
                raise LintError(f"{where}the user block {key!r} is defined under the key {definition.key!r}")
            if id(definition.design) not in linted:
                linted.add(id(definition.design))
                todo.append((definition.design, f"in the user block {key!r}: "))


def lint_own(design: Design) -> None:
    """The invariants of this design's own nodes and edges (not those inside its blocks)."""
    nodes = design._nodes
    if type(design._nodes_view) is not MappingProxyType or design._nodes_view != nodes:
        raise LintError("the nodes view is not a read-only view of the nodes")
    specs: dict[str, blocks.BlockSpec] = {}
    # validate_params is a pure function of the spec and the values: nodes with the same block
    # and the same values (every ReLU, every "conv 3×3, 64") are validated once per lint. Only
    # scalars of one exact type are keys, so 1, 1.0 and True are never taken for each other.
    validated: dict[tuple, dict] = {}
    for key, node in nodes.items():
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
                spec = specs[node.block] = design.spec(node.block)
            except DesignError as e:
                raise LintError(f"node {key!r}: {e}") from None
        params = dict(node.params)
        memo = _memo_key(node.block, params)
        values = validated.get(memo) if memo is not None else None
        if values is None:
            try:
                values = spec.validate_params(params)
            except DesignError as e:
                raise LintError(f"node {key!r}: {e}") from None
            if memo is not None:
                validated[memo] = values
        if values != params:
            changed = sorted(set(values) ^ set(params) | {k for k in values if k in params and values[k] != params[k]})
            raise LintError(f"node {key!r}: params {', '.join(map(repr, changed))} are not what its spec "
                            f"validates them to ({params} → {values})")
        if node._values != tuple(params.values()):
            raise LintError(f"node {key!r}: the values the analysis keys on are not its params' values")
    edges = design._edges
    seen: set[Edge] = set()
    fed: set[tuple[str, str]] = set()
    for i, edge in enumerate(edges):
        if type(edge) is not Edge:
            raise LintError(f"{_where(i, edge)} is a {type(edge).__name__}, not an Edge")
        for end in (edge.src, edge.dst):
            if end not in nodes:
                raise LintError(f"{_where(i, edge)} refers to node {end!r}, which does not exist")
        if edge.src_port not in specs[nodes[edge.src].block].outputs:
            raise LintError(f"{_where(i, edge)}: {edge.src!r} has no output port {edge.src_port!r}")
        port = specs[nodes[edge.dst].block].input_port(edge.dst_port)
        if port is None:
            raise LintError(f"{_where(i, edge)}: {edge.dst!r} has no input port {edge.dst_port!r}")
        if edge in seen:
            raise LintError(f"{_where(i, edge)} appears twice")
        seen.add(edge)
        if not port.multi:
            if (edge.dst, edge.dst_port) in fed:
                raise LintError(f"{_where(i, edge)}: {edge.dst}.{edge.dst_port} takes one input and has several")
            fed.add((edge.dst, edge.dst_port))
    if design._edges_tuple is not None and design._edges_tuple != tuple(edges):
        raise LintError("the edges tuple does not match the edge list")
    index = design._index
    if index is not None:
        fresh = EdgeIndex(edges)
        for part in ("edges", "into", "out", "fed"):
            if getattr(index, part) != getattr(fresh, part):
                raise LintError(f"the edge index ({part}) does not match the edge list")


def _where(i: int, edge) -> str:
    """Which edge is broken, written only when one is (a repr per edge was a tenth of a lint)."""
    return f"edges[{i}] ({edge!r})"


_SCALARS = frozenset({int, float, str, bool, type(None)})


def _memo_key(block: str, params: dict) -> tuple | None:
    """A key equal only for the same block and values of the same exact types (None when a
    value is not a plain scalar: a list, a tuple that could hold 1 or True, ...)."""
    key: list = [block]
    for name, value in params.items():
        kind = type(value)
        if kind not in _SCALARS:
            return None
        key += (name, kind, value)
    return tuple(key)


def lint_acyclic(design: Design) -> None:
    try:
        design.check_acyclic()
    except CycleError as e:
        raise LintError(str(e)) from None
