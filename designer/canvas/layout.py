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
DETOUR = NODE_WIDTH / 2 + engine_layout.Sizes().lane / 2  # an up-going edge's lane beside the nodes


sizes_for = engine_layout.sizes_for  # the node box per style: the engine's, so the CLI lays out alike


def layered_layout(design: Design, node_ids=None, style: str | None = None) -> dict[str, tuple[float, float]]:
    """New positions (top-left corners) for ``node_ids`` (every node when None, wrapped into
    columns to fill a landscape canvas). A subset is laid out as one column where it stands."""
    return engine_layout.auto_layout(design, node_ids, sizes_for(design, style))


def edge_path(start: QPointF, end: QPointF) -> QPainterPath:
    """The drawn path of an edge between two ports (see :func:`edge_path_and_middle`)."""
    return edge_path_and_middle(start, end)[0]


def edge_path_and_middle(start: QPointF, end: QPointF) -> tuple[QPainterPath, QPointF]:
    """The drawn path of an edge from an output port at ``start`` to an input port at ``end``:
    an S-curve going down, or square with rounded bends up a lane when the input is not below;
    and the point halfway along it (where the shape label goes)."""
    sx, sy, ex, ey = start.x(), start.y(), end.x(), end.y()
    route = engine_layout.edge_route((sx, sy), (ex, ey), detour=DETOUR)
    path = QPainterPath(start)
    if route is None:
        dy = max(40.0, abs(ey - sy) / 2)
        path.cubicTo(sx, sy + dy, ex, ey - dy, ex, ey)
        # The S-curve is symmetric about its centre: halfway along it is the middle of its ends
        # (QPainterPath.pointAtPercent measures the curve: a third of re-routing an edge).
        return path, (start + end) / 2
    points = [QPointF(x, y) for x, y in route]
    for before, corner, after in zip(points, points[1:], points[2:]):
        r = min(CORNER, _dist(before, corner) / 2, _dist(corner, after) / 2)
        path.lineTo(_towards(corner, before, r))
        path.quadTo(corner, _towards(corner, after, r))
    path.lineTo(points[-1])
    return path, path.pointAtPercent(0.5)


def _dist(a: QPointF, b: QPointF) -> float:
    return abs(a.x() - b.x()) + abs(a.y() - b.y())  # the route is axis-aligned


def _towards(corner: QPointF, other: QPointF, r: float) -> QPointF:
    d = _dist(corner, other)
    if d == 0:
        return QPointF(corner)
    return QPointF(corner.x() + (other.x() - corner.x()) * r / d, corner.y() + (other.y() - corner.y()) * r / d)
