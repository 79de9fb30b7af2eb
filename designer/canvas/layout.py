"""Automatic layered layout (top to bottom): each node one layer below its deepest parent,
nodes in a layer ordered by the mean place of their parents (two sweeps, which untangles the
branches of inception and residual blocks), layers centred on one axis.

Pure arithmetic on the design (no Qt), so it is tested and timed like the engine.
"""
from __future__ import annotations

from engine.graph import Design

NODE_WIDTH = 210.0
NODE_HEIGHT = 78.0
H_GAP = 50.0
V_GAP = 58.0  # room for the edge's shape label between layers


def layered_layout(design: Design, node_ids=None) -> dict[str, tuple[float, float]]:
    """New positions (top-left corners) for ``node_ids`` (all nodes when None). A subset is laid
    out where it stands: its top-left corner and its centre line stay put."""
    ids = set(design.nodes) if node_ids is None else {n for n in node_ids if n in design.nodes}
    if not ids:
        return {}
    order = [n for n in design.topological_order() if n in ids]
    parents: dict[str, list[str]] = {n: [] for n in ids}
    for e in design.edges:
        if e.src in ids and e.dst in ids and e.src not in parents[e.dst]:
            parents[e.dst].append(e.src)
    layer: dict[str, int] = {}
    for n in order:
        layer[n] = 1 + max((layer[p] for p in parents[n]), default=-1)
    layers: list[list[str]] = [[] for _ in range(max(layer.values()) + 1)]
    for n in order:
        layers[layer[n]].append(n)
    slot: dict[str, float] = {}
    for _sweep in range(2):
        for members in layers:
            members.sort(key=lambda n: _mean([slot[p] for p in parents[n] if p in slot], slot.get(n, 0.0)))
            for i, n in enumerate(members):
                slot[n] = i - (len(members) - 1) / 2
    if node_ids is None:
        x0, y0 = 0.0, 0.0
    else:
        xs = [design.nodes[n].pos[0] for n in ids]
        x0, y0 = (min(xs) + max(xs)) / 2, min(design.nodes[n].pos[1] for n in ids)
    step_x, step_y = NODE_WIDTH + H_GAP, NODE_HEIGHT + V_GAP
    return {n: (round(x0 + slot[n] * step_x, 1), round(y0 + layer[n] * step_y, 1)) for n in ids}


def _mean(values: list[float], default: float) -> float:
    return sum(values) / len(values) if values else default
