"""Automatic layout of a design, drawn the way papers draw networks.

A design is read as a *series* of units from its input down to its output. A unit is one node
(a *leaf*, with any side branch that leaves it and never comes back, such as GoogLeNet's auxiliary
heads, placed beside it), or a *parallel* region between a node where branches fork and the node
where they join (an opened residual block, an inception module): the branches stand side by side
in the order of the join's inputs, each in its own column, and a direct fork→join edge (an identity
shortcut) gets a free lane of its own. Shorter branches are stretched so every branch starts one
row below the fork and ends one row above the join. Anything that is not series-parallel falls
back to a layered arrangement of its own.

A long series is wrapped into columns placed left to right, breaking only where a single edge
leads on, preferably where the feature map changes size (a new stage), with as many columns as
make the whole design largest on a landscape canvas. The edge from the bottom of one column to
the top of the next runs up the free lane halfway between them (see :func:`edge_route`).

Every edge then runs where no node is: between two rows, straight down a branch's column, or in a
lane. Positions are top-left corners of node boxes of one size (:class:`Sizes`). Pure arithmetic on
the design: no Qt, no torch.
"""
from __future__ import annotations

from ..graph import Design
from .columns import STAGE_UNITS, wrap as wrap_columns
from .placing import Placer
from .sizes import Sizes, edge_route
from .units import Builder, Graph, Leaf, Series

__all__ = ["Sizes", "auto_layout", "layout_opened", "edge_route", "stage_starts", "sizes_for", "lay_out"]


def sizes_for(design: Design, style: str | None = None) -> Sizes:
    """Layout geometry for the node style the canvas draws ``design`` in (by its size when None)."""
    from .node_style import node_size, style_for
    width, height = node_size(style or style_for(len(design.nodes)))
    return Sizes(node_width=width, node_height=height)


def lay_out(design: Design) -> None:
    """Move every node where the app's Auto Layout puts it (templates and imports written by
    the command line open laid out as the app lays them out)."""
    for node_id, pos in auto_layout(design, None, sizes_for(design)).items():
        design.move(node_id, pos)


def stage_starts(design: Design, heads: list[str | None]) -> list[bool]:
    """preferred[i]: a new stage starts after unit i (the feature map changes size there)."""
    from ..analysis import analyze
    report = analyze(design)

    def spatial(node_id):
        nr = report.nodes.get(node_id)
        shape = nr.shape if nr is not None else None
        return None if shape is None else tuple(shape[1:]) if len(shape) > 1 else ("flat",)
    shapes = [spatial(n) if n is not None else None for n in heads]
    return [i + 1 < len(shapes) and shapes[i] is not None and shapes[i + 1] is not None
            and shapes[i] != shapes[i + 1] for i in range(len(shapes))]


def _head(unit) -> str | None:
    if isinstance(unit, Leaf):
        return unit.node
    return None


def auto_layout(design: Design, node_ids=None, sizes: Sizes = Sizes(), wrap: bool = True
                ) -> dict[str, tuple[float, float]]:
    """New positions (top-left corners) for ``node_ids`` (every node when None).

    The whole design is wrapped into columns (``wrap``) starting at (0, 0). A subset is laid out
    as one column where it stands: its top edge and its centre line stay put."""
    ids = set(design.nodes) if node_ids is None else {n for n in node_ids if n in design.nodes}
    if not ids:
        return {}
    g = Graph(design, ids)
    builder = Builder(g, sizes)
    try:
        series = builder.series(ids)
    except RecursionError:
        series = builder.measure_series(Series([builder.layered(g.order)]))
    placer = Placer(sizes)
    if node_ids is None and wrap:
        units = series.units
        preferred = stage_starts(design, [_head(u) for u in units]) if len(units) <= STAGE_UNITS else []
        columns = wrap_columns(g, units, sizes, preferred)
        for (a, b), x in zip(columns.cols, columns.anchors):
            placer.series(Series(units[a:b]), x, 0)
    else:
        placer.series(series, 0.0, 0)
    _place_leftovers(design, ids, placer, sizes)
    left = min(x for x, _y in placer.pos.values())
    top = min(y for _x, y in placer.pos.values())
    if node_ids is None:  # the design's top-left corner at (0, 0)
        dx, dy = -left, -top
    else:  # where the nodes stood: the same top edge, the node column on their centre line
        xs = [design.nodes[n].pos[0] for n in ids]
        dx = (min(xs) + max(xs)) / 2 + sizes.node_width / 2
        dy = min(design.nodes[n].pos[1] for n in ids) - top
    return {n: (round(x + dx, 1), round(y + dy, 1)) for n, (x, y) in placer.pos.items()}


def layout_opened(design: Design, inner_ids, top_left, sizes: Sizes = Sizes(), with_source: bool = False
                  ) -> dict[str, tuple[float, float]]:
    """Positions for the nodes of an opened composite: its first row at ``top_left``'s height and
    its node column where the closed block stood. The node feeding it is the fork its branches
    leave from (an identity shortcut is the lane beside the main branch); ``with_source`` places
    that node too, in the first row, above the block's own nodes."""
    inner = {n for n in inner_ids if n in design.nodes}
    if not inner:
        return {}
    sources = {e.src for e in design.edges if e.dst in inner and e.src not in inner}
    fork = next(iter(sources)) if len(sources) == 1 else None
    ids = inner | {fork} if fork is not None else inner
    g = Graph(design, ids)
    builder = Builder(g, sizes)
    try:
        series = builder.series(ids, first=fork)
        units = series.units
        if fork is not None and not (units and isinstance(units[0], Leaf) and units[0].node == fork
                                     and not units[0].outs and not units[0].ins):
            fork, units = None, builder.series(inner).units
    except RecursionError:
        fork, units = None, [builder.layered(g.sort(inner))]
    if fork is not None and not with_source:
        units = units[1:]
    placer = Placer(sizes)
    placer.series(builder.measure_series(Series(units)), 0.0, 0)
    keep = inner | ({fork} if fork is not None and with_source else set())
    _place_leftovers(design, keep, placer, sizes)
    placed = {n: p for n, p in placer.pos.items() if n in keep}
    top = min(y for _x, y in placed.values())
    x0 = top_left[0] + sizes.node_width / 2
    return {n: (round(x + x0, 1), round(y - top + top_left[1], 1)) for n, (x, y) in placed.items()}


def _place_leftovers(design: Design, ids, placer: Placer, sizes: Sizes) -> None:
    """Any node the decomposition missed (it should not happen) goes in a row below the rest."""
    missing = [n for n in design.nodes if n in ids and n not in placer.pos]
    if not missing:
        return
    bottom = max((y for _x, y in placer.pos.values()), default=-sizes.row) + sizes.row
    for i, n in enumerate(missing):
        placer.pos[n] = (i * (sizes.node_width + sizes.lane), bottom)


