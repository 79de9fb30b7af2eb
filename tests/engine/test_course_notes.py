"""Course-notes slips explained where students meet them (issue 15 item 7): every figure in an
explanation is the engine's analysis or PyTorch, and each explanation is reachable from the
block (its help) or the template (its notes) it concerns."""
import pytest
import torch

from engine import Design, blocks, templates
from engine.analysis import analyze
from engine.course_notes import SLIPS, block_help, slip


def _node(design, name):
    return next(i for i, n in design.nodes.items() if n.name == name)


def test_inception_reduction_counts_are_the_analysis_macs():
    def macs(*convs):
        d = Design("reduction")
        ids = d.chain(("input", {"shape": [190, 28, 28]}), *convs)
        report = analyze(d)
        return [report.nodes[i].macs for i in ids[1:]]
    f = slip("inception_reduction").figures
    assert macs(("conv2d", {"out_channels": 48, "kernel": 5, "padding": 2, "bias": False})) == [f["direct"]]
    reduced = macs(("conv2d", {"out_channels": 16, "kernel": 1, "bias": False}),
                   ("conv2d", {"out_channels": 48, "kernel": 5, "padding": 2, "bias": False}))
    assert reduced == [f["reduce_1x1"], f["reduce_5x5"]] and sum(reduced) == f["reduced"]


def test_dilation_fields_are_the_analysis_receptive_fields():
    def field(*dilations):
        d = Design("dilated")
        ids = d.chain(("input", {"shape": [1, 40, 40]}),
                      *[("conv2d", {"out_channels": 1, "kernel": 3, "padding": k, "dilation": k}) for k in dilations])
        return analyze(d).nodes[ids[-1]].receptive_field[0][0]
    f = slip("dilation_field").figures
    assert (field(2), field(4), field(1, 2), field(1, 2, 4)) == (f["d2"], f["d4"], f["d12"], f["d124"])


def test_alexnet_conv1_neurons_and_conv2_stride():
    d = templates.build("alexnet-original")
    report = analyze(d)
    c, h, w = report.nodes[_node(d, "conv1")].shape
    assert c * h * w == slip("alexnet_conv1").figures["neurons"] == 290_400
    assert d.nodes[_node(d, "conv2")].params["stride"] in (1, [1, 1])


def test_googlenet_parameter_counts():
    f = slip("googlenet_params").figures
    assert analyze(templates.build("googlenet", batch_norm=False)).total_params == f["published"]
    assert analyze(templates.build("googlenet")).total_params == f["torchvision"] == 6_624_904
    assert round(f["published"] / 1e6, 1) == 7.0


def test_resnet_pools_after_the_stem_and_before_the_classifier():
    for name in slip("resnet_pools").templates:
        blocks_in_order = [n.block for n in templates.build(name).nodes.values()]
        assert blocks_in_order[1:5] == ["conv2d", "batchnorm2d", "relu", "maxpool2d"], name
        assert "adaptive_avgpool2d" in blocks_in_order[-5:] or "global_avgpool" in blocks_in_order[-5:], name


def test_lenet5_macs_with_a_fully_connected_c3():
    for name in slip("lenet_connections").templates:
        assert analyze(templates.build(name)).macs == slip("lenet_connections").figures["macs"] == 416_520


def test_relu_passes_077():
    assert f"{torch.relu(torch.tensor(0.77)).item():.2f}" == slip("relu_positive").figures["relu_077"]


@pytest.mark.parametrize("s", SLIPS, ids=lambda s: s.key)
def test_each_slip_is_reachable_from_what_it_concerns(s):
    assert s.blocks or s.templates
    for key in s.blocks:
        assert s.explanation() in block_help(blocks.get(key)), key
    for name in s.templates:
        assert s.explanation() in templates.build(name).notes, name
    for value in s.figures.values():
        shown = f"{value:,}" if isinstance(value, int) else value
        assert shown in s.explanation()


def test_lenet5_paper_connections_from_the_sparse_c3_table():
    """Connections = (inputs per unit + 1 bias) × units, layer by layer, as the 1998 paper counts."""
    c1 = (5 * 5 + 1) * 6 * 28 * 28
    s2 = (2 * 2 + 1) * 6 * 14 * 14
    c3_maps_in = 6 * 3 + 9 * 4 + 1 * 6  # Table I: the S2 maps each C3 map sees
    c3 = (c3_maps_in * 25 + 16) * 10 * 10
    s4 = (2 * 2 + 1) * 16 * 5 * 5
    c5 = (16 * 25 + 1) * 120
    f6 = (120 + 1) * 84
    out = 84 * 10  # the RBF output units (no bias)
    total = c1 + s2 + c3 + s4 + c5 + f6 + out
    assert (c1, c3, total) == (122_304, 151_600, slip("lenet_connections").figures["paper"])
    assert round(total, -3) == 341_000
