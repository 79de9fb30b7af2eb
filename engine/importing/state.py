"""The state a design is built in while the trace is walked, and the primitives every pattern
uses: add a block (placed by depth; lay_out moves it later), find a call's tensor inputs,
count a call's parameters, and turn a rearrangement that meant nothing into an opaque block."""
from __future__ import annotations

from torch import fx, nn

from ..graph import Design
from .report import ImportReport
from .views import View


class BuildState:
    """The design being built, the trace it comes from, and what links them."""

    def __init__(self, gm: fx.GraphModule, name: str, input_shape):
        self.gm, self.input_shape = gm, input_shape
        self.design = Design(name)
        self.report = ImportReport(sum(p.numel() for p in gm.parameters()))
        self.value: dict[fx.Node, str] = {}  # fx node -> design node id (tensors only)
        self.carried: dict[fx.Node, list[str]] = {}  # non-tensor node -> design ids whose data it carries
        self.pending_params: dict[fx.Node, int] = {}  # parameters of a non-tensor producer not yet counted
        self.shapes: dict[str, tuple] = {}  # design id -> traced shape (no batch axis)
        self.depth: dict[str, int] = {}
        self.rows_at: dict[int, int] = {}  # depth -> nodes placed at that depth so far
        self.counted: set[str] = set()
        self.views: dict[fx.Node, View] = {}  # rearranged tensors not (yet) a block

    def _inputs(self, node: fx.Node) -> list[str]:
        ids = []
        for arg in flat((node.args, node.kwargs)):
            if isinstance(arg, fx.Node):
                if arg in self.views:
                    self._materialise(arg)
                for source in ([self.value[arg]] if arg in self.value else self.carried.get(arg, [])):
                    if source not in ids:
                        ids.append(source)
        return ids

    def _params_of(self, node: fx.Node) -> int:
        if node.op == "call_module":
            return sum(p.numel() for p in self.gm.get_submodule(str(node.target)).parameters())
        if node.op == "get_attr":
            value = fetch_attr(self.gm, str(node.target))
            return value.numel() if isinstance(value, nn.Parameter) else 0
        return 0

    def _materialise(self, node: fx.Node) -> None:
        """A rearrangement that meant no block: an opaque layer doing all of it."""
        view = self.views.pop(node)
        shape = view.ops[-1][1]
        what = " → ".join(kind for kind, _, _ in view.ops if kind != "contiguous") or "contiguous"
        why = "a rearrangement of the values that no block describes"
        node_id = self._add_raw(node.name, "opaque", {
            "type": what, "output_shape": list(shape) or [1], "params": 0,
            "input_shape": list(self.shapes[view.base]), "note": why}, [view.base])
        self.value[node] = node_id
        self.shapes[node_id] = shape
        self.report.opaque.append((node_id, what, why))

    def _add(self, node: fx.Node, block: str, params: dict, ins: list[str]) -> None:
        node_id = self._add_raw(node.name, block, params, ins)
        self.value[node] = node_id
        if block == "input":
            self.shapes[node_id] = self.input_shape

    def _add_raw(self, node_id: str, block: str, params: dict, ins: list[str]) -> str:
        depth = 1 + max((self.depth[i] for i in ins), default=-1)
        row = self.rows_at[depth] = self.rows_at.get(depth, -1) + 1  # a first position; lay_out moves it
        node = self.design.add_node(block, params, pos=(depth * 160.0, row * 90.0), node_id=node_id)
        self.depth[node.id] = depth
        for src in ins:
            self.design.connect(src, node.id)
        return node.id


def flat(value):
    """Every leaf of nested tuples, lists and dicts (an fx node's arguments)."""
    if isinstance(value, (tuple, list)):
        for v in value:
            yield from flat(v)
    elif isinstance(value, dict):
        for v in value.values():
            yield from flat(v)
    else:
        yield value


def fetch_attr(gm, target: str):
    """The attribute a ``get_attr`` node reads (``layer1.0.gamma``)."""
    obj = gm
    for part in target.split("."):
        obj = getattr(obj, part)
    return obj

