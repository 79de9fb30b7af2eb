"""Placing units: the positions of their nodes, with short branches stretched to their region."""
from __future__ import annotations

from .sizes import Sizes
from .units import Layered, Leaf, Parallel, Series, arrange


class Placer:
    def __init__(self, sizes: Sizes):
        self.s = sizes
        self.pos: dict[str, tuple[float, float]] = {}

    def node(self, node: str, x_centre: float, row: float) -> None:
        self.pos[node] = (x_centre - self.s.node_width / 2, row * self.s.row)

    def series(self, series: Series, x: float, row: int, target: int | None = None) -> None:
        units = series.units
        if not units:
            return
        starts, height = arrange(units, self.s)
        target = height if target is None else max(target, height)
        extra = target - height
        if len(units) == 1:
            self.unit(units[0], x, row + starts[0], units[0].rows + extra)
            return
        gaps = len(units) - 1
        shift = 0
        for i, (u, start) in enumerate(zip(units, starts)):
            if i:
                shift += extra // gaps + (1 if i <= extra % gaps else 0)
            self.unit(u, x, row + start + shift, u.rows)

    def unit(self, unit, x: float, row: int, target: int) -> None:
        s = self.s
        if isinstance(unit, Leaf):
            self.node(unit.node, x, row)
            cursor = x + s.node_width / 2
            for side in unit.outs:
                self.series(side, cursor + s.branch_gap + side.left, row + 1)
                cursor += s.branch_gap + side.left + side.right
            cursor = x - s.node_width / 2
            for side in unit.ins:
                self.series(side, cursor - s.branch_gap - side.right, row - side.rows)
                cursor -= s.branch_gap + side.left + side.right
        elif isinstance(unit, Parallel):
            for branch, offset in zip(unit.branches, unit.offsets):
                if branch is not None:
                    self.series(branch, x + offset, row, max(target, unit.rows))
        elif isinstance(unit, Layered):
            for n, (dx, r) in unit.cells.items():
                self.node(n, x + dx, row + r)
        elif isinstance(unit, Series):
            self.series(unit, x, row, target)


