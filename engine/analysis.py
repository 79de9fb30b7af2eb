"""The analysis pass: design → report of shapes, parameters, compute, memory, receptive fields
and diagnostics for every node, plus totals.

It is pure arithmetic on the block specs' ``infer`` rules (no torch), fast enough to run on
every edit. Diagnostics are data, never exceptions: a node whose inputs are missing or do not
fit gets an error; nodes downstream of it get unknown shapes, not errors of their own.

Speed (ResNet-152, 516 nodes, fastest of 300 on a shared 2-core machine: about 0.25 ms after a
parameter edit, 0.8-1 ms after a structural one, 0.95-1 ms cold, see ``bench/analysis.py``)
comes from caching: per design, what depends only on its structure (rebuilt when
``structure_version`` changes, keeping node results); per node, its last result, reused while
its parameter values are the same object (``Node._values``, which ``Design.set_params``
replaces whole, never edits in place) and its inputs are equal; and per (block, parameter
values, input shapes), the block's arithmetic. A cold analysis (a design seen for the first
time) plans the design in one pass (Kahn's order over the design's own edge index, each step
made as its node is placed) and takes each repeated layer's arithmetic from the last one,
composing only its receptive field (with the window's step stored ready in the cache entry, and
the entry's counts shared, not copied, by every node of that configuration).
"""
from __future__ import annotations

import math
import weakref
from collections.abc import Iterator, Mapping
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


@dataclass(slots=True)
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


class NodeReports(Mapping):
    """Node id → :class:`NodeReport`, each made when first asked for.

    A pass over ResNet-152 computes 516 results but a view usually reads a few of them, so a
    node's report is built from its result on first access, not during the pass. A node whose
    result is unchanged since the last pass gets the very same report object back, so a view can
    tell what changed by identity. Reports are shared between passes: treat them as read-only."""

    __slots__ = ("_plan", "_results", "_made")

    def __init__(self, plan: "_Plan", results: list, made: dict):
        # results[i]: the result of the plan's i-th node; made: node id -> its report, once made
        # (or made by the pass: a node with an unconnected input, a whole-design warning).
        self._plan = plan
        self._results = results
        self._made = made

    def __getitem__(self, node_id: str) -> NodeReport:
        report = self._made.get(node_id)
        if report is None:
            plan = self._plan
            i = plan.position[node_id]  # KeyError for a node that is not in the design
            result = self._results[i]
            built = plan.built
            made = built[i]
            # The same result as a pass before: the same report object (a view compares by identity).
            # Every unknown result is the one _UNKNOWN, whatever the inputs: its report is made anew.
            if made[0] is result and result is not _UNKNOWN:
                report = made[1]
            else:
                report = _report_of(plan, self._results, i, built)
            self._made[node_id] = report
        return report

    def __iter__(self) -> Iterator[str]:
        return iter(self._plan.order)

    def __len__(self) -> int:
        return len(self._plan.order)

    def __contains__(self, node_id) -> bool:
        return node_id in self._plan.position

    def _add_diagnostic(self, node_id: str, diagnostic: Diagnostic) -> None:
        """Whole-design warnings go on a copy: the node's report may be shared with other passes."""
        report = self[node_id]
        self._made[node_id] = NodeReport(
            report.id, report.block, report.input_shapes, report.shape, report.trainable_params,
            report.frozen_params, report.buffers, report.macs, report.activation_bytes, report.receptive_field,
            report.diagnostics + [diagnostic])

    def _totals(self, index: int) -> int:
        """A sum over every node without making their reports (index into the counts, see _UNKNOWN)."""
        return sum([result[2][index] for result in self._results])


def _report_of(plan: "_Plan", results: list, i: int, built: list) -> NodeReport:
    node, _, sources, _, _, block, _ = plan.steps[i]
    result = results[i]
    trainable, frozen, buffers, macs, activation_bytes = result[2]
    report = NodeReport(node.id, block, [results[j][0] for j in sources], result[0], trainable, frozen, buffers,
                        macs, activation_bytes, result[1], list(result[3]))
    built[i] = (result, report)  # one slot, replaced whole: safe against a pass on another thread
    return report


