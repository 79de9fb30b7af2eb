"""The analysis pass: design → report of shapes, parameters, compute, memory, receptive fields
and diagnostics for every node, plus totals.

It is pure arithmetic on the block specs' ``infer`` rules (no torch), fast enough to run on
every edit. Diagnostics are data, never exceptions: a node whose inputs are missing or do not
fit gets an error; nodes downstream of it get unknown shapes, not errors of their own.

Speed (a ResNet-152 of ~500 nodes re-analyses in about 1 ms after a parameter edit and 3 ms
after a structural one, see ``bench/analysis.py``) comes from caching: per design, what depends
only on its structure (rebuilt when ``structure_version`` changes, keeping node results); per
node, its last result, reused while its parameters dict
is the same object (``Design.set_params`` replaces it, never edits it in place) and its inputs
are equal; and per (block, parameters, input shapes), the block's arithmetic.
"""
from __future__ import annotations

import math
import weakref
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
_RF_CACHE: dict[tuple, Any] = {}
# Per design: what only changes with its structure (order, sources, specs, reachability),
# plus each node's last result, reused while its parameters and inputs are the same objects/values.
_PLANS: "weakref.WeakKeyDictionary[Design, _Plan]" = weakref.WeakKeyDictionary()


def _freeze(params: dict) -> tuple:
    return tuple([tuple(v) if type(v) is list else v for v in params.values()])


def _shape_key(shapes: tuple) -> tuple:
    """Shapes as a cache key; a flattened shape also keys on what it was flattened from
    (it equals a plain tuple, but Linear's fix depends on the source)."""
    for s in shapes:
        if type(s) is not tuple:
            return tuple((s, getattr(s, "source", None)) for s in shapes)
    return shapes


def clear_cache() -> None:
    """Forget every cached result (benchmarks measure the cold analysis with it)."""
    _CACHE.clear()
    _RF_CACHE.clear()
    _PLANS.clear()


class _Step:
    """One node of a plan: its sources in input order and its last result."""

    # Each memo is one tuple, replaced whole: an analysis on another thread never sees half of one.
    __slots__ = ("node_id", "node", "spec", "sources", "missing", "cacheable", "frozen_params", "memo")

    def __init__(self, node_id, node, spec, sources, missing, cacheable):
        self.node_id, self.node, self.spec, self.sources = node_id, node, spec, sources
        self.missing, self.cacheable = missing, cacheable
        self.frozen_params = (None, None)  # (params dict, its hashable form)
        self.memo = (None, None)  # (inputs key, result)

    def adopt(self, old: "_Step") -> None:
        """Take over ``old``'s last result when it is the same node fed the same way. Its memo
        key still guards the inputs; a failed result is recomputed, since Add's message
        depends on which input is the shortcut, a structural fact."""
        if old.node is self.node and old.spec is self.spec and old.sources == self.sources \
                and old.memo[1] is not None and old.memo[1][0] is not None:
            self.frozen_params, self.memo = old.frozen_params, old.memo


class _Plan:
    def __init__(self, design: Design, previous: "_Plan | None" = None):
        self.stamp = _stamp(design)
        self.order = design.topological_order()
        incoming: dict[str, list[Edge]] = {n: [] for n in design.nodes}
        for e in design.edges:
            incoming[e.dst].append(e)
        self.incoming = incoming
        self.steps = []
        # A structural edit (a node or an edge added or removed) rebuilds the plan; every
        # other node keeps its last result, so the edit costs about as much as a parameter edit.
        earlier = {step.node_id: step for step in previous.steps} if previous is not None else {}
        nodes, composites, steps = design.nodes, design.composites, self.steps
        for node_id in self.order:
            node = nodes[node_id]
            spec = design.spec(node.block)
            edges = incoming[node_id]
            inputs = spec.inputs
            if len(inputs) > 1:  # several named ports: port order, then edge order
                ports = [p.name for p in inputs]
                edges = sorted(edges, key=lambda e: ports.index(e.dst_port) if e.dst_port in ports else 99)
            if len(inputs) == 1:  # the common case, kept cheap: 500-node designs re-plan on every structural edit
                missing = [] if edges else [inputs[0].name]
            else:
                connected = {e.dst_port for e in edges}
                missing = [p.name for p in inputs if p.name not in connected]
            step = _Step(node_id, node, spec, tuple([e.src for e in edges]), missing, node.block not in composites)
            steps.append(step)
            old = earlier.get(node_id)
            if old is not None:
                step.adopt(old)
        self.unused, self.fed_by_input = _reachability(design, incoming)
        self.has_input, self.has_output = bool(design.input_nodes()), bool(design.output_nodes())


def _stamp(design: Design) -> tuple:
    # A user block's inside may be edited in place: its version is part of the stamp.
    inner = tuple(c.design.version for c in design.composites.values()) if design.composites else ()
    return design.structure_version, len(design.nodes), len(design.edges), inner


def _plan_for(design: Design) -> _Plan:
    plan = _PLANS.get(design)
    if plan is None or plan.stamp != _stamp(design):
        plan = _PLANS[design] = _Plan(design, plan)
    return plan


def _infer(step: _Step, ins: tuple, shape_key: tuple, frozen: tuple):
    """(Inference, None) or (None, ShapeProblem), through the shared cache."""
    node = step.node
    key = (node.block, frozen, shape_key)
    inf = _CACHE.get(key) if step.cacheable else None
    if inf is None:
        try:
            inf = step.spec.infer(node.params, list(ins))
        except ShapeProblem as e:
            return None, e
        if len(_CACHE) > _CACHE_LIMIT:
            _CACHE.clear()
        if step.cacheable:
            _CACHE[key] = inf
    return inf, None


