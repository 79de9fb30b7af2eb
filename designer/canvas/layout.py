"""Automatic layout on the canvas and the path an edge takes between two ports.

The arrangement itself is the engine's (``engine.layout``: stages side by side in columns,
branches of a block side by side, no edge under a node); this module gives it the canvas's node
size and draws edges to match: a curve for an edge that goes down, and for one that has to go up
(from the bottom of one column to the top of the next) a path up the free lane between them.
"""
from __future__ import annotations

from PySide6.QtCore import QPointF
from PySide6.QtGui import QPainterPath

from engine import layout as engine_layout
from engine.graph import Design
from engine.layout.node_style import FULL, node_size

NODE_WIDTH, NODE_HEIGHT = node_size(FULL)  # the full style's box (document.py places new nodes with it)
CORNER = 12.0  # radius of the bends of an edge that goes up


sizes_for = engine_layout.sizes_for  # the node box per style: the engine's, so the CLI lays out alike


def layered_layout(design: Design, node_ids=None, style: str | None = None) -> dict[str, tuple[float, float]]:
    """New positions (top-left corners) for ``node_ids`` (every node when None, wrapped into
    columns to fill a landscape canvas). A subset is laid out as one column where it stands."""
    return engine_layout.auto_layout(design, node_ids, sizes_for(design, style))


def opened_layout(design: Design, inner_ids, top_left, with_source: bool = False,
                  style: str | None = None) -> dict[str, tuple[float, float]]:
    """Positions for the inside of an opened block, its first row where the block stood (with
    ``with_source``, the node feeding it first, then the block's nodes)."""
    return engine_layout.layout_opened(design, inner_ids, top_left, sizes_for(design, style), with_source)


def edge_path(start: QPointF, end: QPointF) -> QPainterPath:
    """The drawn path of an edge from an output port at ``start`` to an input port at ``end``:
    an S-curve going down, or square with rounded bends up a lane when the input is not below."""
    width = NODE_WIDTH
    route = engine_layout.edge_route((start.x(), start.y()), (end.x(), end.y()),
                                     detour=width / 2 + engine_layout.Sizes().lane / 2)
    path = QPainterPath(start)
    if route is None:
        dy = max(40.0, abs(end.y() - start.y()) / 2)
        path.cubicTo(QPointF(start.x(), start.y() + dy), QPointF(end.x(), end.y() - dy), end)
        return path
    points = [QPointF(x, y) for x, y in route]
    for before, corner, after in zip(points, points[1:], points[2:]):
        r = min(CORNER, _dist(before, corner) / 2, _dist(corner, after) / 2)
        path.lineTo(_towards(corner, before, r))
        path.quadTo(corner, _towards(corner, after, r))
    path.lineTo(points[-1])
    return path


def _dist(a: QPointF, b: QPointF) -> float:
    return abs(a.x() - b.x()) + abs(a.y() - b.y())  # the route is axis-aligned


def _towards(corner: QPointF, other: QPointF, r: float) -> QPointF:
    d = _dist(corner, other)
    if d == 0:
        return QPointF(corner)
    return QPointF(corner.x() + (other.x() - corner.x()) * r / d, corner.y() + (other.y() - corner.y()) * r / d)
