"""Templates: exact parameter counts against torchvision and the oracles, adaptation to other
input sizes, and a real forward + backward pass for each.

Big networks at 224×224 are checked on the meta device (shapes and counts, no memory);
real tensors flow only through small inputs, so the file stays fast.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
import torchvision

from engine import analyze, templates
from engine.cli import main as cli_main
from engine.compile import compile_design, count_parameters, with_taps
from engine.persistence import load

NETWORKS = json.loads((Path(__file__).parent.parent / "data" / "networks.json").read_text())["networks"]
TORCHVISION_COUNTS = NETWORKS["torchvision reference models at 224x224x3, 1000 classes"]



pytestmark = pytest.mark.usefixtures("one_torch_thread")


REQUIRED = ["lenet5", "lenet5-classic", "alexnet", "alexnet-original", "zfnet", "vgg11", "vgg13", "vgg16", "vgg19",
            "vgg11-bn", "vgg13-bn", "vgg16-bn", "vgg19-bn", "googlenet", "resnet18", "resnet34", "resnet50",
            "resnet101", "resnet152", "mobilenet-v1"]

# template -> (torchvision constructor name, kwargs, oracle key or None)
TORCHVISION = {
    "alexnet": ("alexnet", {}, "alexnet"),
    "vgg11": ("vgg11", {}, "vgg11"), "vgg13": ("vgg13", {}, "vgg13"), "vgg16": ("vgg16", {}, "vgg16"),
    "vgg19": ("vgg19", {}, "vgg19"), "vgg11-bn": ("vgg11_bn", {}, "vgg11_bn"), "vgg13-bn": ("vgg13_bn", {}, None),
    "vgg16-bn": ("vgg16_bn", {}, "vgg16_bn"), "vgg19-bn": ("vgg19_bn", {}, None),
    "resnet18": ("resnet18", {}, "resnet18"), "resnet34": ("resnet34", {}, "resnet34"),
    "resnet50": ("resnet50", {}, "resnet50"), "resnet101": ("resnet101", {}, None), "resnet152": ("resnet152", {}, None),
    "googlenet": ("googlenet", {"aux_logits": False, "init_weights": False}, "googlenet (no auxiliary heads)"),
}


def test_every_required_template_is_listed_with_metadata():
    assert set(REQUIRED) <= set(templates.names())
    for t in templates.catalog():
        assert t.description and t.family and t.title
        assert len(t.default_input) == 3


@pytest.mark.parametrize("name", sorted(TORCHVISION))
def test_torchvision_family_matches_torchvision_exactly(name):
    tv_name, kwargs, oracle = TORCHVISION[name]
    design = templates.build(name, (3, 224, 224), 1000)
    report = analyze(design)
    assert report.valid and not report.warnings, report.diagnostics
    with torch.device("meta"):
        reference = getattr(torchvision.models, tv_name)(**kwargs)
    expected = sum(p.numel() for p in reference.parameters())
    assert report.total_params == expected
    if oracle:
        assert report.total_params == TORCHVISION_COUNTS[oracle]
    assert templates.info(name).reference_params == expected
    model = compile_design(design, report, device="meta")
    assert sum(count_parameters(model)) == expected
    x = torch.empty(2, 3, 224, 224, device="meta")
    reference.eval()
    tapped = with_taps(model, list(model.node_names))
    out, activations = tapped(x)
    assert out.shape == reference(x).shape == (2, 1000)
    for node_id, activation in activations.items():  # every intermediate shape is the analysis's
        assert tuple(activation.shape[1:]) == report.nodes[node_id].shape, node_id


def _parametric_layers(design, report):
    return [(i, report.nodes[i].params) for i in report.order if report.nodes[i].params]


def test_alexnet_original_matches_the_oracle_layer_by_layer():
    oracle = NETWORKS["alexnet original, ungrouped, 227x227x3, LRN, 1000 classes"]
    design = templates.build("alexnet-original")
    report = analyze(design)
    assert report.valid and not report.warnings
    assert report.total_params == oracle["param_count"]
    assert dict(_parametric_layers(design, report)) == oracle["per_layer"]
    for node_id, shape in oracle["shapes"].items():
        assert report.nodes[node_id].shape == tuple(shape), node_id
    assert any(n.block == "lrn" for n in design.nodes.values())
    grouped = analyze(templates.build("alexnet-original", two_groups=True))
    assert grouped.total_params == NETWORKS["alexnet original with two groups in conv2, conv4, conv5"]["param_count"]
    assert grouped.nodes["conv2"].params == 5 * 5 * 48 * 256 + 256


@pytest.mark.parametrize("name", ["lenet5", "lenet5-classic"])
@pytest.mark.parametrize("size", [32, 28])
def test_lenet5_matches_the_oracle_at_32_and_28(name, size):
    oracle = NETWORKS["lenet5 (6-16-120-84-10, 32x32x1 input, or 28x28x1 with pad 2 on conv1)"]
    design = templates.build(name, (1, size, size), 10)
    report = analyze(design)
    assert report.valid and not report.warnings
    assert [p for _, p in _parametric_layers(design, report)] == oracle["per_layer"]
    assert report.total_params == oracle["param_count"]
    assert report.nodes["output"].shape == tuple(oracle["out"])
    assert report.nodes["conv3"].shape == (120, 1, 1)
    blocks = {n.block for n in design.nodes.values()}
    assert ({"tanh", "avgpool2d"} if name.endswith("classic") else {"relu", "maxpool2d"}) <= blocks
    assert ("pads by 2" in design.notes) == (size == 28)


def test_mobilenet_v1_matches_the_computed_count():
    blocks = [(32, 64), (64, 128), (128, 128), (128, 256), (256, 256), (256, 512)] + [(512, 512)] * 5 + \
             [(512, 1024), (1024, 1024)]
    expected = 3 * 3 * 3 * 32 + 2 * 32  # stem conv (no bias) + BN
    for c_in, c_out in blocks:  # depthwise 3×3 + BN, pointwise 1×1 + BN
        expected += 9 * c_in + 2 * c_in + c_in * c_out + 2 * c_out
    expected += 1024 * 1000 + 1000
    report = analyze(templates.build("mobilenet-v1"))
    assert report.total_params == expected == 4231976
    assert report.nodes["block13"].shape == (1024, 7, 7)


def test_zfnet_follows_the_paper_sizes():
    report = analyze(templates.build("zfnet"))
    assert [report.nodes[i].shape[1] for i in ("conv1", "pool1", "conv2", "pool2", "conv5", "pool5")] == \
        [110, 55, 26, 13, 13, 6]
    assert report.nodes["conv4"].shape[0] == 1024 and report.valid and not report.warnings


def test_composites_keep_big_networks_small_on_the_canvas():
    design = templates.build("resnet50")
    residual = [n for n in design.nodes.values() if n.block == "residual_bottleneck"]
    assert len(residual) == 16 and len(design.nodes) < 30
    assert sum(1 for n in templates.build("googlenet").nodes.values() if n.block == "inception_v1") == 9


def test_nodes_are_laid_out_left_to_right():
    design = templates.build("googlenet", aux_heads=True)
    order = analyze(design).order
    main = [i for i in order if design.nodes[i].pos[1] == 0]
    xs = [design.nodes[i].pos[0] for i in main]
    assert xs == sorted(xs) and len(set(xs)) == len(xs)
    aux = [n for n in design.nodes.values() if n.block == "aux_head"]
    assert len(aux) == 2 and all(n.pos[1] > 0 for n in aux)
    assert len(design.output_nodes()) == 3 and design.output_nodes()[0].id == "output"


SHAPES = [(1, 28, 28), (3, 32, 32), (1, 8, 8), (3, 64, 64), (3, 96, 128), (3, 224, 224), (3, 227, 227), (3, 299, 299)]
# Real tensors: one tiny pass for the deep networks (their cost is per layer, not per pixel),
# two small ones for the others. Shapes at 224 are covered on the meta device above.
DEEP = {"resnet34", "resnet50", "resnet101", "resnet152", "googlenet", "mobilenet-v1", "vgg16", "vgg16-bn",
        "vgg19", "vgg19-bn", "vgg13", "vgg13-bn"}


@pytest.mark.parametrize("name", REQUIRED)
def test_every_template_adapts_to_other_inputs_and_class_counts(name):
    for shape, classes in zip(SHAPES, (10, 7, 3, 100, 2, 5, 1, 20)):
        design = templates.build(name, shape, classes)
        report = analyze(design)
        assert report.valid, (shape, report.errors)
        assert report.nodes["output"].shape == (classes,)
        assert design.input_shape == shape and design.num_classes == classes
        if min(shape[1:]) < 64 and min(templates.info(name).default_input[1:]) >= 224:
            assert "Adapted to the input" in design.notes, shape


@pytest.mark.parametrize("name", REQUIRED)
def test_every_template_compiles_and_trains_a_step(name):
    torch.manual_seed(0)
    shapes = [(3, 8, 8)] if name in DEEP else [(1, 28, 28), (3, 12, 12)]
    for shape in shapes:
        design = templates.build(name, shape, 10)
        report = analyze(design)
        model = compile_design(design, report)
        assert sum(count_parameters(model)) == report.total_params
        x = torch.randn(2, *shape)
        out = model(x)
        logits = out[0] if isinstance(out, tuple) else out
        assert logits.shape == (2, 10)
        torch.nn.functional.cross_entropy(logits, torch.tensor([1, 3])).backward()
        grads = [p.grad for p in model.parameters()]
        assert all(g is not None and torch.isfinite(g).all() for g in grads)


def test_googlenet_aux_heads_train_with_three_outputs():
    design = templates.build("googlenet", (3, 16, 16), 10, aux_heads=True)
    report = analyze(design)
    assert report.valid
    aux_params = sum(report.nodes[i].params for i in ("aux1", "aux2"))
    assert aux_params == 2 * (128 * 512 + 2 * 128 + 128 * 528 + 2 * 128) // 2 + 2 * (2048 * 1024 + 1024 + 1024 * 10 + 10)
    model = compile_design(design, report)
    outputs = model(torch.randn(2, 3, 16, 16))
    assert len(outputs) == 3 and all(o.shape == (2, 10) for o in outputs)
    sum(o.sum() for o in outputs).backward()


def test_unknown_names_options_and_bad_inputs_are_refused():
    with pytest.raises(templates.TemplateError, match="unknown template"):
        templates.build("resnet19")
    with pytest.raises(templates.TemplateError, match="no option"):
        templates.build("vgg11", wrong=True)
    with pytest.raises(templates.TemplateError, match="image input"):
        templates.build("resnet18", (3, 100))
    with pytest.raises(templates.TemplateError, match="at least"):
        templates.build("alexnet", (3, 4, 4))
    assert isinstance(templates.TemplateError("x"), ValueError)


def test_cli_lists_templates_with_parameter_counts(capsys):
    assert cli_main(["templates"]) == 0
    out = capsys.readouterr().out
    for name in REQUIRED:
        assert name in out
    assert "11.69 M" in out and "61.71 k" in out


def test_cli_writes_a_valid_design_file(tmp_path, capsys):
    path = tmp_path / "r18.json"
    assert cli_main(["template", "resnet18", "--input", "3,32,32", "--classes", "10", "--out", str(path)]) == 0
    design = load(path)
    report = analyze(design)
    assert report.valid and design.input_shape == (3, 32, 32) and report.nodes["output"].shape == (10,)
    assert "CIFAR" in design.notes
    grouped = tmp_path / "alex.json"
    assert cli_main(["template", "alexnet-original", "--set", "two_groups=true", "--out", str(grouped)]) == 0
    assert analyze(load(grouped)).total_params == 60965224
    assert cli_main(["template", "nope", "--out", str(tmp_path / "x.json")]) == 2
    assert cli_main(["template", "lenet5", "--input", "1,2,2", "--out", str(tmp_path / "x.json")]) == 1
    assert cli_main(["template", "vgg11", "--set", "bogus=1", "--out", str(tmp_path / "x.json")]) == 2
    assert not (tmp_path / "x.json").exists()


def test_notes_explain_every_adaptation():
    notes = templates.build("vgg11", (1, 28, 28), 10).notes
    assert "ceil mode" in notes and "512 inputs instead of 25088" in notes
    assert "Adapted" not in templates.build("vgg11").notes
    assert math.prod(analyze(templates.build("vgg11", (1, 28, 28), 10)).nodes["pool5"].shape) == 512
