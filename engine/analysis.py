"""The analysis pass: design → report of shapes, parameters, compute, memory, receptive fields
and diagnostics for every node, plus totals.

It is pure arithmetic on the block specs' ``infer`` rules (no torch), fast enough to run on
every edit. Diagnostics are data, never exceptions: a node whose inputs are missing or do not
fit gets an error; nodes downstream of it get unknown shapes, not errors of their own.

Speed (a ResNet-152 of ~500 nodes re-analyses in about 1 ms after a parameter edit and 3 ms
after a structural one, see ``bench/analysis.py``) comes from caching: per design, what depends
only on its structure (rebuilt when ``structure_version`` changes, keeping node results); per
node, its last result, reused while its parameters mapping
is the same object (``Design.set_params`` replaces it, never edits it in place) and its inputs
are equal; and per (block, parameters, input shapes), the block's arithmetic. A cold analysis
(a design seen for the first time) plans the design in one pass over its edges and takes each
repeated layer's arithmetic from the last one, composing only its receptive field.
"""
from __future__ import annotations

import math
import weakref
from dataclasses import dataclass, field
from typing import Any

from .blocks import ShapeProblem
from .blocks.base import fmt_shape
from .blocks.receptive_field import compose_one, compose_rf
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
# Per design: what only changes with its structure (order, sources, specs, reachability),
# plus each node's last result, reused while its parameters and inputs are the same objects/values.
_PLANS: "weakref.WeakKeyDictionary[Design, _Plan]" = weakref.WeakKeyDictionary()


def _freeze(params) -> tuple:
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
    _PLANS.clear()


_NO_MEMO = (None, None)
_NOTHING_MISSING = ()


class _Plan:
    """A design's order and, per node in that order, a step: the plain tuple ``(node id, node,
    spec, sources in input order, unconnected input ports, cacheable)`` (tuples: a 500-node
    design re-plans on every structural edit), with the node's last result beside it in
    ``memos`` (``(inputs key, result)``) and its parameters' hashable form in ``frozen``
    (``(parameters mapping, its hashable form)``). Each memo is one tuple, replaced whole: an
    analysis on another thread never sees half of one."""

    def __init__(self, design: Design, previous: "_Plan | None" = None):
        self.stamp = _stamp(design)
        nodes, composites = design.nodes, design.composites
        # One pass over the edges gives each node's incoming edges and children; the order is
        # Design.topological_order's (Kahn, ties in insertion order), computed from them.
        incoming: dict[str, list[Edge]] = {n: [] for n in nodes}
        children: dict[str, list[str]] = {n: [] for n in nodes}
        for e in design.edges:
            incoming[e.dst].append(e)
            children[e.src].append(e.dst)
        waiting = {n: len(es) for n, es in incoming.items() if es}
        order = [n for n in nodes if n not in waiting]
        for n in order:  # the list is the queue: appended to while it is walked
            for c in children[n]:
                left = waiting[c] - 1
                waiting[c] = left
                if not left:
                    order.append(c)
        self.order = order
        self.incoming = incoming
        self.steps = steps = []
        specs: dict[str, Any] = {}  # block key -> (spec, several ports?, cacheable, ports), for this plan
        for node_id in order:
            node = nodes[node_id]
            block = node.block
            looked_up = specs.get(block)
            if looked_up is None:
                spec = design.spec(block)
                ports = spec.inputs
                looked_up = specs[block] = (spec, len(ports) > 1, block not in composites,
                                            [ports[0].name] if len(ports) == 1 else _NOTHING_MISSING)
            spec, several, cacheable, unfed = looked_up
            edges = incoming[node_id]
            if not several:  # the common case, kept cheap
                if len(edges) == 1:
                    steps.append((node_id, node, spec, (edges[0].src,), _NOTHING_MISSING, cacheable))
                    continue
                sources = tuple([e.src for e in edges])
                missing = _NOTHING_MISSING if edges else unfed
            else:  # several named ports: port order, then edge order
                ports = [p.name for p in spec.inputs]
                edges = sorted(edges, key=lambda e: ports.index(e.dst_port) if e.dst_port in ports else 99)
                connected = {e.dst_port for e in edges}
                sources = tuple([e.src for e in edges])
                missing = [p for p in ports if p not in connected]
            steps.append((node_id, node, spec, sources, missing, cacheable))
        self.memos = [_NO_MEMO] * len(steps)
        self.frozen = [_NO_MEMO] * len(steps)
        if previous is not None:
            self._adopt(previous)
        self.unused, self.fed_by_input = _reachability(design, steps, incoming, children)
        self.has_input = any(n.block == "input" for n in nodes.values())
        self.has_output = bool(self.fed_by_input)
        self.position: dict[str, int] | None = None  # node id -> index in the order, when needed

    def _adopt(self, previous: "_Plan") -> None:
        """A structural edit (a node or an edge added or removed) rebuilds the plan; every other
        node keeps its last result, so the edit costs about as much as a parameter edit. A node
        takes over its last result when it is the same node fed the same way; the memo key
        still guards the inputs. A failed result is recomputed, since Add's message depends on
        which input is the shortcut, a structural fact."""
        earlier = {step[0]: i for i, step in enumerate(previous.steps)}
        old_steps, old_memos, old_frozen = previous.steps, previous.memos, previous.frozen
        memos, frozen = self.memos, self.frozen
        for i, (node_id, node, spec, sources, _, _) in enumerate(self.steps):
            j = earlier.get(node_id)
            if j is None:
                continue
            _, old_node, old_spec, old_sources, _, _ = old_steps[j]
            memo = old_memos[j]
            if old_node is node and old_spec is spec and old_sources == sources \
                    and memo[1] is not None and memo[1][0] is not None:
                memos[i], frozen[i] = memo, old_frozen[j]


