"""Diagnostics of the analysis pass: each says what happened, what was expected, with the
received values and a fix; nodes downstream of an error get unknown shapes, not errors."""
from __future__ import annotations

import pytest

from engine import Design, analyze


def codes(report, node_id=None, severity=None):
    diags = report.nodes[node_id].diagnostics if node_id else report.diagnostics
    return [d.code for d in diags if severity is None or d.severity == severity]


def residual(branch_channels: int, shortcut_channels: int, branch_first: bool):
    """input → stem conv (shortcut_channels) → [conv → conv(branch_channels)] + shortcut."""
    d = Design("res", num_classes=10)
    inp, stem = d.chain(("input", {"shape": [3, 16, 16]}),
                        ("conv2d", {"out_channels": shortcut_channels, "padding": 1}))
    conv1, conv2 = d.chain(("conv2d", {"out_channels": 64, "padding": 1}),
                           ("conv2d", {"out_channels": branch_channels, "padding": 1}), after=stem)
    add = d.add_node("add").id
    for src in ((conv2, stem) if branch_first else (stem, conv2)):
        d.connect(src, add)
    tail = d.chain("relu", "global_avgpool", ("linear", {"out_features": 10}), "output", after=add)
    return d, add, tail


def test_add_channel_mismatch_names_the_shortcut_fix():
    for branch_first in (True, False):
        d, add, tail = residual(branch_channels=128, shortcut_channels=256, branch_first=branch_first)
        report = analyze(d)
        (diag,) = report.nodes[add].diagnostics
        assert diag.severity == "error"
        assert diag.message == "Add: inputs have 128 and 256 channels"
        # The shortcut carries 256 (it skips the branch): a 1×1 conv there must output the branch's 128.
        assert "1×1 conv with 128 outputs on the shortcut" in diag.fix
        assert "set the branch's last conv to 256 channels" in diag.fix
        assert {diag.expected, diag.received} == {128, 256}
        # Downstream: unknown shapes, no cascaded errors.
        for node_id in tail:
            assert report.nodes[node_id].shape is None
            assert codes(report, node_id, "error") == []
        assert len(report.errors) == 1


def test_add_fix_works_when_applied():
    d, add, tail = residual(128, 256, branch_first=True)
    shortcut = [e for e in d.incoming(add) if d.nodes[e.src].params["out_channels"] == 256][0]
    d.disconnect(shortcut)
    proj = d.add_node("conv2d", {"out_channels": 128, "kernel": 1}).id
    d.connect(shortcut.src, proj)
    d.connect(proj, add)
    report = analyze(d)
    assert report.valid and report.nodes[tail[-1]].shape == (10,)


def test_add_spatial_mismatch():
    d = Design()
    inp = d.add_node("input", {"shape": [4, 8, 8]}).id
    (pool,) = d.chain(("maxpool2d", {"kernel": 2}), after=inp)
    add = d.add_node("add").id
    d.connect(pool, add)
    d.connect(inp, add)
    (diag,) = analyze(d).nodes[add].diagnostics
    assert "spatial sizes differ" in diag.message and "4×4×4" in diag.message and "4×8×8" in diag.message
    assert "stride" in diag.fix


def alexnet_classifier(side: int, adaptive: bool = False):
    d = Design("alexnet tail", num_classes=1000)
    steps = [("input", {"shape": [256, side, side]})]
    if adaptive:
        steps.append(("adaptive_avgpool2d", {"output_size": 6}))
    steps += ["flatten", ("linear", {"out_features": 4096, "in_features": 9216}), "relu",
              ("linear", {"out_features": 1000}), "output"]
    return d, d.chain(*steps)


def test_linear_in_features_mismatch_suggests_adaptive_pooling():
    d, ids = alexnet_classifier(7)
    report = analyze(d)
    fc = ids[2]
    (diag,) = report.nodes[fc].diagnostics
    assert diag.message.startswith("Linear expects 9216 inputs but receives 12544")
    assert "256×7×7" in diag.message
    assert "adaptive average pooling to 6×6" in diag.fix and "in_features" in diag.fix
    assert (diag.expected, diag.received) == (9216, 12544)
    assert [report.nodes[i].shape for i in ids[3:]] == [None, None, None]
    assert len(report.errors) == 1
    # Following the advice fixes it.
    d, ids = alexnet_classifier(7, adaptive=True)
    report = analyze(d)
    assert report.valid and report.nodes[ids[-1]].shape == (1000,)
    # So does letting in_features follow the input.
    d, ids = alexnet_classifier(7)
    d.set_param(ids[2], "in_features", None)
    assert analyze(d).valid


