"""The design model's mutation API: typed errors (design unchanged), events, stable ids, and
designs with several inputs and outputs."""
from __future__ import annotations

import pytest
import torch

from engine import (
    CycleError,
    Design,
    DesignError,
    Edge,
    ParameterError,
    PortError,
    PortOccupiedError,
    UnknownBlockError,
    UnknownNodeError,
    analyze,
    compile_design,
)
from engine.persistence import dumps


def small() -> tuple[Design, list[str]]:
    d = Design("small", num_classes=10)
    ids = d.chain(("input", {"shape": [1, 8, 8]}), ("conv2d", {"out_channels": 4, "padding": 1}), "relu",
                  "flatten", ("linear", {"out_features": 10}), "output")
    return d, ids


def snapshot(d: Design):
    return dumps(d), d.version, d.structure_version


def refuses(d: Design, error, action, *args, **kwargs):
    """The action raises ``error``, emits nothing and leaves the design exactly as it was."""
    events = []
    unsubscribe = d.subscribe(events.append)
    before = snapshot(d)
    with pytest.raises(error) as info:
        action(*args, **kwargs)
    unsubscribe()
    assert snapshot(d) == before
    assert events == []
    return str(info.value)


def test_cycles_are_refused():
    d = Design()
    inp = d.add_node("input", {"shape": [4]}).id
    add = d.add_node("add").id  # a multi-input port: only the cycle check can refuse
    d.connect(inp, add)
    relu, lin = d.chain("relu", ("linear", {"out_features": 4}), after=add)
    message = refuses(d, CycleError, d.connect, lin, add)
    assert "cycle" in message
    refuses(d, CycleError, d.connect, relu, add)
    refuses(d, CycleError, d.connect, add, add)


def test_second_edge_into_single_input_port():
    d, (inp, conv, relu, flat, lin, out) = small()
    other = d.add_node("relu").id
    d.connect(inp, other)
    message = refuses(d, PortOccupiedError, d.connect, other, relu)
    assert "already has an input" in message and "Add or Concatenate" in message
    # Multi-input ports take any number of edges.
    cat = d.add_node("concat").id
    d.connect(conv, cat)
    d.connect(relu, cat)
    d.connect(other, cat)
    assert len(d.incoming(cat)) == 3


def test_duplicate_edges_and_unknown_ports_are_refused():
    d, (inp, conv, relu, flat, lin, out) = small()
    cat = d.add_node("concat").id
    d.connect(conv, cat)
    refuses(d, PortError, d.connect, conv, cat)
    refuses(d, PortError, d.connect, conv, relu, "out", "nope")
    refuses(d, PortError, d.connect, conv, relu, "side", "in")
    refuses(d, PortError, d.connect, out, relu)  # Output has no output port
    refuses(d, PortError, d.connect, conv, inp)  # Input has no input port


def test_unknown_blocks_and_nodes():
    d, ids = small()
    message = refuses(d, UnknownBlockError, d.add_node, "conv7d")
    assert "conv7d" in message and "conv2d" in message  # lists what exists
    refuses(d, UnknownNodeError, d.connect, ids[0], "ghost")
    refuses(d, UnknownNodeError, d.remove_node, "ghost")
    refuses(d, UnknownNodeError, d.set_param, "ghost", "p", 1)
    refuses(d, UnknownNodeError, d.move, "ghost", (1, 2))
    refuses(d, DesignError, d.add_node, "relu", node_id=ids[1])  # duplicate id
    refuses(d, DesignError, d.add_node, "relu", node_id="x" * 101)
    refuses(d, DesignError, d.disconnect, Edge("a", "b"))


