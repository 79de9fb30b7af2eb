"""The shift probe's scale is the analysis' receptive-field jump (issue 15 item 6): LeNet-5's
conv2 and conv3 see the input with jumps 2 and 4 (the old width ratio said 1/2.8 and 1/28)."""
import pytest
import torch

from engine import templates
from engine.analysis import analyze
from engine.training.inspect import equivariance_probe, layer_jumps


def _input():
    x = torch.zeros(1, 1, 32, 32)
    x[0, 0, 8:20, 6:18] = 1.0
    x[0, 0, 12:14, 20:26] = 0.5
    return x


def test_lenet5_scales_are_the_analysis_jumps():
    design = templates.build("lenet5")
    by_name = {n.name: i for i, n in design.nodes.items()}
    rows = {r.name: r for r in equivariance_probe(design, None, _input(), 0, 4)}
    report = analyze(design)
    for name, jump in (("conv1", 1), ("pool1", 2), ("conv2", 2), ("pool2", 4), ("conv3", 4)):
        fields = report.nodes[by_name[name]].receptive_field
        assert tuple(j for _size, j in fields) == (jump, jump) == rows[name].jump
        assert rows[name].scale == pytest.approx(1 / jump)
        assert rows[name].expected == (0.0, 4 / jump)
    assert layer_jumps(design, [by_name["conv2"]]) == {by_name["conv2"]: (2, 2)}


def test_maps_move_by_the_shift_over_the_jump():
    """Untrained weights, a shift of 4 pixels: every layer with room to move moves 4 / jump."""
    torch.manual_seed(0)
    design = templates.build("lenet5")
    for r in equivariance_probe(design, None, _input(), 4, 4):
        if min(r.original.shape) > 2:
            assert r.measured == (round(4 / r.jump[0]), round(4 / r.jump[1])), r.name
            assert r.error < 1e-4, r.name
