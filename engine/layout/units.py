"""A design read as units: the series of nodes and parallel regions it is made of."""
from __future__ import annotations

from dataclasses import dataclass, field

from ..graph import Design
from .sizes import Sizes

_INF = float("inf")
MAX_DEPTH = 60  # nesting of regions; deeper structures fall back to the layered arrangement


class Graph:
    """The design restricted to the nodes being laid out, in topological order."""

    def __init__(self, design: Design, ids: set[str]):
        self.order = [n for n in design.topological_order() if n in ids]
        self.rank = {n: i for i, n in enumerate(self.order)}
        self.children: dict[str, list[str]] = {n: [] for n in self.order}
        self.parents: dict[str, list[str]] = {n: [] for n in self.order}
        self.edge_rank: dict[tuple[str, str], int] = {}  # first place of src→dst in the edge list
        for k, e in enumerate(design.edges):
            if e.src in ids and e.dst in ids and (e.src, e.dst) not in self.edge_rank:
                self.edge_rank[(e.src, e.dst)] = k
                self.children[e.src].append(e.dst)
                self.parents[e.dst].append(e.src)

    def sort(self, nodes) -> list[str]:
        return sorted(nodes, key=self.rank.__getitem__)

    def components(self, nodes: list[str]) -> list[list[str]]:
        """Weakly connected components of ``nodes`` (in topological order, first node first)."""
        inside = set(nodes)
        parent = {n: n for n in nodes}

        def find(n):
            while parent[n] != n:
                parent[n] = parent[parent[n]]
                n = parent[n]
            return n
        for n in nodes:
            for c in self.children[n]:
                if c in inside:
                    a, b = find(n), find(c)
                    if a != b:
                        parent[max(a, b, key=self.rank.__getitem__)] = min(a, b, key=self.rank.__getitem__)
        groups: dict[str, list[str]] = {}
        for n in nodes:
            groups.setdefault(find(n), []).append(n)
        return list(groups.values())


# -- units ----------------------------------------------------------------------------------

@dataclass(eq=False)
class Series:
    units: list = field(default_factory=list)
    rows: int = 0
    left: float = 0.0
    right: float = 0.0


@dataclass(eq=False)
class Leaf:
    node: str
    outs: list[Series] = field(default_factory=list)  # side branches leaving it (right, below)
    ins: list[Series] = field(default_factory=list)  # side branches feeding it (left, above)
    rows: int = 1
    left: float = 0.0
    right: float = 0.0
    below: int = 0  # rows of side branches below it
    above: int = 0  # rows of side branches above it


@dataclass(eq=False)
class Parallel:
    branches: list  # Series, or None for the lane of a direct fork→join edge
    offsets: list[float] = field(default_factory=list)  # each branch's centre line from the region's
    rows: int = 1
    left: float = 0.0
    right: float = 0.0


@dataclass(eq=False)
class Layered:
    """A part that is not series-parallel: layers by depth, ordered by their parents' places."""

    cells: dict[str, tuple[float, int]]  # node -> (x offset of its centre, row)
    rows: int = 1
    left: float = 0.0
    right: float = 0.0