@pytest.mark.parametrize("block,params", [
    ("conv2d", {"out_channels": 0}), ("conv2d", {"out_channels": 10 ** 9}), ("conv2d", {"out_channels": 2.5}),
    ("conv2d", {"out_channels": "16"}), ("conv2d", {"out_channels": True}), ("conv2d", {"kernel": [3, 3, 3, 3, 3]}),
    ("conv2d", {"kernel": []}), ("conv2d", {"padding": "full"}), ("conv2d", {"bias": 1}),
    ("conv2d", {"stride": None}), ("conv2d", {"colour": 3}), ("dropout", {"p": 1.5}), ("dropout", {"p": -0.1}),
    ("dropout", {"p": float("nan")}), ("dropout", {"p": float("inf")}), ("linear", {"out_features": 10 ** 9}),
    ("input", {"shape": [1, 0, 28]}), ("input", {"shape": 28}), ("input", {"shape": []}),
    ("inception_v1", {"branch3_kernel": 4}), ("leaky_relu", {"negative_slope": "a"}),
])
def test_out_of_range_values_are_refused(block, params):
    d, ids = small()
    refuses(d, ParameterError, d.add_node, block, params)
    # The same values through set_params on an existing node of that block.
    node = d.add_node(block).id
    before = dict(d.node(node).params)
    refuses(d, ParameterError, d.set_params, node, params)
    assert d.node(node).params == before


def test_parameter_values_are_normalised():
    d = Design()
    node = d.add_node("conv2d", {"kernel": [3, 3], "stride": 2.0, "padding": [1, 2]})
    assert node.params["kernel"] == 3 and node.params["stride"] == 2 and isinstance(node.params["stride"], int)
    assert node.params["padding"] == [1, 2]
    assert node.params["out_channels"] == 16  # default filled in


def test_events_are_emitted_for_every_mutation():
    d = Design()
    events = []
    unsubscribe = d.subscribe(events.append)
    a = d.add_node("input", {"shape": [3, 8, 8]}).id
    b = d.add_node("conv2d").id
    edge = d.connect(a, b)
    d.set_param(b, "out_channels", 8)
    d.set_param(b, "out_channels", 8)  # no change, no event
    d.move(b, (10, 20))
    d.set_label(b, "stem")
    d.set_frozen(b, True)
    d.set_meta(num_classes=3)
    d.remove_node(b)
    kinds = [e.kind for e in events]
    assert kinds == ["node_added", "node_added", "edge_added", "params_changed", "node_moved", "node_changed",
                     "node_changed", "meta_changed", "edge_removed", "node_removed"]
    assert events[2].edge == edge and events[3].detail == {"out_channels": 16}
    assert events[-1].node_id == b and events[-2].edge == edge
    version = d.version
    unsubscribe()
    d.add_node("relu")
    assert len(events) == 10 and d.version == version + 1


def test_listeners_may_unsubscribe_while_notified():
    d = Design()
    seen = []

    def once(event):
        seen.append(event.kind)
        unsubscribe()

    unsubscribe = d.subscribe(once)
    d.add_node("relu")
    d.add_node("relu")
    assert seen == ["node_added"]


def test_ids_are_stable_and_never_reused():
    d, ids = small()
    relu = ids[2]
    d.remove_node(relu)
    new = d.add_node("relu").id
    assert new != relu and new not in ids
    assert list(d.nodes)[:2] == ids[:2]  # other ids untouched
    explicit = d.add_node("relu", node_id="my_relu")
    assert explicit.id == "my_relu"
    # Ids survive a copy, and the copy hands out fresh ones.
    clone = d.copy()
    assert list(clone.nodes) == list(d.nodes)
    assert clone.add_node("relu").id not in d.nodes


def test_remove_node_returns_what_undo_needs():
    d, (inp, conv, relu, flat, lin, out) = small()
    before = dumps(d)
    node, edges = d.remove_node(relu)
    assert [e for _, e in edges] == [(conv, relu, "out", "in"), (relu, flat, "out", "in")]
    assert relu not in d.nodes and all(relu not in (e.src, e.dst) for e in d.edges)
    d.restore_node(node)
    for index, edge in edges:
        d.connect(edge.src, edge.dst, edge.src_port, edge.dst_port, index=index)
    assert analyze(d).valid and sorted(dumps(d).splitlines()) == sorted(before.splitlines())


