"""Design → ordered steps: the one walk that compiling and code export share.

Both the compiled module (:mod:`engine.compile`) and the exported source
(:mod:`engine.export.codegen`) need the same facts about a design: which nodes lead to an
Output, in what order they run, what each is called, which values it reads (in port order),
the shapes it sees, and what a composite block holds inside. :func:`lower` works them out
once, as a :class:`Lowered` — a list of :class:`Step` — and the two consumers only turn
steps into an ``fx.Graph`` or into lines of Python. So a submodule of the compiled model and
the attribute that the exported file assigns always have the same name, and the exported
``state_dict`` loads into either.

A composite block's step holds its inside as a nested :class:`Lowered` of the same form:
its inputs (``$in0``, ``$in1``, ...) become input steps named ``x`` (one input) or ``x0``,
``x1``, ... and its locals keep their ids (already identifiers: user blocks pass them through
:func:`engine.names.module_name` when they expand).

No torch here: lowering is arithmetic on the design, like the analysis.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .analysis import Report, analyze
from .blocks import BlockSpec, SubGraph
from .errors import CompileError
from .graph import Design
from .names import module_name

# Operations without weights, which the exported code writes inline in ``forward``.
INLINE = frozenset({"add", "concat", "identity", "output"})


@dataclass
class Step:
    """One value of the network.

    ``name``: the submodule / attribute / variable name; ``node_id``: the design id (a local id
    inside a composite, ``$in<i>`` for its inputs); ``kind``: ``"input"``, ``"module"`` or the
    inline operation (``"add"``, ``"concat"``, ``"identity"``, ``"output"``); ``sources``: the
    names of the steps it reads, in port order; ``label``: the name a person knows it by (the
    node's label or id; the local id inside a composite), for messages; ``inner``: a
    composite's inside, else None."""

    name: str
    node_id: str
    block: str
    spec: BlockSpec
    kind: str
    params: dict
    input_shapes: list
    sources: tuple[str, ...]
    shape: tuple | None
    frozen: bool = False
    label: str = ""
    inner: "Lowered | None" = None


@dataclass
class Lowered:
    """Steps in execution order (inputs included, as ``kind == "input"`` steps), the names of
    the input and output values, and design id → name for every step."""

    steps: list[Step]
    inputs: list[str]
    outputs: list[str]
    names: dict[str, str] = field(default_factory=dict)

    @property
    def modules(self) -> list[Step]:
        """Steps that are neither inputs nor inline operations (attributes of exported code)."""
        return [s for s in self.steps if s.kind == "module"]


def lower(design: Design, report: Report | None = None, keep=(), error: type[CompileError] = CompileError) -> Lowered:
    """The steps computing ``design``'s outputs (and the nodes in ``keep``, e.g. taps). Raises
    ``error`` with the diagnostics when the analysis has errors, or when there is no Output."""
    report = report or analyze(design)
    if not report.valid:
        raise error("the design has errors:\n" + "\n".join(f"  {d}" for d in report.errors), report.errors)
    outputs = [n.id for n in design.output_nodes()]
    if not outputs:
        raise error("the design has no Output block; add one after the last layer")
    needed = design.ancestors(outputs + list(keep))
    taken: set[str] = set()
    names: dict[str, str] = {}
    steps: list[Step] = []
    for node_id in report.order:
        if node_id not in needed:
            continue
        node = design.nodes[node_id]
        name = names[node_id] = module_name(node.name, taken)
        spec = design.spec(node.block)
        nrep = report.nodes[node_id]
        params = dict(node.params)
        if node.block == "input":
            steps.append(Step(name, node_id, "input", spec, "input", params, [], (), nrep.shape, node.frozen,
                              node.name))
            continue
        sources = tuple(names[e.src] for e in ordered_inputs(design, spec, node_id))
        inner = lower_block(spec, params, nrep.input_shapes, design.spec) if spec.expand is not None else None
        steps.append(Step(name, node_id, node.block, spec, _kind(node.block), params, nrep.input_shapes, sources,
                          nrep.shape, node.frozen, node.name, inner))
    inputs = [s.name for s in steps if s.kind == "input"]
    return Lowered(steps, inputs, [names[o] for o in outputs], names)


def lower_block(spec: BlockSpec, params: dict, in_shapes: list, resolve) -> Lowered:
    """A composite block's inside for these parameters and input shapes."""
    assert spec.expand is not None, f"{spec.key} is not a composite block"
    return lower_subgraph(spec.expand(params, in_shapes), in_shapes, resolve)


def lower_subgraph(sub: SubGraph, in_shapes: list, resolve) -> Lowered:
    """The steps of an expanded composite; ``resolve`` maps a block key to its spec. Local
    shapes come from each inner block's own shape rule; sources are in edge order."""
    placeholders = ["x"] if len(in_shapes) == 1 else [f"x{i}" for i in range(len(in_shapes))]
    names = {f"$in{i}": p for i, p in enumerate(placeholders)}
    shapes = {f"$in{i}": s for i, s in enumerate(in_shapes)}
    input_spec = resolve("input")
    steps = [Step(p, f"$in{i}", "input", input_spec, "input", {"shape": list(s)}, [], (), s, label=p)
             for i, (p, s) in enumerate(zip(placeholders, in_shapes))]
    incoming: dict[str, list[str]] = {}
    for src, dst, _port in sub.edges:
        incoming.setdefault(dst, []).append(src)
    for local, key, p in sub.nodes:
        spec = resolve(key)
        params = spec.validate_params(p)
        srcs = incoming.get(local, [])
        ins = [shapes[s] for s in srcs]
        inner = lower_block(spec, params, ins, resolve) if spec.expand is not None else None
        shapes[local] = spec.infer(params, ins).shape
        names[local] = local
        steps.append(Step(local, local, key, spec, _kind(key), params, ins, tuple(names[s] for s in srcs),
                          shapes[local], label=local, inner=inner))
    return Lowered(steps, placeholders, [names[sub.output]], names)


def ordered_inputs(design: Design, spec: BlockSpec, node_id: str):
    """The edges into ``node_id``, in the order of its block's ports (then edge order)."""
    edges = design.incoming(node_id)
    if len(spec.inputs) > 1:
        ports = [p.name for p in spec.inputs]
        edges.sort(key=lambda e: ports.index(e.dst_port))
    return edges


def _kind(block: str) -> str:
    return block if block in INLINE else "module"