def test_alexnet_conv1_on_224_warns_about_uneven_stride():
    d = Design("alexnet", num_classes=1000)
    ids = d.chain(("input", {"shape": [3, 224, 224]}), ("conv2d", {"out_channels": 96, "kernel": 11, "stride": 4}))
    report = analyze(d)
    conv = report.nodes[ids[1]]
    assert conv.shape == (96, 54, 54)
    (diag,) = [x for x in conv.diagnostics if x.code == "uneven-stride"]
    assert diag.severity == "warning"
    assert "stride does not divide evenly" in diag.message and "54.25" in diag.message
    assert "227" in diag.fix
    assert report.valid  # a warning, not an error
    d.set_params(ids[0], {"shape": [3, 227, 227]})
    assert "uneven-stride" not in codes(analyze(d), ids[1])


def test_spatial_collapse_is_an_error_with_the_minimum_size():
    d = Design()
    ids = d.chain(("input", {"shape": [1, 8, 8]}), ("maxpool2d", {"kernel": 2}), ("maxpool2d", {"kernel": 2}),
                  ("conv2d", {"out_channels": 4, "kernel": 5}), "relu", "flatten", "output")
    report = analyze(d)
    conv = report.nodes[ids[3]]
    (diag,) = conv.diagnostics
    assert diag.severity == "error" and "collapses to" in diag.message
    assert "at least 5" in diag.fix and diag.received == 2
    assert conv.shape is None
    assert all(report.nodes[i].shape is None and not report.nodes[i].diagnostics for i in ids[4:])
    assert [x.node_id for x in report.errors] == [ids[3]]


def test_unused_node_warning():
    d = Design(num_classes=4)
    ids = d.chain(("input", {"shape": [4]}), ("linear", {"out_features": 4}), "output")
    stray = d.chain("relu", "sigmoid", after=ids[1])
    report = analyze(d)
    for node_id in stray:
        assert codes(report, node_id) == ["unused"]
    assert all(codes(report, i) == [] for i in ids)
    assert report.valid


def test_class_count_warning():
    d = Design(num_classes=10)
    ids = d.chain(("input", {"shape": [8]}), ("linear", {"out_features": 5}), "output")
    (diag,) = analyze(d).nodes[ids[-1]].diagnostics
    assert diag.code == "class-count" and "5 values" in diag.message and "10 classes" in diag.message
    assert "10 outputs" in diag.fix and (diag.expected, diag.received) == (10, 5)
    d.set_param(ids[1], "out_features", 10)
    assert analyze(d).warnings == []
    d.set_meta(num_classes=None)
    assert analyze(d).warnings == []


def test_unflattened_output_warning():
    d = Design(num_classes=4)
    ids = d.chain(("input", {"shape": [4, 3, 3]}), "output")
    assert codes(analyze(d), ids[-1]) == ["output-not-flat"]


def test_missing_input_edge_and_missing_input_node():
    d = Design(num_classes=2)
    ids = d.chain(("conv2d", {"out_channels": 2}), "global_avgpool", "output")
    report = analyze(d)
    (diag,) = report.nodes[ids[0]].diagnostics
    assert diag.code == "no-input" and "nothing connected" in diag.message and diag.fix
    assert report.nodes[ids[1]].shape is None and report.nodes[ids[1]].diagnostics == []
    assert "no-input-node" in codes(report)
    assert not report.valid
    # Multi-port user blocks name the port; a design without Output is warned about.
    d = Design()
    d.add_node("input", {"shape": [3]})
    assert codes(analyze(d)) == ["no-output-node"]


def test_output_not_reachable_from_input():
    d = Design(num_classes=3)
    d.add_node("input", {"shape": [3]})
    src = d.add_node("linear", {"out_features": 3}).id
    out = d.add_node("output").id
    d.connect(src, out)
    report = analyze(d)
    assert "no-input" in codes(report, src)
    assert codes(report, out) == ["unreachable"]
    # With two heads, the one cut off from the Input is named even though the other is fine.
    inp = d.input_nodes()[0].id
    ok = d.chain(("linear", {"out_features": 3}), "output", after=inp)
    report = analyze(d)
    assert codes(report, out) == ["unreachable"] and codes(report, ok[-1]) == []


