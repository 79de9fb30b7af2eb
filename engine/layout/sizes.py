"""The geometry of the layout: sizes and gaps, and the path of an edge that has to go up."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Sizes:
    """Geometry of the layout, in canvas units."""

    node_width: float = 240.0  # the box the canvas draws a node in
    node_height: float = 72.0
    row_gap: float = 50.0  # between rows: the edge's shape label sits here
    branch_gap: float = 30.0  # between side-by-side branches
    lane: float = 90.0  # a free vertical lane (identity shortcut, edge to the next column): fits a label
    view: tuple[float, float] = (1000.0, 700.0)  # the canvas the wrapping is shaped for
    margin: float = 40.0  # around the design when it is fitted to the view
    good_zoom: float = 0.75  # a single column readable at this zoom stays a single column
    min_zoom: float = 0.5  # the layout is never wider than the view at this zoom

    @property
    def row(self) -> float:
        return self.node_height + self.row_gap


def edge_route(start: tuple[float, float], end: tuple[float, float], drop: float = 20.0,
               detour: float = 165.0) -> list[tuple[float, float]] | None:
    """The corner points of an edge that has to go up (from an output port at ``start`` to an
    input port at ``end`` not far enough below it), or None for an edge going down (drawn as a
    curve). It leaves downwards by ``drop``, runs to the vertical lane halfway between the two
    ports (between two columns of the layout), up that lane and into the input from above. Ports
    about one above the other take a lane ``detour`` to the right instead (beside the nodes)."""
    (sx, sy), (ex, ey) = start, end
    if ey - sy >= 2 * drop or (ey - sy > 4 and abs(ex - sx) < detour):
        return None  # going down (a node taller than its slot, one with an error, leaves a short gap)
    mx = (sx + ex) / 2
    if abs(ex - sx) < 2 * detour - 1:
        mx = max(sx, ex) + detour
    return [(sx, sy), (sx, sy + drop), (mx, sy + drop), (mx, ey - drop), (ex, ey - drop), (ex, ey)]