class Builder:
    def __init__(self, g: Graph, sizes: Sizes):
        self.g, self.s = g, sizes
        self.active: set = set()

    # -- decomposition ----------------------------------------------------------------------
    def series(self, nodes: set[str], first: str | None = None, last: str | None = None,
               depth: int = 0) -> Series:
        """``nodes`` as a series of units; with ``first``/``last`` (kept in ``nodes``) the spine
        runs from ``first`` to ``last`` and their own direct edge is left to the caller."""
        g = self.g
        order = g.sort(nodes)
        if depth > MAX_DEPTH:
            return self.measure_series(Series([self.layered(order)]))
        if first is None:
            comps = g.components(order)
            if len(comps) > 1:
                parts = [u for comp in comps for u in self.series(set(comp), depth=depth + 1).units]
                return self.measure_series(Series(parts))
        spine = self._spine(order, nodes, first, last)
        at = {n: i for i, n in enumerate(spine)}
        m = len(spine)
        rest = [n for n in order if n not in at]
        intervals: list[tuple[int, int]] = []
        regions: list[tuple[int, int, list[str]]] = []
        outs: dict[int, list[list[str]]] = {}
        ins: dict[int, list[list[str]]] = {}
        for comp in g.components(rest):
            into = [at[p] for n in comp for p in g.parents[n] if p in at]
            out_of = [at[c] for n in comp for c in g.children[n] if c in at]
            if into and out_of:
                a, b = min(into), max(out_of)
                intervals.append((a, b))
                regions.append((a, b, comp))
            elif into:
                outs.setdefault(max(into), []).append(comp)
            elif out_of:
                ins.setdefault(min(out_of), []).append(comp)
            else:  # not reachable from the pinned first node: hung beside the last one
                outs.setdefault(m - 1, []).append(comp)
        for i, n in enumerate(spine):
            for c in g.children[n]:
                j = at.get(c)
                if j is not None and j > i + 1 and not (n == first and c == last):
                    intervals.append((i, j))
        cover = [0] * (m + 1)
        for a, b in intervals:
            if b - a >= 2:
                cover[a + 1] += 1
                cover[b] -= 1
        cut, running = [], 0
        for k in range(m):
            running += cover[k]
            cut.append(running == 0)
        units: list = []
        k = 0
        while k < m:
            if cut[k]:
                units.append(self._leaf(spine[k], outs.get(k, []), ins.get(k, []), depth))
                k += 1
                continue
            j = k
            while not cut[j]:
                j += 1
            fork, join = spine[k - 1], spine[j]
            inner = set(spine[k:j])
            for a, b, comp in regions:
                if a >= k - 1 and b <= j:
                    inner.update(comp)
            for idx in range(k, j):
                for comp in outs.get(idx, []) + ins.get(idx, []):
                    inner.update(comp)
            units.append(self._parallel(fork, join, inner, depth))
            k = j
        return self.measure_series(Series(units))

    def _spine(self, order: list[str], nodes: set[str], first, last) -> list[str]:
        """The longest path (by nodes): from ``first`` to ``last`` when given."""
        g = self.g
        dist: dict[str, int] = {}
        prev: dict[str, str | None] = {}
        for n in order:
            if first is not None and n == first:
                dist[n], prev[n] = 1, None
                continue
            best = None
            for p in g.parents[n]:
                if p in dist and p in nodes and not (p == first and n == last) \
                        and (best is None or dist[p] > dist[best]):
                    best = p
            if best is not None:
                dist[n], prev[n] = dist[best] + 1, best
            elif first is None:
                dist[n], prev[n] = 1, None
        if last is not None and last in dist:
            end = last
        else:
            end = max(dist, key=lambda n: (dist[n], -g.rank[n]))
        path = [end]
        while prev[path[-1]] is not None:
            path.append(prev[path[-1]])
        return path[::-1]

    def _side(self, anchor: str, comp: list[str], depth: int, incoming: bool) -> Series:
        """A side branch of ``anchor`` laid out as its own series (without the anchor)."""
        if not incoming and any(anchor in self.g.parents[n] for n in comp):
            sub = self.series(set(comp) | {anchor}, first=anchor, depth=depth + 1)
            head = sub.units[0] if sub.units else None
            if isinstance(head, Leaf) and head.node == anchor and not head.outs and not head.ins:
                return self.measure_series(Series(sub.units[1:]))
        return self.series(set(comp), depth=depth + 1)

    def _leaf(self, node: str, outs, ins, depth: int) -> Leaf:
        leaf = Leaf(node, [self._side(node, c, depth, False) for c in outs],
                     [self._side(node, c, depth, True) for c in ins])
        w, gap = self.s.node_width, self.s.branch_gap
        leaf.right = w / 2 + sum(gap + s.left + s.right for s in leaf.outs)
        leaf.left = w / 2 + sum(gap + s.left + s.right for s in leaf.ins)
        leaf.below = max((s.rows for s in leaf.outs), default=0)
        leaf.above = max((s.rows for s in leaf.ins), default=0)
        return leaf

    def _parallel(self, fork: str, join: str, inner: set[str], depth: int):
        g = self.g
        key = (fork, join, frozenset(inner))
        if key in self.active or depth > MAX_DEPTH:
            return self.layered(g.sort(inner))
        self.active.add(key)
        try:
            branches: list[tuple] = []
            for comp in g.components(g.sort(inner)):
                rank = min((g.edge_rank[(n, join)] for n in comp if (n, join) in g.edge_rank), default=_INF)
                sub = self.series(set(comp) | {fork, join}, first=fork, last=join, depth=depth + 1)
                units = sub.units
                if (len(units) < 3 or not isinstance(units[0], Leaf) or units[0].node != fork
                        or not isinstance(units[-1], Leaf) or units[-1].node != join
                        or units[0].outs or units[0].ins or units[-1].outs or units[-1].ins):
                    return self.layered(g.sort(inner))
                branches.append((rank, len(branches), self.measure_series(Series(units[1:-1]))))
            if (fork, join) in g.edge_rank:
                branches.append((g.edge_rank[(fork, join)], len(branches), None))
        finally:
            self.active.discard(key)
        branches.sort(key=lambda b: (b[0], b[1]))
        return self.measure_parallel(Parallel([b[2] for b in branches]))

    def layered(self, order: list[str]) -> Layered:
        """Layers by depth within ``order``; each layer ordered by its parents' mean place."""
        g, inside = self.g, set(order)
        layer: dict[str, int] = {}
        for n in order:
            layer[n] = 1 + max((layer[p] for p in g.parents[n] if p in inside), default=-1)
        layers: list[list[str]] = [[] for _ in range(max(layer.values(), default=0) + 1)]
        for n in order:
            layers[layer[n]].append(n)
        slot: dict[str, float] = {}
        for _sweep in range(2):
            for members in layers:
                members.sort(key=lambda n: _mean([slot[p] for p in g.parents[n] if p in slot], slot.get(n, 0.0)))
                for i, n in enumerate(members):
                    slot[n] = i - (len(members) - 1) / 2
        step = self.s.node_width + self.s.lane
        cells = {n: (slot[n] * step, layer[n]) for n in order}
        widest = max((len(m) for m in layers), default=1)
        half = (widest - 1) / 2 * step + self.s.node_width / 2
        return Layered(cells, len(layers), half, half)

    # -- measures ---------------------------------------------------------------------------
    def measure_series(self, series: Series) -> Series:
        series.rows = arrange(series.units, self.s)[1] if series.units else 0
        series.left = max((u.left for u in series.units), default=0.0)
        series.right = max((u.right for u in series.units), default=0.0)
        return series

    def measure_parallel(self, par: Parallel) -> Parallel:
        s = self.s
        spans = [(b.left, b.right) if b is not None else (s.lane / 2, s.lane / 2) for b in par.branches]
        centres, cursor = [], 0.0
        for left, right in spans:
            centres.append(cursor + left)
            cursor += left + right + s.branch_gap
        total = cursor - s.branch_gap
        lane = next((i for i, b in enumerate(par.branches) if b is None), None)
        anchor = centres[lane] if lane is not None else total / 2
        par.offsets = [c - anchor for c in centres]
        par.left, par.right = anchor, total - anchor
        par.rows = max(max((b.rows for b in par.branches if b is not None), default=1), 1)
        return par