def test_rank_mismatch_message():
    d = Design()
    ids = d.chain(("input", {"shape": [16]}), ("conv2d", {"out_channels": 4}), "output")
    (diag,) = analyze(d).nodes[ids[1]].diagnostics
    assert "expects a 3-D input" in diag.message and "16" in diag.message
    assert "Flatten" in diag.fix


def test_concat_mismatch_names_both_shapes():
    d = Design()
    inp = d.add_node("input", {"shape": [3, 8, 8]}).id
    a, = d.chain(("conv2d", {"out_channels": 4, "padding": 1}), after=inp)
    b, = d.chain(("conv2d", {"out_channels": 5}), after=inp)
    cat = d.add_node("concat").id
    d.connect(a, cat)
    d.connect(b, cat)
    (diag,) = analyze(d).nodes[cat].diagnostics
    assert "5×6×6" in diag.message and "4×8×8" in diag.message and "padding" in diag.fix


def test_totals_frozen_params_and_receptive_field():
    d = Design(num_classes=10)
    ids = d.chain(("input", {"shape": [1, 28, 28]}), ("conv2d", {"out_channels": 8, "kernel": 3}),
                  ("maxpool2d", {"kernel": 2}), ("conv2d", {"out_channels": 4, "kernel": 3}), "flatten",
                  ("linear", {"out_features": 10}), "output")
    d.set_frozen(ids[1], True)
    report = analyze(d)
    assert report.frozen_params == 80 and report.trainable_params == 292 + 4850
    assert report.total_params == 80 + 292 + 4850
    assert report.macs == 26 * 26 * 8 * 9 + 11 * 11 * 4 * 72 + 484 * 10
    # 3×3 → pool 2 → 3×3: field 3, then 4 (jump 2), then 8 (jump 2).
    assert report.nodes[ids[1]].receptive_field == ((3, 1), (3, 1))
    assert report.nodes[ids[2]].receptive_field == ((4, 2), (4, 2))
    assert report.nodes[ids[3]].receptive_field == ((8, 2), (8, 2))
    assert report.activation_bytes == 4 * (784 + 8 * 676 + 8 * 169 + 4 * 121 + 484 + 10 + 10)


def test_reanalysis_follows_edits():
    d = Design()
    ids = d.chain(("input", {"shape": [3, 32, 32]}), ("conv2d", {"out_channels": 8}), "output")
    assert analyze(d).nodes[ids[1]].shape == (8, 30, 30)
    d.set_params(ids[1], {"padding": "same", "out_channels": 5})
    assert analyze(d).nodes[ids[1]].shape == (5, 32, 32)


def _summary(report):
    return {k: (n.shape, n.input_shapes, n.trainable_params, n.frozen_params, n.buffers, n.macs,
                n.activation_bytes, n.receptive_field, [str(d) for d in n.diagnostics])
            for k, n in report.nodes.items()}, [str(d) for d in report.diagnostics]


def test_cached_reanalysis_equals_a_cold_one_after_edits():
    from engine.analysis import clear_cache
    d = Design(num_classes=10)
    ids = d.chain(("input", {"shape": [256, 7, 7]}), "flatten", ("dropout", {"p": 0.1}),
                  ("linear", {"out_features": 10, "in_features": 9216}), "output")
    edits = [
        lambda: None,
        lambda: d.set_params(ids[0], {"shape": [64, 14, 14]}),  # same 12544 features, another source
        lambda: d.set_params(ids[3], {"in_features": None}),
        lambda: d.set_frozen(ids[3], True),
        lambda: d.set_label(ids[2], "drop"),
        lambda: d.set_meta(num_classes=3),
        lambda: d.remove_node(ids[2]),
        lambda: d.connect(ids[1], ids[3]),
    ]
    for edit in edits:
        edit()
        warm = _summary(analyze(d))
        clear_cache()
        assert warm == _summary(analyze(d))
    # The Linear's fix follows the current source of the flattened features, not a cached one.
    d2 = Design()
    ids2 = d2.chain(("input", {"shape": [256, 7, 7]}), "flatten", ("dropout", {"p": 0.1}),
                    ("linear", {"out_features": 10, "in_features": 9216}), "output")
    assert "6×6" in analyze(d2).nodes[ids2[3]].diagnostics[0].fix
    d2.set_params(ids2[0], {"shape": [64, 14, 14]})
    (diag,) = analyze(d2).nodes[ids2[3]].diagnostics
    assert "64×14×14" in diag.message and "12×12" in diag.fix