def _stamp(design: Design) -> tuple:
    # A user block's inside may be edited in place: its version is part of the stamp.
    inner = tuple(c.design.version for c in design.composites.values()) if design.composites else ()
    return design.structure_version, len(design.nodes), len(design.edges), inner


def _plan_for(design: Design) -> _Plan:
    plan = _PLANS.get(design)
    if plan is None or plan.stamp != _stamp(design):
        plan = _PLANS[design] = _Plan(design, plan)
    return plan


def _infer(step: tuple, ins: tuple, key: tuple):
    """A node's result without its receptive field, ``(shape, rf step, trainable params, frozen
    params, buffers, macs, activation bytes, warnings)``, stored in the shared cache; or the
    ShapeProblem."""
    _, node, spec, _, _, cacheable = step
    try:
        inf = spec.infer(node.params, list(ins))
    except ShapeProblem as e:
        return e
    values = inf.activations if inf.activations is not None else math.prod(inf.shape)
    params = inf.params
    found = (inf.shape, inf.rf, 0, params) if key[3] or not spec.trainable else (inf.shape, inf.rf, params, 0)
    found += (inf.buffers, inf.macs, values * BYTES_PER_VALUE, inf.warnings)
    if cacheable:
        if len(_CACHE) > _CACHE_LIMIT:
            _CACHE.clear()
        _CACHE[key] = found
    return found


_UNKNOWN = (None, None)  # the result of a node whose shape is unknown: (shape, receptive field)


