"""Wrapping a long series of units into columns side by side."""
from __future__ import annotations

from bisect import bisect_right

from .sizes import Sizes
from .units import Graph, Layered, Leaf, Parallel, Stack, arrange

STAGE_BREAK_COST = 0.9  # a column break inside a stage is worth 10 % of the size at Fit
COLUMN_COST = 0.99  # fewer columns when it costs nothing
STAGE_UNITS = 300  # above this many units in the main series, columns are packed without stages


def unit_nodes(unit) -> list[str]:
    if isinstance(unit, Leaf):
        return [unit.node] + [n for s in unit.outs + unit.ins for u in s.units for n in unit_nodes(u)]
    if isinstance(unit, Parallel):
        return [n for b in unit.branches if b is not None for u in b.units for n in unit_nodes(u)]
    if isinstance(unit, Layered):
        return list(unit.cells)
    return [n for u in unit.units for n in unit_nodes(u)]


def breaks(g: Graph, units: list) -> list[bool]:
    """breakable[i]: one edge at most leads from units[..i] to units[i+1..]."""
    where = {n: i for i, u in enumerate(units) for n in unit_nodes(u)}
    diff = [0] * (len(units) + 1)
    for (src, dst) in g.edge_rank:
        a, b = where.get(src), where.get(dst)
        if a is not None and b is not None and a < b:
            diff[a] += 1
            diff[b] -= 1
    out, running = [], 0
    for i in range(len(units)):
        running += diff[i]
        out.append(running <= 1)
    return out


class Packer:
    """Packs the units into columns of at most ``limit`` rows, cutting only where allowed. Without
    side branches a column's height is a sum of rows (prefix sums); otherwise it is stacked."""

    def __init__(self, units, breakable, sizes: Sizes):
        self.units, self.breakable, self.sizes = units, breakable, sizes
        self.simple = not any(isinstance(u, Leaf) and (u.outs or u.ins) for u in units)
        self.prefix = [0]
        for u in units:
            self.prefix.append(self.prefix[-1] + u.rows)
        self.last_break: list[int] = []  # last i' <= i where a break after units[i'] is allowed (or -1)
        for i, ok in enumerate(breakable):
            self.last_break.append(i if ok else (self.last_break[-1] if i else -1))

    def pack(self, limit: int) -> list[tuple[int, int]] | None:
        """Greedy: each column as long as it fits ``limit`` rows, cut at the last allowed break."""
        return self._pack_sums(limit) if self.simple else self._pack_stacked(limit)

    def _pack_sums(self, limit: int):
        cols, start, n, prefix = [], 0, len(self.units), self.prefix
        while start < n:
            end = bisect_right(prefix, prefix[start] + limit) - 1  # units[start:end] fit
            if end >= n:
                cols.append((start, n))
                break
            if end <= start:
                return None
            cut = self.last_break[end - 1]
            if cut < start:
                return None
            cols.append((start, cut + 1))
            start = cut + 1
        return cols

    def _pack_stacked(self, limit: int):
        units, breakable, n = self.units, self.breakable, len(self.units)
        cols, start = [], 0
        while start < n:
            stack = Stack(self.sizes)
            last_ok, i = None, start
            while i < n:
                stack.add(units[i])
                if stack.height > limit:
                    break
                if i == n - 1 or (breakable[i] and stack.closed):
                    last_ok = i
                i += 1
            if i == n:
                cols.append((start, n))
                break
            if last_ok is None:
                return None
            cols.append((start, last_ok + 1))
            start = last_ok + 1
        return cols

    def height(self, a: int, b: int) -> int:
        if self.simple:
            return self.prefix[b] - self.prefix[a]
        return arrange(self.units[a:b], self.sizes)[1]