@dataclass
class Report:
    nodes: NodeReports
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
        return self.nodes._totals(0)

    @property
    def frozen_params(self) -> int:
        return self.nodes._totals(1)

    @property
    def total_params(self) -> int:
        return self.trainable_params + self.frozen_params

    @property
    def macs(self) -> int:
        return self.nodes._totals(3)

    @property
    def activation_bytes(self) -> int:
        """Activation memory per sample (forward pass, float32)."""
        return self.nodes._totals(4)

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


# A node's result is one tuple: (shape, receptive field, counts, diagnostics, then what it was
# computed from: the node's parameter values (``Node._values``, replaced whole on every edit),
# frozen, input shapes key, input receptive fields). The counts are one tuple (trainable params,
# frozen params, buffers, MACs, activation bytes), shared with the cache entry it came from and
# with every node of the same configuration: a result is made without copying them. The last
# pass's results are the plan's memos: a node whose inputs are unchanged takes its result from there.
_NO_COUNTS: tuple = (0, 0, 0, 0, 0)
_UNKNOWN: tuple = (None, None, _NO_COUNTS, (), None, None, None, None)  # an error upstream
_NO_REPORT: tuple = (None, None)
_NOTHING_MISSING: tuple = ()


class _Plan:
    """A design's order and, per node in that order, a step: the plain tuple ``(node, spec,
    sources, unconnected input ports, cacheable, block key, one input and every port fed)``, the sources by their index in the
    order (tuples and indices: a 500-node design is planned on every structural edit and every
    cold analysis), with the node's last result in ``memos`` (the last pass's results, a list
    replaced whole: an analysis on another thread never sees half of one) and its last report
    in ``built``."""

    def __init__(self, design: Design, previous: "_Plan | None" = None):
        self.stamp = _stamp(design)
        nodes, composites = design._nodes, design.composites  # the dict itself: no read-only view between
        # The design's own edge index (its edits keep it up to date) gives each node's incoming and
        # outgoing edges in edge order, so planning makes no pass over the edges of its own.
        edge_index = design._edges_by
        into, out = edge_index.into, edge_index.out
        waiting: dict[str, int] = {}  # node with several inputs -> how many are still to be placed
        order = [n for n in nodes if n not in into]  # the index holds no empty lists (lint checks it)
        position: dict[str, int] = {}
        steps: list[tuple] = []
        specs: dict[str, Any] = {}  # block key -> (spec, several ports?, cacheable, ports), for this plan
        outputs: list[str] = []
        inputs: list[str] = []
        sinks: list[str] = []  # nodes that feed nothing
        # Kahn's algorithm, ties in insertion order (Design.topological_order's order), each node's
        # step made when it is reached: its sources are placed by then. The list is the queue.
        for i, node_id in enumerate(order):
            position[node_id] = i
            node = nodes[node_id]
            block = node.block
            looked_up = specs.get(block)
            if looked_up is None:
                spec = design.spec(block)
                ports = spec.inputs
                looked_up = specs[block] = (spec, len(ports) > 1, block not in composites,
                                            [ports[0].name] if len(ports) == 1 else _NOTHING_MISSING)
            spec, several, cacheable, unfed = looked_up
            edges = into.get(node_id)
            if not several:  # the common case, kept cheap
                if not edges:
                    steps.append((node, spec, _NOTHING_MISSING, unfed, cacheable, block, False))
                elif len(edges) == 1:
                    steps.append((node, spec, (position[edges[0].src],), _NOTHING_MISSING, cacheable, block, True))
                else:
                    steps.append((node, spec, tuple([position[e.src] for e in edges]), _NOTHING_MISSING, cacheable,
                                  block, False))
            else:  # several named ports: port order, then edge order
                names = [p.name for p in spec.inputs]
                edges = sorted(edges or (), key=lambda e: names.index(e.dst_port) if e.dst_port in names else 99)
                connected = {e.dst_port for e in edges}
                sources = tuple([position[e.src] for e in edges])
                missing = [p for p in names if p not in connected]
                steps.append((node, spec, sources, missing, cacheable, block, len(sources) == 1 and not missing))
            if block == "output":
                outputs.append(node_id)
            elif block == "input":
                inputs.append(node_id)
            children = out.get(node_id)
            if children:
                for e in children:
                    child = e.dst
                    feeds = into[child]
                    if len(feeds) == 1:  # its one input is placed: so is it
                        order.append(child)
                    else:
                        left = waiting.get(child, len(feeds)) - 1
                        waiting[child] = left
                        if not left:
                            order.append(child)
            else:
                sinks.append(node_id)
        self.order = order
        self.position = position  # node id -> index in the order
        self.steps = steps
        self.memos = [_UNKNOWN] * len(steps)
        self.built = [_NO_REPORT] * len(steps)  # (result, its NodeReport), once a view asked for it
        if previous is not None:
            self._adopt(previous)
        self.unused, self.fed_by_input = _reachability(design, self, outputs, inputs, sinks, into)
        self.has_input = bool(inputs)
        self.has_output = bool(outputs)

    def _adopt(self, previous: "_Plan") -> None:
        """A structural edit (a node or an edge added or removed) rebuilds the plan; every other
        node keeps its last result, so the edit costs about as much as a parameter edit. A node
        takes over its last memo when it is the same node of the same spec: the memo itself
        guards everything else its result depends on (parameters, frozen, input shapes and
        fields, in port order), wherever its inputs now come from. A failed result is
        recomputed, since Add's message depends on which input is the shortcut, a structural fact."""
        earlier = previous.position
        old_steps, old_memos, old_built = previous.steps, previous.memos, previous.built
        order, memos, built = self.order, self.memos, self.built
        for i, step in enumerate(self.steps):
            j = earlier.get(order[i])
            if j is not None:
                memo = old_memos[j]
                if memo[0] is not None:
                    old = old_steps[j]
                    if old[0] is step[0] and old[1] is step[1]:
                        memos[i], built[i] = memo, old_built[j]


