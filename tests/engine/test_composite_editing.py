"""Opening, closing and grouping blocks (engine.composite_editing) without Qt: the designer's
document only wraps these edits in undo steps (tests/designer/test_canvas_ops.py drives them
through the window)."""
from __future__ import annotations

from collections import Counter

import pytest

from engine import Design, DesignError, analyze, templates
from engine.composite_editing import collapse, expand, group
from engine.layout import lay_out, sizes_for


def _chain() -> Design:
    d = Design("chain", num_classes=10)
    d.chain(("input", {"shape": [3, 32, 32]}), ("conv2d", {"out_channels": 8, "padding": 1}), "relu",
            ("residual_basic", {"out_channels": 8}), "global_avgpool", ("linear", {"out_features": 10}), "output")
    lay_out(d)
    return d


def _edges_into(design: Design, node_id: str) -> list[str]:
    return [e.src for e in design.edges if e.dst == node_id]


def test_open_and_close_unchanged_gives_the_block_back_where_it_was():
    d = _chain()
    block = next(n for n in d.nodes if d.nodes[n].block == "residual_basic")
    before = analyze(d)
    positions = {n: node.pos for n, node in d.nodes.items()}
    edges = d.edges
    state = expand(d, block, before)
    assert block not in d.nodes and state.inner_ids and all(i in d.nodes for i in state.inner_ids)
    opened = analyze(d)
    assert opened.valid and opened.total_params == before.total_params and opened.macs == before.macs
    # Laid out at the canvas's node size: no two of the design's boxes overlap.
    sizes = sizes_for(d)
    boxes = [node.pos for node in d.nodes.values()]
    assert not any(abs(a[0] - b[0]) < sizes.node_width and abs(a[1] - b[1]) < sizes.node_height
                   for i, a in enumerate(boxes) for b in boxes[i + 1:])
    assert collapse(d, state) == block
    assert d.nodes[block].block == "residual_basic" and dict(d.nodes[block].params) == state.params
    assert {n: node.pos for n, node in d.nodes.items()} == positions
    assert set(d.edges) == set(edges)
    assert analyze(d).total_params == before.total_params


def test_an_edited_inside_closes_into_a_new_user_block():
    d = _chain()
    block = next(n for n in d.nodes if d.nodes[n].block == "residual_basic")
    before = analyze(d).total_params
    state = expand(d, block, analyze(d))
    conv = next(i for i in state.inner_ids if d.nodes[i].block == "conv2d")
    d.set_params(conv, {"kernel": 5, "padding": 2})
    assert not state.is_unchanged(d)
    assert collapse(d, state) == block
    key = d.nodes[block].block
    assert key.startswith("user:") and key in d.composites
    assert d.composites[key].title == "Residual block (basic) (edited)"
    report = analyze(d)
    assert report.valid and report.total_params == before + 8 * 8 * (25 - 9)


def test_opening_keeps_the_input_order_of_a_concatenation():
    d = templates.build("googlenet")
    block = "inception3a"
    state = expand(d, block, analyze(d))
    join = next(n for n in state.inner_ids if d.nodes[n].block == "concat")
    order = _edges_into(d, join)
    assert len(order) == 4
    report = analyze(d)
    assert report.valid
    # The branches' widths in order (1×1, 3×3, 5×5, pool projection): 64, 128, 32, 32 for 3a.
    assert [report.nodes[n].shape[0] for n in order] == [64, 128, 32, 32]


def test_grouping_a_selection_makes_a_block_with_the_same_arithmetic():
    d = _chain()
    before = analyze(d)
    conv = next(n for n in d.nodes if d.nodes[n].block == "conv2d")
    relu = next(n for n in d.nodes if d.nodes[n].block == "relu")
    new = group(d, [conv, relu], "My block")
    assert conv not in d.nodes and relu not in d.nodes
    assert d.composites[d.nodes[new].block].title == "My block"
    after = analyze(d)
    assert after.valid and after.total_params == before.total_params and after.macs == before.macs
    diagnostics = Counter((x.severity, x.code) for x in after.diagnostics)
    assert diagnostics == Counter((x.severity, x.code) for x in before.diagnostics)


def test_refusals_name_the_reason_and_change_nothing():
    d = _chain()
    conv = next(n for n in d.nodes if d.nodes[n].block == "conv2d")
    with pytest.raises(DesignError, match="primitive block"):
        expand(d, conv, analyze(d))
    loose = Design("loose")
    node = loose.add_node("residual_basic", {"out_channels": 8}).id
    with pytest.raises(DesignError, match="input shape is unknown"):
        expand(loose, node, analyze(loose))
    assert list(loose.nodes) == [node]
    # Two nodes that both feed the rest of the network cannot become one block of one output.
    relu = next(n for n in d.nodes if d.nodes[n].block == "relu")
    pool = next(n for n in d.nodes if d.nodes[n].block == "global_avgpool")
    with pytest.raises(DesignError, match="one output"):
        group(d, [relu, pool], "split")