def test_topological_order_follows_edges_not_insertion():
    d = Design()
    late = d.add_node("relu").id
    first = d.add_node("input", {"shape": [4]}).id
    d.connect(first, late)
    order = d.topological_order()
    assert order.index(first) < order.index(late)


def test_multi_input_multi_output_design():
    d = Design("two heads")
    img = d.add_node("input", {"shape": [3, 8, 8]}).id
    aux = d.add_node("input", {"shape": [5, 8, 8]}).id
    cat = d.add_node("concat").id
    d.connect(img, cat)
    d.connect(aux, cat)
    trunk = d.chain(("conv2d", {"out_channels": 6, "padding": 1}), "relu", "global_avgpool", after=cat)
    head1 = d.chain(("linear", {"out_features": 3}), "output", after=trunk[-1])
    head2 = d.chain(("linear", {"out_features": 2}), "output", after=trunk[-1])
    report = analyze(d)
    assert report.valid, report.diagnostics
    assert report.nodes[cat].shape == (8, 8, 8)
    assert report.nodes[head1[-1]].shape == (3,) and report.nodes[head2[-1]].shape == (2,)
    model = compile_design(d).eval()
    out1, out2 = model(torch.randn(2, 3, 8, 8), torch.randn(2, 5, 8, 8))
    assert out1.shape == (2, 3) and out2.shape == (2, 2)
    # Concat takes its inputs in the order they were connected.
    d.disconnect(d.incoming(cat)[0])
    d.connect(img, cat)
    model = compile_design(d)
    assert [n.name for n in model.graph.nodes if n.op == "placeholder"][:2] == [d.nodes[img].name, d.nodes[aux].name]


def test_set_meta_refuses_unknown_properties():
    d = Design()
    refuses(d, DesignError, d.set_meta, colour="blue")
    refuses(d, DesignError, d.set_meta, name="renamed", colour="blue")  # nothing applied halfway


def test_remove_many_and_restore_many_put_everything_back_in_order():
    from engine.graph import Edge
    d = Design()
    ids = d.chain(("input", {"shape": [3, 8, 8]}), ("conv2d", {"out_channels": 4}), "relu", "flatten",
                  ("linear", {"out_features": 2}), "output")
    nodes, edges = list(d.nodes), d.edges
    events = []
    d.subscribe(events.append)
    removal = d.remove_many([ids[2], ids[4]], [Edge(ids[0], ids[1])])
    assert list(d.nodes) == [ids[0], ids[1], ids[3], ids[5]]
    assert d.edges == ()  # the edges of the removed nodes and the one named
    assert [e.kind for e in events].count("node_removed") == 2
    assert [e.kind for e in events].count("edge_removed") == 5
    d.lint()
    d.restore_many(removal)
    assert list(d.nodes) == nodes and d.edges == edges
    d.lint()


def test_remove_many_refuses_unknown_nodes_and_edges_before_changing_anything():
    from engine.graph import Edge
    d = Design()
    ids = d.chain(("input", {"shape": [3, 8, 8]}), "relu", "output")
    with pytest.raises(DesignError):
        d.remove_many([ids[1], "nope"])
    with pytest.raises(DesignError):
        d.remove_many([ids[1]], [Edge(ids[0], ids[2])])
    assert len(d.nodes) == 3 and len(d.edges) == 2


def test_restore_many_refuses_a_design_changed_since():
    d = Design()
    ids = d.chain(("input", {"shape": [3, 8, 8]}), "relu", "relu", "output")
    removal = d.remove_many([ids[1]])
    d.add_node("relu")
    with pytest.raises(DesignError, match="changed since"):
        d.restore_many(removal)


def test_replace_with_take_uses_the_nodes_as_they_are():
    d, other = Design(), Design()
    node = other.add_node("relu")
    d.replace_with(other, take=True)
    assert d.nodes[node.id] is node
    d.replace_with(other)
    assert d.nodes[node.id] is not node and d.nodes[node.id] == node