def _stamp(design: Design) -> tuple:
    # A user block's inside may be edited in place: its version is part of the stamp.
    inner = tuple(c.design.version for c in design.composites.values()) if design.composites else ()
    return design.structure_version, len(design.nodes), len(design.edges), inner


def _plan_for(design: Design) -> _Plan:
    plan = _PLANS.get(design)
    if plan is None or plan.stamp != _stamp(design):
        plan = _PLANS[design] = _Plan(design, plan)
    return plan


def _infer(node, spec, cacheable: bool, ins: tuple, key: tuple):
    """A node's result without its receptive field, ``(shape, rf step, counts, warnings, spatial
    axes, window)`` (counts: see _UNKNOWN; window: an image window's step ``(k0, s0, k1, s1)``,
    else None, so that composing the field of every later node of this configuration needs no
    tests of the step's form), stored in the shared cache; or the ShapeProblem."""
    try:
        inf = spec.infer(node.params, list(ins))
    except ShapeProblem as e:
        return e
    values = inf.activations if inf.activations is not None else math.prod(inf.shape)
    params = inf.params
    act_bytes = values * BYTES_PER_VALUE
    counts = (0, params, inf.buffers, inf.macs, act_bytes) if key[3] or not spec.trainable \
        else (params, 0, inf.buffers, inf.macs, act_bytes)
    shape, rf = inf.shape, inf.rf
    window = None
    if type(rf) is tuple and len(rf) == 2 and len(shape) == 3:  # an image's window: (k, s) per axis
        (k0, s0), (k1, s1) = rf
        window = k0, s0, k1, s1
    found = (shape, rf, counts, inf.warnings, len(shape) - 1, window)
    if cacheable:
        if len(_CACHE) > _CACHE_LIMIT:
            _CACHE.clear()
        _CACHE[key] = found
    return found


