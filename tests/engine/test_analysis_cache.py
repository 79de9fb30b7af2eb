"""The analysis caches never change a result: a warm analysis, one right after edits (node
results kept across re-plans, block arithmetic shared between designs) and a cold one (every
cache cleared) report the same thing, for every template and for random edit sequences."""
from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import engine.analysis as analysis
from engine import Design, analyze, templates
from engine.errors import DesignError, ParameterError


def summary(report) -> tuple:
    nodes = {k: (n.id, n.block, n.shape, n.input_shapes, n.trainable_params, n.frozen_params, n.buffers, n.macs,
                 n.activation_bytes, n.receptive_field, [(str(d), d.to_dict()) for d in n.diagnostics])
             for k, n in report.nodes.items()}
    return (nodes, list(report.nodes), report.order, [(str(d), d.to_dict()) for d in report.diagnostics],
            report.total_params, report.macs, report.valid)


def cold_summary(design: Design) -> tuple:
    """The analysis of a design seen for the first time, every cache cleared; the caches are put
    back afterwards, so that the warm analyses that follow keep their history."""
    saved_cache, saved_plans = dict(analysis._CACHE), dict(analysis._PLANS)
    analysis.clear_cache()
    try:
        return summary(analyze(design))
    finally:
        analysis._CACHE.update(saved_cache)
        analysis._PLANS.update(saved_plans)


def clone(design: Design) -> Design:
    """An equal design, another object (so no plan of its own yet)."""
    twin = Design(design.name, num_classes=design.num_classes)
    for n in design.nodes.values():
        twin.add_node(n.block, dict(n.params), n.pos, node_id=n.id, label=n.label, frozen=n.frozen)
    for e in design.edges:
        twin.connect(e.src, e.dst, e.src_port, e.dst_port, check_cycle=False)
    return twin


def check(design: Design) -> None:
    after_edit = summary(analyze(design))
    warm = summary(analyze(design))
    fresh_plan = summary(analyze(clone(design)))  # a new design, block arithmetic cached
    cold = cold_summary(design)
    assert after_edit == cold
    assert warm == cold
    assert fresh_plan == cold


@pytest.mark.parametrize("name", templates.names())
def test_every_template_warm_equals_cold(name):
    analysis.clear_cache()
    design = templates.build(name)
    cold = summary(analyze(design))
    assert summary(analyze(design)) == cold
    assert cold_summary(design) == cold
    # An edit in the middle, then back: incremental results equal cold ones both times.
    node_id = next(n for n in design.topological_order() if "out_channels" in design.nodes[n].params)
    width = design.nodes[node_id].params["out_channels"]
    design.set_param(node_id, "out_channels", width + 3)
    check(design)
    design.set_param(node_id, "out_channels", width)
    check(design)
    assert summary(analyze(design)) == cold


def start() -> Design:
    d = Design("cache", num_classes=10)
    ids = d.chain(("input", {"shape": [3, 16, 16]}), ("conv2d", {"out_channels": 8, "padding": 1}), "batchnorm2d",
                  "relu", ("conv2d", {"out_channels": 8, "padding": 1}), "batchnorm2d")
    add = d.add_node("add").id
    d.connect(ids[-1], add)
    d.connect(ids[3], add)
    d.chain("relu", ("maxpool2d", {"kernel": 2}), "flatten", ("linear", {"out_features": 10}), "output",
            after=add)
    return d


BLOCKS = [("relu", {}), ("conv2d", {"out_channels": 8, "padding": 1}), ("conv2d", {"out_channels": 4}),
          ("batchnorm2d", {}), ("maxpool2d", {"kernel": 2}), ("add", {}), ("concat", {}), ("flatten", {}),
          ("linear", {"out_features": 10}), ("global_avgpool", {}), ("dropout", {"p": 0.5}), ("output", {})]
VALUES = {"out_channels": [4, 8, 12], "kernel": [1, 3, 5], "stride": [1, 2], "padding": [0, 1, "same"],
          "out_features": [10, 7], "in_features": [None, 128, 512], "p": [0.1, 0.5], "shape": [[3, 16, 16], [3, 9, 9],
                                                                                             [1, 16, 16]]}


