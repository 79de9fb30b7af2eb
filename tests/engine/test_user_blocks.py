"""User-defined composite blocks: made from a selection, analysed and compiled like the nodes
they replace, and carried inside the design file."""
from __future__ import annotations

import pytest
import torch

from engine import Design, DesignError, analyze, compile_design
from engine.compile import count_parameters
from engine.persistence import dumps, loads
from engine.user_blocks import define_from_selection


def original():
    d = Design("orig", num_classes=5)
    ids = d.chain(("input", {"shape": [3, 12, 12]}), ("conv2d", {"out_channels": 8, "padding": 1}),
                  "batchnorm2d", "relu", ("conv2d", {"out_channels": 8, "kernel": 3, "stride": 2}), "relu")
    inp, conv1, bn, relu1, conv2, relu2 = ids
    add = d.add_node("add").id
    d.connect(relu1, add)
    d.connect(conv1, add)  # an inner skip: the block's inside is a DAG, not a chain
    tail = d.chain("global_avgpool", ("linear", {"out_features": 5}), "output", after=relu2)
    d.disconnect(d.incoming(conv2)[0])
    d.connect(add, conv2)
    return d, {"input": inp, "sel": [conv1, bn, relu1, add, conv2, relu2], "tail": tail}


def with_block(d: Design, sel, key="user:stem"):
    """A new design: Input → the user block → the same tail."""
    definition = define_from_selection(d, sel, key, "Stem")
    u = Design("user", num_classes=5)
    u.add_composite(definition)
    ids = u.chain(("input", {"shape": [3, 12, 12]}), key, "global_avgpool", ("linear", {"out_features": 5}), "output")
    return u, ids


def test_block_analyses_like_its_nodes():
    d, ids = original()
    u, uids = with_block(d, ids["sel"])
    r_orig, r_user = analyze(d), analyze(u)
    assert r_orig.valid and r_user.valid, r_user.diagnostics
    block = r_user.nodes[uids[1]]
    last = r_orig.nodes[ids["sel"][-1]]
    assert block.shape == last.shape == (8, 5, 5)
    inner = [r_orig.nodes[i] for i in ids["sel"]]
    assert block.params == sum(n.params for n in inner)
    assert block.macs == sum(n.macs for n in inner)
    assert block.buffers == sum(n.buffers for n in inner)
    assert block.receptive_field == last.receptive_field
    assert (r_user.total_params, r_user.macs) == (r_orig.total_params, r_orig.macs)
    assert r_user.nodes[uids[-1]].shape == (5,)


def test_block_compiles_like_its_nodes():
    d, ids = original()
    u, uids = with_block(d, ids["sel"])
    m_orig, m_user = compile_design(d), compile_design(u)
    assert count_parameters(m_orig) == count_parameters(m_user)
    # Same weights, same function: copy them over in order and compare outputs.
    with torch.no_grad():
        for p_user, p_orig in zip(m_user.parameters(), m_orig.parameters(), strict=True):
            assert p_user.shape == p_orig.shape
            p_user.copy_(p_orig)
    m_orig.eval(), m_user.eval()
    x = torch.randn(2, 3, 12, 12)
    torch.testing.assert_close(m_user(x), m_orig(x))


def test_block_survives_save_and_load():
    d, ids = original()
    u, uids = with_block(d, ids["sel"])
    text = dumps(u)
    loaded = loads(text)
    assert dumps(loaded) == text
    assert "user:stem" in loaded.composites
    r1, r2 = analyze(u), analyze(loaded)
    assert [(n.shape, n.params, n.macs) for n in r1.nodes.values()] == \
           [(n.shape, n.params, n.macs) for n in r2.nodes.values()]
    assert compile_design(loaded)(torch.randn(1, 3, 12, 12)).shape == (1, 5)


def test_block_used_inside_the_design_it_came_from():
    d, ids = original()
    d.add_composite(define_from_selection(d, ids["sel"], "user:stem", "Stem"))
    second = d.chain("user:stem", after=ids["input"])
    report = analyze(d)
    assert report.nodes[second[0]].shape == (8, 5, 5)
    assert "unused" in [x.code for x in report.nodes[second[0]].diagnostics]


def test_block_with_two_inputs():
    d = Design()
    a = d.add_node("input", {"shape": [4, 6, 6]}).id
    b = d.add_node("input", {"shape": [2, 6, 6]}).id
    cat = d.add_node("concat").id
    d.connect(a, cat)
    d.connect(b, cat)
    (conv,) = d.chain(("conv2d", {"out_channels": 3, "kernel": 1}), after=cat)
    d.chain("output", after=conv)
    definition = define_from_selection(d, [cat, conv], "user:merge", "Merge")
    u = Design()
    u.add_composite(definition)
    ua = u.add_node("input", {"shape": [4, 6, 6]}).id
    ub = u.add_node("input", {"shape": [2, 6, 6]}).id
    m = u.add_node("user:merge").id
    u.connect(ua, m)
    u.connect(ub, m, dst_port="in2")
    u.chain("output", after=m)
    report = analyze(u)
    assert report.valid and report.nodes[m].shape == (3, 6, 6) and report.nodes[m].params == 6 * 3 + 3
    out = compile_design(u)(torch.randn(1, 4, 6, 6), torch.randn(1, 2, 6, 6))
    assert out.shape == (1, 3, 6, 6)


def test_selection_rules():
    d, ids = original()
    with pytest.raises(DesignError):
        define_from_selection(d, [], "user:x", "X")
    with pytest.raises(DesignError):
        define_from_selection(d, [ids["input"], ids["sel"][0]], "user:x", "X")
    with pytest.raises(DesignError, match="one output"):
        define_from_selection(d, ids["sel"][:2] + [ids["sel"][4]], "user:x", "X")  # two exits


def test_selection_with_an_unconnected_input_is_refused():
    d = Design()
    (inp,) = d.chain(("input", {"shape": [3, 8, 8]}))
    floating = d.add_node("residual_basic", {"out_channels": 3}).id  # nothing feeds it
    d.chain("global_avgpool", "output", after=floating)
    with pytest.raises(DesignError, match="nothing connected to its input 'in'"):
        define_from_selection(d, [floating], "user:x", "X")


def test_block_whose_inside_is_not_wired_reports_instead_of_crashing():
    """A definition as a hand-edited file could carry it: an inner node nothing feeds."""
    from engine.graph import CompositeDefinition

    inner = Design("broken")
    inner.add_node("input", {"shape": [3, 8, 8]}, node_id="input1")
    inner.add_node("residual_basic", {"out_channels": 3}, node_id="res")  # not fed
    inner.connect("res", inner.add_node("output", node_id="output").id)
    u = Design()
    u.add_composite(CompositeDefinition("user:broken", "Broken", inner))
    ids = u.chain(("input", {"shape": [3, 8, 8]}), "user:broken", "output")
    report = analyze(u)
    assert not report.valid
    message = " ".join(d.message for d in report.nodes[ids[1]].diagnostics)
    assert "inside 'res'" in message and "nothing is connected" in message