def test_results_kept_across_structural_edits_equal_a_cold_analysis():
    """A structural edit re-plans the design but keeps each unchanged node's last result."""
    from engine.analysis import clear_cache
    d, add, tail = residual(branch_channels=128, shortcut_channels=128, branch_first=True)
    stem = next(e.src for e in d.incoming(add) if len(d.outgoing(e.src)) == 2)  # feeds branch and Add
    state = {}

    def insert_projection():
        state["proj"] = d.add_node("conv2d", {"out_channels": 64, "kernel": 1}).id
        edge = next(e for e in d.incoming(add) if e.src == stem)
        d.disconnect(edge)
        d.connect(stem, state["proj"])
        d.connect(state["proj"], add)  # now 128 + 64 channels: an error naming the shortcut

    edits = [
        lambda: analyze(d),
        lambda: d.add_node("relu"),  # an unconnected node: a warning, nothing else changes
        insert_projection,
        lambda: d.set_params(state["proj"], {"out_channels": 128}),  # fixed
        lambda: d.remove_node(tail[0]),  # the tail loses its input
        lambda: d.connect(add, tail[1]),
    ]
    for edit in edits:
        edit()
        kept = _summary(analyze(d))
        clear_cache()
        assert kept == _summary(analyze(d))
    assert [d_.code for d_ in analyze(d).errors] == ["no-input"]  # only the stray ReLU is left to fix


def test_the_field_after_a_residual_add_is_the_widest_branch_and_torch_agrees():
    """Add merges its branches' fields (the widest field, the coarsest grid); the next layer
    grows the merged one. Checked against the gradient of one output of the compiled model."""
    import torch

    from engine import compile_design
    d = Design("merge", num_classes=None)
    inp, stem = d.chain(("input", {"shape": [1, 33, 33]}), ("conv2d", {"out_channels": 1, "padding": 1}))
    branch = d.chain(("conv2d", {"out_channels": 1, "kernel": 5, "stride": 2, "padding": 2}),
                     ("conv2d", {"out_channels": 1, "kernel": 3, "padding": 1}), after=stem)
    shortcut = d.chain(("conv2d", {"out_channels": 1, "kernel": 1, "stride": 2}), after=stem)
    add = d.add_node("add").id
    d.connect(branch[-1], add)
    d.connect(shortcut[-1], add)
    after = d.chain(("conv2d", {"out_channels": 1, "kernel": 3, "padding": 1}), "output", after=add)[0]
    report = analyze(d)
    # stem 3 (jump 1); branch 3 + 4·1 = 7 (jump 2), then 7 + 2·2 = 11; shortcut 3 (jump 2)
    assert report.nodes[branch[-1]].receptive_field == ((11, 2), (11, 2))
    assert report.nodes[shortcut[-1]].receptive_field == ((3, 2), (3, 2))
    assert report.nodes[add].receptive_field == ((11, 2), (11, 2))
    assert report.nodes[after].receptive_field == ((15, 2), (15, 2))
    model = compile_design(d)
    for p in model.parameters():
        torch.nn.init.constant_(p, 1.0)
    x = torch.zeros(1, 1, 33, 33, requires_grad=True)
    out = model(x)
    out[0, 0, 8, 8].backward()
    rows = torch.nonzero(x.grad[0, 0].abs().sum(1)).flatten()
    assert rows.max() - rows.min() + 1 == 15


def test_an_edit_gives_the_node_new_values_and_keeps_list_values_read_only():
    """The analysis keys a node's arithmetic on its values tuple, made with the parameters and
    replaced whole by set_params: an edit is seen, a list value set later is read-only too."""
    d = Design("values")
    inp, conv = d.chain(("input", {"shape": [1, 8, 8]}), ("conv2d", {"out_channels": 2}))
    before = d.nodes[conv]._values
    assert before == tuple(d.nodes[conv].params.values())
    d.set_param(conv, "out_channels", 3)
    assert d.nodes[conv]._values is not before and d.nodes[conv]._values == tuple(d.nodes[conv].params.values())
    assert analyze(d).nodes[conv].shape == (3, 6, 6)
    d.set_param(inp, "shape", [1, 10, 10])
    with pytest.raises(TypeError, match="set_params"):
        d.nodes[inp].params["shape"].append(4)
    assert analyze(d).nodes[conv].shape == (3, 8, 8)
    d.lint()