def analyze(design: Design) -> Report:
    plan = _plan_for(design)
    memos, frozen_forms = plan.memos, plan.frozen
    reports: dict[str, NodeReport] = {}
    results: dict[str, tuple] = {}  # node id -> its result, shape and receptive field first
    flagged = []  # nodes with diagnostics, in order
    for i, step in enumerate(plan.steps):
        node_id, node, spec, sources, missing, cacheable = step
        if len(sources) == 1 and not missing:  # the common case, kept short
            upstream = results[sources[0]]
            shape = upstream[0]
            if shape is None:  # unknown upstream: the upstream node carries the error
                reports[node_id] = NodeReport(node_id, node.block, [None], None)
                results[node_id] = _UNKNOWN
                continue
            ins = (shape,)
            in_rfs = (upstream[1],)
            shape_key = ins if type(shape) is tuple else _shape_key(ins)
        else:
            ins = tuple([results[s][0] for s in sources])
            if missing:
                reports[node_id] = NodeReport(node_id, node.block, list(ins), None, diagnostics=[Diagnostic(
                    "error", "no-input", f"{spec.title} '{node.name}' has nothing connected to its input"
                    + (f" port '{missing[0]}'" if len(spec.inputs) > 1 else ""),
                    "drag an edge from the previous block's output to this block's input", node_id)])
                results[node_id] = _UNKNOWN
                flagged.append(node_id)
                continue
            if None in ins:
                reports[node_id] = NodeReport(node_id, node.block, list(ins), None)
                results[node_id] = _UNKNOWN
                continue
            in_rfs = tuple([results[s][1] for s in sources])
            shape_key = _shape_key(ins)
        params = node.params
        frozen_form = frozen_forms[i]
        if frozen_form[0] is not params:  # set_params replaces the mapping: a new object is an edit
            # Most values are scalars: the values as they are, made hashable below if need be.
            frozen_form = frozen_forms[i] = (params, tuple(params.values()))
        frozen_flag = node.frozen
        memo_key = (frozen_form[1], shape_key, in_rfs, frozen_flag)
        memo = memos[i]
        if memo[0] != memo_key or not cacheable:
            try:
                found = _CACHE.get((node.block, frozen_form[1], shape_key, frozen_flag)) if cacheable else None
            except TypeError:  # a list among the values (a shape, per-axis padding)
                frozen_form = frozen_forms[i] = (params, _freeze(params))
                memo_key = (frozen_form[1], shape_key, in_rfs, frozen_flag)
                found = _CACHE.get((node.block, frozen_form[1], shape_key, frozen_flag)) if cacheable else None
            if found is not None and len(in_rfs) == 1 and not found[7]:
                # Seen elsewhere (a repeated layer, or a cold analysis's second block of a stage):
                # only the receptive field is this node's own.
                shape, rf_step = found[0], found[1]
                base = in_rfs[0]
                if rf_step is None:  # element-wise: the field is unchanged
                    rf = base if base and len(base) == len(shape) - 1 else None
                else:
                    rf = compose_one(base, rf_step, len(shape))
                result = (shape, rf, found[2], found[3], found[4], found[5], found[6], ())
            else:
                result = _evaluate(step, ins, shape_key, in_rfs, frozen_form[1], design, reports, found)
            memo = memos[i] = (memo_key, result)
        result = memo[1]
        shape, rf, trainable, frozen, buffers, macs, act_bytes, diags = result
        if diags:
            flagged.append(node_id)
            diags = list(diags)
        else:
            diags = []
        reports[node_id] = NodeReport(node_id, node.block, list(ins), shape, trainable, frozen, buffers, macs,
                                      act_bytes, rf, diags)
        results[node_id] = result
    flagged = _design_checks(design, plan, reports, flagged)
    diagnostics = [d for node_id in flagged for d in reports[node_id].diagnostics]
    return Report(reports, plan.order, diagnostics + _design_level(plan))


def _evaluate(step: tuple, ins, shape_key, in_rfs, frozen, design, reports, found) -> tuple:
    """A node's result: (shape, rf, trainable params, frozen params, buffers, macs, activation bytes,
    diagnostics); ``found`` is the cached one without its receptive field, if any."""
    node_id, node, spec, _, _, cacheable = step
    if found is None:
        key = (node.block, frozen, shape_key, node.frozen)
        found = _infer(step, ins, key)
        if type(found) is not tuple:
            problem = found
            if node.block == "add" and len(ins) > 1:
                problem = _add_problem(design, spec, node.params, design.incoming(node_id), reports) or problem
            return None, None, 0, 0, 0, 0, 0, (Diagnostic("error", "shape", problem.message, problem.fix,
                                                          node_id, problem.expected, problem.received),)
    shape, rf_step, trainable, frozen_count, buffers, macs, act_bytes, warnings = found
    rf = compose_one(in_rfs[0], rf_step, len(shape)) if len(in_rfs) == 1 else compose_rf(in_rfs, rf_step, shape)
    if warnings:
        warnings = tuple([Diagnostic("warning", w.code, w.message, w.fix, node_id) for w in warnings])
    return shape, rf, trainable, frozen_count, buffers, macs, act_bytes, warnings


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