def analyze(design: Design) -> Report:
    plan = _plan_for(design)
    memos = plan.memos
    results: list[tuple] = []  # per node in the order: its result (see _UNKNOWN)
    add_result = results.append
    made: dict[str, NodeReport] = {}  # reports the pass makes itself (an unconnected input)
    flagged = []  # nodes with diagnostics, in order
    for i, (node, spec, sources, missing, cacheable, block, single) in enumerate(plan.steps):
        if single:  # one input, all ports fed: the common case, kept short (no tuples of inputs)
            upstream = results[sources[0]]
            shape = upstream[0]
            if shape is None:  # unknown upstream: the upstream node carries the error
                add_result(_UNKNOWN)
                continue
            in_rfs = upstream[1]  # one input: its shape and field as they are, not in 1-tuples
            shape_key = shape if type(shape) is tuple else _shape_key((shape,))
        elif len(sources) == 2 and not missing:  # an Add or a Concatenate of two branches: no lists made
            first, second = results[sources[0]], results[sources[1]]
            ins = (first[0], second[0])
            if ins[0] is None or ins[1] is None:
                add_result(_UNKNOWN)
                continue
            in_rfs = (first[1], second[1])
            shape_key = _shape_key(ins)
        else:
            ins = tuple([results[j][0] for j in sources])
            if missing:
                made[node.id] = NodeReport(node.id, block, list(ins), None, diagnostics=[Diagnostic(
                    "error", "no-input", f"{spec.title} '{node.name}' has nothing connected to its input"
                    + (f" port '{missing[0]}'" if len(spec.inputs) > 1 else ""),
                    "drag an edge from the previous block's output to this block's input", node.id)])
                add_result(_UNKNOWN)
                flagged.append(node.id)
                continue
            if None in ins:
                add_result(_UNKNOWN)
                continue
            # Several inputs (or none): tuples of them, which never equal one input's shape or field.
            in_rfs = tuple([results[j][1] for j in sources])
            shape_key = _shape_key(ins)
        values = node._values  # the parameter values as one hashable tuple, replaced on every edit
        frozen_flag = node.frozen
        memo = memos[i]
        # set_params replaces a node's values whole, and a plan adopts a memo only for the same
        # node object: the same values object is the sign of no edit.
        if memo[4] is values and memo[6] == shape_key and memo[7] == in_rfs and memo[5] == frozen_flag \
                and cacheable:
            result = memo  # the same object: a view holding its report sees no change
            if result[3]:
                flagged.append(node.id)
        else:
            found = _CACHE.get((block, values, shape_key, frozen_flag)) if cacheable else None
            if found is not None and not found[3]:
                # Seen elsewhere (a repeated layer, or a cold analysis's second block of a stage):
                # only the receptive field is this node's own.
                shape, rf_step, counts, _, axes, window = found
                if not single:
                    rf = compose_rf(in_rfs, rf_step, shape)
                elif rf_step is None:  # element-wise: the field is unchanged
                    rf = in_rfs if in_rfs and len(in_rfs) == axes else None
                elif window is not None and in_rfs and len(in_rfs) == 2:
                    # An image's window (a convolution, a pooling): compose_one's arithmetic, written
                    # out here, since a call costs as much as the arithmetic for every such node.
                    (size0, jump0), (size1, jump1) = in_rfs
                    k0, s0, k1, s1 = window
                    rf = (size0 + (k0 - 1) * jump0, jump0 * s0), (size1 + (k1 - 1) * jump1, jump1 * s1)
                else:
                    rf = compose_one(in_rfs, rf_step, axes + 1)
                result = (shape, rf, counts, (), values, frozen_flag, shape_key, in_rfs)
            else:
                result = _evaluate(node, spec, cacheable, (shape,) if single else ins, shape_key,
                                   (in_rfs,) if single else in_rfs, values, design, plan, results, found) \
                    + (values, frozen_flag, shape_key, in_rfs)
                if result[3]:
                    flagged.append(node.id)
        add_result(result)
    plan.memos = results  # the next pass's memos: a new list, never edited once a report holds it
    reports = NodeReports(plan, results, made)
    flagged = _design_checks(design, plan, reports, flagged)
    diagnostics = [d for node_id in flagged for d in reports[node_id].diagnostics]
    return Report(reports, plan.order, diagnostics + _design_level(plan))


def _evaluate(node, spec, cacheable, ins, shape_key, in_rfs, values, design, plan, results, found) -> tuple:
    """A node's result without what it was computed from: (shape, rf, counts, diagnostics);
    ``found`` is the cached one without its receptive field, if any."""
    node_id = node.id
    if found is None:
        found = _infer(node, spec, cacheable, ins, (node.block, values, shape_key, node.frozen))
        if type(found) is not tuple:
            problem = found
            if node.block == "add" and len(ins) > 1:
                problem = _add_problem(design, spec, node.params, design.incoming(node_id), plan, results) or problem
            return None, None, _NO_COUNTS, (Diagnostic("error", "shape", problem.message, problem.fix, node_id,
                                                       problem.expected, problem.received),)
    shape, rf_step, counts, warnings, _, _ = found
    rf = compose_one(in_rfs[0], rf_step, len(shape)) if len(in_rfs) == 1 else compose_rf(in_rfs, rf_step, shape)
    if warnings:
        warnings = tuple([Diagnostic("warning", w.code, w.message, w.fix, node_id) for w in warnings])
    return shape, rf, counts, warnings