def edit(d: Design, data) -> None:
    ids = list(d.nodes)
    kind = data.draw(st.sampled_from(["param", "param", "param", "frozen", "add", "remove", "connect",
                                      "disconnect", "classes", "label"]))
    try:
        if kind == "param" and ids:
            node_id = data.draw(st.sampled_from(ids))
            names = [n for n in d.nodes[node_id].params if n in VALUES]
            if names:
                name = data.draw(st.sampled_from(names))
                d.set_param(node_id, name, data.draw(st.sampled_from(VALUES[name])))
        elif kind == "frozen" and ids:
            node_id = data.draw(st.sampled_from(ids))
            d.set_frozen(node_id, not d.nodes[node_id].frozen)
        elif kind == "add":
            block, params = data.draw(st.sampled_from(BLOCKS))
            node_id = d.add_node(block, params).id
            if ids and data.draw(st.booleans()):
                d.connect(data.draw(st.sampled_from(ids)), node_id)
        elif kind == "remove" and ids:
            d.remove_node(data.draw(st.sampled_from(ids)))
        elif kind == "connect" and len(ids) > 1:
            d.connect(data.draw(st.sampled_from(ids)), data.draw(st.sampled_from(ids)))
        elif kind == "disconnect" and d.edges:
            d.disconnect(data.draw(st.sampled_from(d.edges)))
        elif kind == "classes":
            d.set_meta(num_classes=data.draw(st.sampled_from([None, 3, 10])))
        elif kind == "label" and ids:
            d.set_label(data.draw(st.sampled_from(ids)), data.draw(st.sampled_from(["", "a", "b"])))
    except (DesignError, ParameterError):
        pass  # a refused edit leaves the design unchanged; it is analysed all the same


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_random_edit_sequences_warm_equals_cold(data):
    d = start()
    analyze(d)
    for _ in range(data.draw(st.integers(1, 12))):
        edit(d, data)
        check(d)


def small_chain() -> Design:
    design = Design("chain", num_classes=10)
    design.chain(("input", {"shape": [3, 32, 32]}), ("conv2d", {"out_channels": 8, "kernel": 3}), "relu",
                 ("conv2d", {"out_channels": 16, "kernel": 3}), "relu", "global_avgpool",
                 ("linear", {"out_features": 10}), "output")
    return design


def test_unchanged_nodes_keep_their_report_objects_and_edited_ones_get_new_ones():
    design = small_chain()
    order = design.topological_order()
    before = dict(analyze(design).nodes.items())
    second_conv = order[3]
    design.set_param(second_conv, "out_channels", 24)
    after = analyze(design).nodes
    for node_id in order[:3]:  # upstream of the edit: the very same reports
        assert after[node_id] is before[node_id], node_id
    for node_id in order[3:7]:  # the edited conv and what its width reaches
        assert after[node_id] is not before[node_id], node_id
    assert after[second_conv].shape == (24, 28, 28)


def test_totals_need_no_reports_and_equal_their_sum():
    design = templates.build("resnet18")
    lazy = analyze(design)
    totals = (lazy.trainable_params, lazy.frozen_params, lazy.macs, lazy.activation_bytes)
    nodes = list(lazy.nodes.values())
    assert totals == (sum(n.trainable_params for n in nodes), sum(n.frozen_params for n in nodes),
                      sum(n.macs for n in nodes), sum(n.activation_bytes for n in nodes))
    assert lazy.total_params == 11_689_512  # torchvision resnet18 at 1000 classes


def test_a_whole_design_warning_does_not_stick_to_a_report_used_again():
    design = small_chain()
    order = design.topological_order()
    relu, pool = order[4], order[5]
    first = analyze(design).nodes[relu]
    edge = next(e for e in design.edges if e.src == relu)
    design.disconnect(edge)
    cut = analyze(design)
    assert [d.code for d in cut.nodes[relu].diagnostics] == ["unused"]
    design.connect(relu, pool)
    whole = analyze(design)
    assert whole.nodes[relu].diagnostics == [] and first.diagnostics == []
    assert whole.valid and not whole.warnings


def test_reports_left_unread_for_a_pass_are_still_right_later():
    """A view that reads nothing for a few passes, then everything, gets the current results."""
    design = small_chain()
    conv = design.topological_order()[1]
    for width in (4, 5, 6):
        design.set_param(conv, "out_channels", width)
        report = analyze(design)
    assert report.nodes[conv].shape == (6, 30, 30)
    assert summary(report) == cold_summary(design)


def test_a_structural_edit_keeps_the_reports_of_nodes_whose_inputs_it_does_not_change():
    """A loose node added, or an element-wise node put between two others, re-plans the design;
    every node whose inputs keep their shapes and fields keeps its very report object (a view
    redraws only what changed), and the result still equals a cold analysis."""
    design = small_chain()
    order = design.topological_order()
    conv, relu = order[1], order[2]
    before = dict(analyze(design).nodes.items())
    design.add_node("relu")  # loose: a warning of its own, nothing else changes
    loose = analyze(design).nodes
    assert all(loose[n] is before[n] for n in order)
    design.disconnect(next(e for e in design.edges if e.src == conv and e.dst == relu))
    dropout = design.add_node("dropout", {"p": 0.5}).id
    design.connect(conv, dropout)
    design.connect(dropout, relu)  # the ReLU is now fed by the Dropout: same shape, same field
    between = analyze(design)
    assert all(between.nodes[n] is before[n] for n in order)
    assert between.nodes[dropout].shape == before[conv].shape
    assert summary(between) == cold_summary(design)