def _reachability(design: Design, steps, incoming, children) -> tuple[list[str], dict[str, bool]]:
    """Nodes that lead to no Output, and for each Output whether an Input feeds it."""
    nodes = design.nodes
    outputs = [n for n, node in nodes.items() if node.block == "output"]
    if not outputs:
        return [], {}
    inputs = {n for n, node in nodes.items() if node.block == "input"}
    if len(outputs) == 1 and len(steps) == len(nodes) and outputs == [n for n, c in children.items() if not c]:
        # The Output is the only node that feeds nothing: following edges forward from any
        # node ends there, so every node leads to it, the Inputs included.
        return [], {outputs[0]: bool(inputs)}
    if len(outputs) == 1 and len(steps) == len(nodes):
        # Backwards through the order: a node feeds the Output when a node it feeds does.
        feeding = set(outputs)
        for step in reversed(steps):
            if step[0] in feeding:
                feeding.update(step[3])
        # The edges of a node with an unconnected port are all among its sources.
        fed_by_input = {outputs[0]: bool(inputs) and not feeding.isdisjoint(inputs)}
    else:
        feeding = set()
        fed_by_input = {}
        for out in outputs:  # per output: one of two heads may be cut off from the Input
            stack, seen = [out], set()
            while stack:
                n = stack.pop()
                if n not in seen:
                    seen.add(n)
                    stack.extend(e.src for e in incoming[n])
            feeding |= seen
            fed_by_input[out] = bool(inputs) and not seen.isdisjoint(inputs)
    unused = [n for n in nodes if n not in feeding] if len(feeding) < len(nodes) else []
    return unused, fed_by_input


def _design_checks(design: Design, plan: _Plan, reports: dict[str, NodeReport], flagged: list[str]) -> list[str]:
    """Warnings that need the whole graph: unused nodes, unreachable outputs, class count.
    Returns the nodes with diagnostics, in order."""
    more = []
    for node_id in plan.unused:
        report = reports[node_id]
        node = design.nodes[node_id]
        report.diagnostics.append(Diagnostic(
            "warning", "unused", f"'{node.name}' does not lead to any Output; its result is thrown away",
            "connect it to the rest of the network, or delete it", node_id))
        more.append(node_id)
    for node_id, fed in plan.fed_by_input.items():
        report = reports[node_id]
        if plan.has_input and not fed:
            report.diagnostics.append(Diagnostic(
                "warning", "unreachable", "the output is not connected to any Input",
                "connect the Input to the first layer", node_id))
        shape = report.shape
        classes = design.num_classes
        if shape is not None and classes is not None:
            if len(shape) != 1:
                report.diagnostics.append(Diagnostic(
                    "warning", "output-not-flat", f"the output is {fmt_shape(shape)}, not one score per class",
                    "end with global pooling or Flatten → Linear", node_id, (classes,), shape))
            elif shape[0] != classes:
                report.diagnostics.append(Diagnostic(
                    "warning", "class-count",
                    f"the output has {shape[0]} values but the design has {classes} classes",
                    f"set the last Linear to {classes} outputs, or the class count to {shape[0]}", node_id,
                    classes, shape[0]))
        if report.diagnostics:
            more.append(node_id)
    if not more:
        return flagged
    if plan.position is None:
        plan.position = {node_id: i for i, node_id in enumerate(plan.order)}
    return sorted(set(flagged).union(more), key=plan.position.__getitem__)


def _design_level(plan: _Plan) -> list[Diagnostic]:
    found = []
    if not plan.has_input:
        found.append(Diagnostic("error", "no-input-node", "the design has no Input",
                                "add an Input block and set its shape"))
    if not plan.has_output:
        found.append(Diagnostic("warning", "no-output-node", "the design has no Output",
                                "add an Output block after the last layer so training knows the prediction"))
    return found
