"""The edges of a design and the index that finds them by node and by port."""
from __future__ import annotations

from typing import NamedTuple


class Edge(NamedTuple):
    src: str
    dst: str
    src_port: str = "out"
    dst_port: str = "in"


class EdgeIndex:
    """Edges by node and by port, so that connecting and querying cost O(degree), not O(edges):
    a file of 20,000 layers loads in linear time. Lists keep the design's edge order."""

    def __init__(self, edges: list[Edge]):
        self.edges: set[Edge] = set()
        self.into: dict[str, list[Edge]] = {}
        self.out: dict[str, list[Edge]] = {}
        self.fed: dict[tuple[str, str], int] = {}  # (node, input port) -> edges into it
        for e in edges:
            self.add(e)

    def add(self, e: Edge) -> None:
        self.edges.add(e)
        self.into.setdefault(e.dst, []).append(e)
        self.out.setdefault(e.src, []).append(e)
        self.fed[(e.dst, e.dst_port)] = self.fed.get((e.dst, e.dst_port), 0) + 1