def prefer_stages(units, breakable, preferred, limit: int, count: int, sizes: Sizes):
    """Among packings into at most ``count`` columns of at most ``limit`` rows, one with the fewest
    breaks that are not at a stage boundary, and that number (None when there is none)."""
    n = len(units)
    # covered units -> {columns used: (cost, cuts)}, keeping only states no other state beats
    # with fewer columns at no higher cost.
    best: dict[int, dict[int, tuple[int, tuple]]] = {0: {0: (0, ())}}
    for start in range(n):
        for used, (cost, cuts) in sorted(best.get(start, {}).items()):
            if used >= count:
                continue
            stack = Stack(sizes)
            for i in range(start, n):
                stack.add(units[i])
                if stack.height > limit:
                    break
                if i == n - 1 or (breakable[i] and stack.closed):
                    c = cost + (0 if i == n - 1 or preferred[i] else 1)
                    states = best.setdefault(i + 1, {})
                    if any(u <= used + 1 and old[0] <= c for u, old in states.items()):
                        continue
                    for u in [u for u, old in states.items() if u >= used + 1 and old[0] >= c]:
                        del states[u]
                    states[used + 1] = (c, cuts + (i + 1,))
    if not best.get(n):
        return None
    cost, cuts = min(best[n].values())
    edges = (0,) + cuts
    return [(edges[k], edges[k + 1]) for k in range(len(edges) - 1)], cost


class Columns:
    def __init__(self, packer: Packer, cols):
        units, sizes = packer.units, packer.sizes
        self.units, self.cols, self.s = units, cols, sizes
        self.heights, self.extents = [], []
        for a, b in cols:
            part = units[a:b]
            self.heights.append(packer.height(a, b))
            self.extents.append((max(u.left for u in part), max(u.right for u in part)))
        self.anchors = [self.extents[0][0]]
        for c in range(1, len(cols)):
            step = 2 * max(self.extents[c - 1][1], self.extents[c][0]) + sizes.lane
            self.anchors.append(self.anchors[-1] + step)

    @property
    def width(self) -> float:
        return self.anchors[-1] + self.extents[-1][1]

    @property
    def height(self) -> float:
        return max(self.heights) * self.s.row - self.s.row_gap

    @property
    def zoom(self) -> float:
        s = self.s
        return min(1.0, s.view[0] / (self.width + 2 * s.margin), s.view[1] / (self.height + 2 * s.margin))


def wrap(g: Graph, units: list, sizes: Sizes, preferred: list[bool]) -> Columns:
    n = len(units)
    packer = Packer(units, breaks(g, units), sizes)
    one = Columns(packer, [(0, n)])
    if one.zoom >= sizes.good_zoom or n < 2:
        return one
    max_width = sizes.view[0] / sizes.min_zoom - 2 * sizes.margin
    lowest, total = max(u.rows for u in units), max(one.heights)
    best = one
    candidates: list[Columns] = [one]
    for count in range(2, n + 1):
        lo, hi, found = lowest, total, None
        while lo <= hi:  # the shortest column height that packs into `count` columns
            mid = (lo + hi) // 2
            cols = packer.pack(mid)
            if cols is not None and len(cols) <= count:
                found, hi = cols, mid - 1
            else:
                lo = mid + 1
        if found is None or len(found) < count:  # no gain from more columns (breaks are too rare)
            break
        layout = Columns(packer, found)
        if layout.width > max_width:
            break
        candidates.append(layout)
        if layout.zoom > best.zoom + 1e-9:
            best = layout
        if layout.zoom >= 1.0:
            break
    if n > STAGE_UNITS:  # the fewest columns that are (almost) as large as the best
        return next(c for c in candidates if c.zoom >= best.zoom * 0.97)
    # Stages side by side: each break that is not at a stage boundary costs a little size.
    chosen, score = best, 0.0
    for layout in candidates:
        if layout.zoom < best.zoom * 0.8 or len(layout.cols) == 1:
            continue
        limit = max(layout.heights)
        for rows in range(limit, limit + 4):
            found = prefer_stages(units, packer.breakable, preferred, rows, len(layout.cols), sizes)
            if found is None:
                continue
            option = Columns(packer, found[0])
            value = option.zoom * STAGE_BREAK_COST ** found[1] * COLUMN_COST ** len(found[0])
            if value > score + 1e-9:
                chosen, score = option, value
    return chosen


