"""The analysis pass: design → report of shapes, parameters, compute, memory, receptive fields
and diagnostics for every node, plus totals.

It is pure arithmetic on the block specs' ``infer`` rules (no torch), fast enough to run on
every edit. Diagnostics are data, never exceptions: a node whose inputs are missing or do not
fit gets an error; nodes downstream of it get unknown shapes, not errors of their own.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from .blocks import ShapeProblem
from .blocks.base import fmt_shape
from .blocks.receptive_field import compose_rf
from .graph import Design, Edge

BYTES_PER_VALUE = 4  # float32 activations


@dataclass
class Diagnostic:
    severity: str  # "error" | "warning"
    code: str
    message: str
    fix: str = ""
    node_id: str | None = None
    expected: Any = None
    received: Any = None

    def __str__(self) -> str:
        where = f"[{self.node_id}] " if self.node_id else ""
        return f"{self.severity}: {where}{self.message}" + (f" — {self.fix}" if self.fix else "")

    def to_dict(self) -> dict:
        return {"severity": self.severity, "code": self.code, "message": self.message, "fix": self.fix,
                "node": self.node_id, "expected": _plain(self.expected), "received": _plain(self.received)}


@dataclass
class NodeReport:
    id: str
    block: str
    input_shapes: list[tuple | None]
    shape: tuple | None  # None: unknown (an error here or upstream)
    trainable_params: int = 0
    frozen_params: int = 0
    buffers: int = 0
    macs: int = 0
    activation_bytes: int = 0
    receptive_field: tuple | None = None  # ((size, jump), ...) per spatial axis
    diagnostics: list[Diagnostic] = field(default_factory=list)

    @property
    def params(self) -> int:
        return self.trainable_params + self.frozen_params

    @property
    def has_error(self) -> bool:
        return any(d.severity == "error" for d in self.diagnostics)


@dataclass
class Report:
    nodes: dict[str, NodeReport]
    order: list[str]
    diagnostics: list[Diagnostic]  # every diagnostic, node ones included

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity == "error"]

    @property
    def warnings(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity == "warning"]

    @property
    def valid(self) -> bool:
        return not self.errors

    @property
    def trainable_params(self) -> int:
        return sum(n.trainable_params for n in self.nodes.values())

    @property
    def frozen_params(self) -> int:
        return sum(n.frozen_params for n in self.nodes.values())

    @property
    def total_params(self) -> int:
        return self.trainable_params + self.frozen_params

    @property
    def macs(self) -> int:
        return sum(n.macs for n in self.nodes.values())

    @property
    def activation_bytes(self) -> int:
        """Activation memory per sample (forward pass, float32)."""
        return sum(n.activation_bytes for n in self.nodes.values())

    def edge_shape(self, edge: Edge) -> tuple | None:
        src = self.nodes.get(edge.src)
        return src.shape if src else None


def _plain(value):
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    return value


# Inference results keyed by (block, parameters, input shapes): designs repeat the same layer
# configurations (every ResNet stage), and an edit changes one node, so most lookups hit.
_CACHE: dict[tuple, Any] = {}
_CACHE_LIMIT = 20_000


def _freeze(params: dict) -> tuple:
    return tuple(tuple(v) if isinstance(v, list) else v for v in params.values())


def clear_cache() -> None:
    _CACHE.clear()


def analyze(design: Design) -> Report:
    order = design.topological_order()
    incoming: dict[str, list[Edge]] = {n: [] for n in design.nodes}
    for e in design.edges:
        incoming[e.dst].append(e)
    reports: dict[str, NodeReport] = {}
    rfs: dict[str, Any] = {}
    diagnostics: list[Diagnostic] = []
    for node_id in order:
        node = design.nodes[node_id]
        spec = design.spec(node.block)
        edges = incoming[node_id]
        if len(spec.inputs) > 1:  # several named ports: port order, then edge order
            ports = [p.name for p in spec.inputs]
            edges = sorted(edges, key=lambda e: ports.index(e.dst_port) if e.dst_port in ports else 99)
        in_shapes = [reports[e.src].shape for e in edges]
        report = NodeReport(node_id, node.block, in_shapes, None)
        reports[node_id] = report
        missing = [p.name for p in spec.inputs if not any(e.dst_port == p.name for e in edges)]
        if missing:
            report.diagnostics.append(Diagnostic(
                "error", "no-input", f"{spec.title} '{node.name}' has nothing connected to its input"
                + (f" port '{missing[0]}'" if len(spec.inputs) > 1 else ""),
                "drag an edge from the previous block's output to this block's input", node_id))
            continue
        if any(s is None for s in in_shapes):
            continue  # unknown upstream: the upstream node carries the error
        key = (node.block, _freeze(node.params), tuple(in_shapes))
        inf = _CACHE.get(key) if node.block not in design.composites else None
        if inf is None:
            try:
                inf = spec.infer(node.params, in_shapes)
            except ShapeProblem as e:
                if node.block == "add" and len(edges) > 1:
                    e = _add_problem(design, spec, node.params, edges, reports) or e
                report.diagnostics.append(Diagnostic("error", "shape", e.message, e.fix, node_id, e.expected,
                                                     e.received))
                continue
            if len(_CACHE) > _CACHE_LIMIT:
                _CACHE.clear()
            _CACHE[key] = inf
        report.shape = inf.shape
        if node.frozen or not spec.trainable:
            report.frozen_params = inf.params
        else:
            report.trainable_params = inf.params
        report.buffers, report.macs = inf.buffers, inf.macs
        values = inf.activations if inf.activations is not None else math.prod(inf.shape)
        report.activation_bytes = values * BYTES_PER_VALUE
        rf = compose_rf([rfs.get(e.src) for e in edges], inf.rf, inf.shape)
        rfs[node_id] = rf
        report.receptive_field = rf
        for w in inf.warnings:
            report.diagnostics.append(Diagnostic("warning", w.code, w.message, w.fix, node_id))
    _design_checks(design, reports, incoming)
    for node_id in order:
        diagnostics.extend(reports[node_id].diagnostics)
    return Report(reports, order, diagnostics + _design_level(design, reports))


def _add_problem(design: Design, spec, params, edges, reports) -> ShapeProblem | None:
    """Add's fix names the shortcut, which its shapes alone cannot tell: the shortcut is the
    input whose source also feeds the other input (it skips the branch), so put it last."""
    def is_shortcut(edge):
        return any(other.src != edge.src and design._reaches(edge.src, other.src) for other in edges)
    ordered = sorted(edges, key=is_shortcut)
    try:
        spec.infer(params, [reports[e.src].shape for e in ordered])
    except ShapeProblem as problem:
        return problem
    return None


def _design_checks(design: Design, reports: dict[str, NodeReport], incoming) -> None:
    """Warnings that need the whole graph: unused nodes, class count."""
    outputs = [n.id for n in design.output_nodes()]
    inputs = {n.id for n in design.input_nodes()}
    feeding: set[str] = set()
    fed_by_input: dict[str, bool] = {}
    for out in outputs:  # per output: one of two heads may be cut off from the Input
        stack, seen = [out], set()
        while stack:
            n = stack.pop()
            if n not in seen:
                seen.add(n)
                stack.extend(e.src for e in incoming[n])
        feeding |= seen
        fed_by_input[out] = not seen.isdisjoint(inputs)
    if outputs:
        for node_id, report in reports.items():
            if node_id not in feeding:
                node = design.nodes[node_id]
                report.diagnostics.append(Diagnostic(
                    "warning", "unused", f"'{node.name}' does not lead to any Output; its result is thrown away",
                    "connect it to the rest of the network, or delete it", node_id))
    for node_id in outputs:
        report = reports[node_id]
        if inputs and not fed_by_input[node_id]:
            report.diagnostics.append(Diagnostic(
                "warning", "unreachable", "the output is not connected to any Input",
                "connect the Input to the first layer", node_id))
        shape = report.shape
        classes = design.num_classes
        if shape is None or classes is None:
            continue
        if len(shape) != 1:
            report.diagnostics.append(Diagnostic(
                "warning", "output-not-flat", f"the output is {fmt_shape(shape)}, not one score per class",
                "end with global pooling or Flatten → Linear", node_id, (classes,), shape))
        elif shape[0] != classes:
            report.diagnostics.append(Diagnostic(
                "warning", "class-count", f"the output has {shape[0]} values but the design has {classes} classes",
                f"set the last Linear to {classes} outputs, or the class count to {shape[0]}", node_id,
                classes, shape[0]))


def _design_level(design: Design, reports) -> list[Diagnostic]:
    found = []
    if not design.input_nodes():
        found.append(Diagnostic("error", "no-input-node", "the design has no Input",
                                "add an Input block and set its shape"))
    if not design.output_nodes():
        found.append(Diagnostic("warning", "no-output-node", "the design has no Output",
                                "add an Output block after the last layer so training knows the prediction"))
    return found