def _compose(in_rfs: tuple, inf) -> Any:
    key = (in_rfs, inf.rf, len(inf.shape))
    rf = _RF_CACHE.get(key, _MISSING)
    if rf is _MISSING:
        rf = compose_rf(list(in_rfs), inf.rf, inf.shape)
        if len(_RF_CACHE) > _CACHE_LIMIT:
            _RF_CACHE.clear()
        _RF_CACHE[key] = rf
    return rf


_MISSING = object()


def analyze(design: Design) -> Report:
    plan = _plan_for(design)
    reports: dict[str, NodeReport] = {}
    shapes: dict[str, Any] = {}
    rfs: dict[str, Any] = {}
    for step in plan.steps:
        node_id, node = step.node_id, step.node
        ins = tuple([shapes[s] for s in step.sources])
        if step.missing:
            spec = step.spec
            reports[node_id] = NodeReport(node_id, node.block, list(ins), None, diagnostics=[Diagnostic(
                "error", "no-input", f"{spec.title} '{node.name}' has nothing connected to its input"
                + (f" port '{step.missing[0]}'" if len(spec.inputs) > 1 else ""),
                "drag an edge from the previous block's output to this block's input", node_id)])
            shapes[node_id] = rfs[node_id] = None
            continue
        if None in ins:  # unknown upstream: the upstream node carries the error
            reports[node_id] = NodeReport(node_id, node.block, list(ins), None)
            shapes[node_id] = rfs[node_id] = None
            continue
        in_rfs = tuple([rfs[s] for s in step.sources])
        params = node.params
        frozen_params = step.frozen_params
        if frozen_params[0] is not params:  # set_params replaces the dict: a new object is an edit
            frozen_params = step.frozen_params = (params, _freeze(params))
        shape_key = _shape_key(ins)
        memo_key = (frozen_params[1], shape_key, in_rfs, node.frozen)
        memo = step.memo
        if memo[0] != memo_key or not step.cacheable:
            memo = step.memo = (memo_key, _evaluate(step, ins, shape_key, in_rfs, frozen_params[1], design,
                                                    reports))
        shape, rf, params_count, buffers, macs, act_bytes, diags = memo[1]
        if shape is None:
            reports[node_id] = NodeReport(node_id, node.block, list(ins), None, diagnostics=list(diags))
        elif node.frozen or not step.spec.trainable:
            reports[node_id] = NodeReport(node_id, node.block, list(ins), shape, 0, params_count, buffers, macs,
                                          act_bytes, rf, list(diags))
        else:
            reports[node_id] = NodeReport(node_id, node.block, list(ins), shape, params_count, 0, buffers, macs,
                                          act_bytes, rf, list(diags))
        shapes[node_id], rfs[node_id] = shape, rf
    _design_checks(design, plan, reports)
    diagnostics = [d for node_id in plan.order for d in reports[node_id].diagnostics]
    return Report(reports, plan.order, diagnostics + _design_level(plan))


def _evaluate(step: _Step, ins, shape_key, in_rfs, frozen, design, reports) -> tuple:
    """A node's result: (shape, rf, params, buffers, macs, activation bytes, diagnostics)."""
    inf, problem = _infer(step, ins, shape_key, frozen)
    node_id = step.node_id
    if problem is not None:
        if step.node.block == "add" and len(ins) > 1:
            problem = _add_problem(design, step.spec, step.node.params, design.incoming(node_id), reports) or problem
        return None, None, 0, 0, 0, 0, (Diagnostic("error", "shape", problem.message, problem.fix, node_id,
                                                   problem.expected, problem.received),)
    values = inf.activations if inf.activations is not None else math.prod(inf.shape)
    warnings = tuple(Diagnostic("warning", w.code, w.message, w.fix, node_id) for w in inf.warnings)
    return (inf.shape, _compose(in_rfs, inf), inf.params, inf.buffers, inf.macs, values * BYTES_PER_VALUE,
            warnings)


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


def _reachability(design: Design, incoming) -> tuple[list[str], dict[str, bool]]:
    """Nodes that lead to no Output, and for each Output whether an Input feeds it."""
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
        fed_by_input[out] = bool(inputs) and not seen.isdisjoint(inputs)
    unused = [n for n in design.nodes if n not in feeding] if outputs else []
    return unused, fed_by_input


def _design_checks(design: Design, plan: _Plan, reports: dict[str, NodeReport]) -> None:
    """Warnings that need the whole graph: unused nodes, unreachable outputs, class count."""
    for node_id in plan.unused:
        report = reports[node_id]
        node = design.nodes[node_id]
        report.diagnostics.append(Diagnostic(
            "warning", "unused", f"'{node.name}' does not lead to any Output; its result is thrown away",
            "connect it to the rest of the network, or delete it", node_id))
    for node_id, fed in plan.fed_by_input.items():
        report = reports[node_id]
        if plan.has_input and not fed:
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


def _design_level(plan: _Plan) -> list[Diagnostic]:
    found = []
    if not plan.has_input:
        found.append(Diagnostic("error", "no-input-node", "the design has no Input",
                                "add an Input block and set its shape"))
    if not plan.has_output:
        found.append(Diagnostic("warning", "no-output-node", "the design has no Output",
                                "add an Output block after the last layer so training knows the prediction"))
    return found