def _mean(values: list[float], default: float) -> float:
    return sum(values) / len(values) if values else default


# -- stacking units down a column ------------------------------------------------------------

def occupancy(unit, sizes: Sizes):
    """Rows (relative to the unit's first row) it fills left and right of the node column."""
    half = sizes.node_width / 2 + 0.5
    if isinstance(unit, Leaf):
        right = (1, 1 + unit.below) if unit.outs else None
        left = (-unit.above, 0) if unit.ins else None
        return left, right
    left = (0, unit.rows) if unit.left > half else None
    right = (0, unit.rows) if unit.right > half else None
    return left, right


class Stack:
    """Units placed one below the other; wide ones wait until the side they need is free."""

    def __init__(self, sizes: Sizes):
        self.sizes = sizes
        self.row = 0
        self.left_busy = 0
        self.right_busy = 0
        self.starts: list[int] = []

    def add(self, unit) -> None:
        left, right = occupancy(unit, self.sizes)
        r = self.row
        if right is not None:
            r = max(r, self.right_busy - right[0])
        if left is not None:
            r = max(r, self.left_busy - left[0], -left[0])
        self.starts.append(r)
        self.row = r + unit.rows
        if right is not None:
            self.right_busy = max(self.right_busy, r + right[1])
        if left is not None:
            self.left_busy = max(self.left_busy, r + left[1])

    @property
    def height(self) -> int:
        return max(self.row, self.right_busy, self.left_busy)

    @property
    def closed(self) -> bool:
        """Nothing hangs below the last unit (the edge to the next column can leave freely)."""
        return self.right_busy <= self.row and self.left_busy <= self.row


def arrange(units, sizes: Sizes) -> tuple[list[int], int]:
    stack = Stack(sizes)
    for u in units:
        stack.add(u)
    return stack.starts, stack.height