def _add_problem(design: Design, spec, params, edges, plan: _Plan, results: list) -> ShapeProblem | None:
    """Add's fix names the shortcut, which its shapes alone cannot tell: the shortcut is the
    input whose source also feeds the other input (it skips the branch), so put it last."""
    def is_shortcut(edge):
        return any(other.src != edge.src and design._reaches(edge.src, other.src) for other in edges)
    ordered = sorted(edges, key=is_shortcut)
    try:
        spec.infer(params, [results[plan.position[e.src]][0] for e in ordered])
    except ShapeProblem as problem:
        return problem
    return None


def _reachability(design: Design, plan: _Plan, outputs: list[str], inputs: list[str], sinks: list[str],
                  into: Mapping[str, list[Edge]]) -> tuple[list[str], dict[str, bool]]:
    """Nodes that lead to no Output, and for each Output whether an Input feeds it."""
    if not outputs:
        return [], {}
    nodes, steps = design.nodes, plan.steps
    if len(outputs) == 1 and len(steps) == len(nodes) and sinks == outputs:
        # The Output is the only node that feeds nothing: following edges
        # forward from any node ends there, so every node leads to it, the Inputs included.
        return [], {outputs[0]: bool(inputs)}
    if len(outputs) == 1 and len(steps) == len(nodes):
        # Backwards through the order: a node feeds the Output when a node it feeds does.
        feeds = [False] * len(steps)
        feeds[plan.position[outputs[0]]] = True
        for i in range(len(steps) - 1, -1, -1):
            if feeds[i]:
                for j in steps[i][2]:
                    feeds[j] = True
        # The edges of a node with an unconnected port are all among its sources.
        order = plan.order
        feeding = {order[i] for i, fed in enumerate(feeds) if fed}
        fed_by_input = {outputs[0]: bool(inputs) and not feeding.isdisjoint(inputs)}
    else:
        feeding = set()
        fed_by_input = {}
        for out in sorted(outputs, key=list(nodes).index):  # per output: one of two heads may be cut off
            stack, seen = [out], set()
            while stack:
                n = stack.pop()
                if n not in seen:
                    seen.add(n)
                    stack.extend(e.src for e in into.get(n, ()))
            feeding |= seen
            fed_by_input[out] = bool(inputs) and not seen.isdisjoint(inputs)
    unused = [n for n in nodes if n not in feeding] if len(feeding) < len(nodes) else []
    return unused, fed_by_input


def _design_checks(design: Design, plan: _Plan, reports: NodeReports, flagged: list[str]) -> list[str]:
    """Warnings that need the whole graph: unused nodes, unreachable outputs, class count.
    Returns the nodes with diagnostics, in order."""
    more = []
    for node_id in plan.unused:
        node = design.nodes[node_id]
        reports._add_diagnostic(node_id, Diagnostic(
            "warning", "unused", f"'{node.name}' does not lead to any Output; its result is thrown away",
            "connect it to the rest of the network, or delete it", node_id))
        more.append(node_id)
    for node_id, fed in plan.fed_by_input.items():
        if plan.has_input and not fed:
            reports._add_diagnostic(node_id, Diagnostic(
                "warning", "unreachable", "the output is not connected to any Input",
                "connect the Input to the first layer", node_id))
        shape = reports[node_id].shape
        classes = design.num_classes
        if shape is not None and classes is not None:
            if len(shape) != 1:
                reports._add_diagnostic(node_id, Diagnostic(
                    "warning", "output-not-flat", f"the output is {fmt_shape(shape)}, not one score per class",
                    "end with global pooling or Flatten → Linear", node_id, (classes,), shape))
            elif shape[0] != classes:
                reports._add_diagnostic(node_id, Diagnostic(
                    "warning", "class-count",
                    f"the output has {shape[0]} values but the design has {classes} classes",
                    f"set the last Linear to {classes} outputs, or the class count to {shape[0]}", node_id,
                    classes, shape[0]))
        if reports[node_id].diagnostics:
            more.append(node_id)
    if not more:
        return flagged
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
