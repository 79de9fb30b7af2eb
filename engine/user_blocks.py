"""User-defined composite blocks: a selection of nodes saved as a reusable block.

A definition is a small design whose Input nodes are the block's inputs (in order) and whose
Output node marks its result. It travels inside the design file, and is analysed and compiled
through the same sub-graph machinery as the built-in composites.
"""
from __future__ import annotations

from .blocks.base import BlockSpec, Port, ShapeProblem, SubGraph
from .blocks.composites import make_infer
from .errors import DesignError
from .names import module_name


def spec_for(definition, owner) -> BlockSpec:
    inner = definition.design
    inputs = inner.input_nodes()
    ports = tuple(Port("in" if i == 0 else f"in{i + 1}") for i in range(len(inputs)))

    def expand(params, in_shapes) -> SubGraph:
        if len(in_shapes) != len(inputs):
            raise ShapeProblem(f"{definition.title} takes {len(inputs)} inputs, receives {len(in_shapes)}",
                               fix="connect one edge to each input port")
        outputs = inner.output_nodes()
        if len(outputs) != 1:
            raise ShapeProblem(f"{definition.title} must contain exactly one Output",
                               fix="open the block and add an Output after its last layer")
        alias = {n.id: f"$in{i}" for i, n in enumerate(inputs)}
        for n, shape in zip(inputs, in_shapes):
            if len(n.params["shape"]) != len(shape):
                raise ShapeProblem(f"{definition.title} expects a {len(n.params['shape'])}-D input",
                                   received=shape)
        order = [i for i in inner.topological_order() if i not in alias and inner.nodes[i].block != "output"]
        out_src = inner.incoming(outputs[0].id)
        if not out_src:
            raise ShapeProblem(f"{definition.title}: its Output is not connected", fix="open the block and connect it")
        # Inner ids come from the file: they become attribute names of the compiled block and
        # of exported code, so each is made a plain identifier (never "x", the block's input).
        taken = {"x"} | {f"x{i}" for i in range(len(inputs))}
        alias.update((i, module_name(i, taken)) for i in order)
        nodes = [(alias[i], inner.nodes[i].block, inner.nodes[i].params) for i in order]
        wanted = set(order)
        edges = [(alias.get(e.src, e.src), alias[e.dst], e.dst_port) for e in inner.edges if e.dst in wanted]
        return SubGraph(nodes, edges, alias[out_src[0].src])

    return BlockSpec(definition.key, definition.title, "Composite", definition.doc or "user-defined block",
                     (), make_infer(expand, owner.spec), None, inputs=ports, expand=expand, doc=definition.doc)


def define_from_selection(design, node_ids, key: str, title: str):
    """Make a definition from selected nodes: edges entering the selection become inputs
    (with the shapes they carry now), the single edge leaving it the output."""
    from .analysis import analyze
    from .graph import CompositeDefinition, Design

    selected = set(node_ids)
    if not selected:
        raise DesignError("select the nodes to group first")
    if any(design.nodes[n].block in ("input", "output") for n in selected):
        raise DesignError("Input and Output nodes cannot be part of a block")
    report = analyze(design)
    entering = [e for e in design.edges if e.dst in selected and e.src not in selected]
    leaving = {e.src for e in design.edges if e.src in selected and e.dst not in selected}
    if len(leaving) != 1:
        raise DesignError(f"a block has one output, but {len(leaving)} selected nodes feed the rest of the "
                          "network; select a part with a single exit")
    fed = {(e.dst, e.dst_port) for e in design.edges}
    for n in selected:
        for port in design.spec(design.nodes[n].block).inputs:
            if (n, port.name) not in fed:
                raise DesignError(f"'{design.nodes[n].name}' has nothing connected to its input "
                                  f"'{port.name}'; connect it before grouping, so the block knows its input")
    inner = Design(title)
    sources = []
    for e in entering:
        if e.src not in sources:
            sources.append(e.src)
    for i, src in enumerate(sources):
        shape = report.nodes[src].shape
        if shape is None:
            raise DesignError("fix the errors before the selection first: its input shape is unknown")
        inner.add_node("input", {"shape": list(shape)}, node_id=f"input{i + 1}")
    for n in design.topological_order():
        if n in selected:
            node = design.nodes[n]
            inner.add_node(node.block, node.params, node.pos, node_id=n, label=node.label)
    for e in design.edges:
        if e.dst in selected:
            src = f"input{sources.index(e.src) + 1}" if e.src not in selected else e.src
            inner.connect(src, e.dst, e.src_port, e.dst_port)
    out = inner.add_node("output", node_id="output")
    inner.connect(next(iter(leaving)), out.id)
    return CompositeDefinition(key, title, inner)
