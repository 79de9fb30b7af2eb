"""Every torchvision CNN classifier imports as catalog blocks (issue 16): no opaque layer, the
model's parameter count, and the model's outputs once its weights are loaded into the
compiled design through the importer's weight mapping (eval mode, torch.testing.assert_close).

The normal suite imports one member per family (the smallest); ``ND_IMPORT_ALL=1`` (see
``make fuzz``) imports every member, the biggest included (regnet_y_128gf has 645 M parameters).
Models are built with ``weights=None`` (random weights, no network) on small inputs: neither
the parameter count nor the mapping depends on the input size.
"""
from __future__ import annotations

import collections
import os

import pytest
import torch
import torchvision
from torch import nn

from engine.analysis import analyze
from engine.compile import compile_design
from engine.importing import import_module, transfer_weights

pytestmark = pytest.mark.usefixtures("one_torch_thread")

# family -> members; the first is the one the normal suite imports.
FAMILIES = {
    "resnet": ["resnet18", "resnet34", "resnet50", "resnet101", "resnet152"],
    "resnext": ["resnext50_32x4d", "resnext101_32x8d", "resnext101_64x4d"],
    "wide_resnet": ["wide_resnet50_2", "wide_resnet101_2"],
    "vgg": ["vgg11", "vgg11_bn", "vgg13", "vgg13_bn", "vgg16", "vgg16_bn", "vgg19", "vgg19_bn"],
    "alexnet": ["alexnet"],
    "squeezenet": ["squeezenet1_1", "squeezenet1_0"],
    "densenet": ["densenet121", "densenet161", "densenet169", "densenet201"],
    "googlenet": ["googlenet"],
    "inception_v3": ["inception_v3"],
    "mobilenet_v2": ["mobilenet_v2"],
    "mobilenet_v3": ["mobilenet_v3_small", "mobilenet_v3_large"],
    "mnasnet": ["mnasnet0_5", "mnasnet0_75", "mnasnet1_0", "mnasnet1_3"],
    "shufflenet_v2": ["shufflenet_v2_x0_5", "shufflenet_v2_x1_0", "shufflenet_v2_x1_5", "shufflenet_v2_x2_0"],
    "efficientnet": ["efficientnet_b0"] + [f"efficientnet_b{i}" for i in range(1, 8)],
    "efficientnet_v2": ["efficientnet_v2_s", "efficientnet_v2_m", "efficientnet_v2_l"],
    "regnet": ["regnet_y_400mf", "regnet_x_400mf"] + [f"regnet_{k}_{s}" for k in "xy" for s in (
        "800mf", "1_6gf", "3_2gf", "8gf", "16gf", "32gf")] + ["regnet_y_128gf"],
    "convnext": ["convnext_tiny", "convnext_small", "convnext_base", "convnext_large"],
}
ALL = os.environ.get("ND_IMPORT_ALL") == "1"
# The auxiliary heads run in training only: an eval-mode trace leaves their parameters out,
# so the count is compared without them.
KWARGS = {"googlenet": {"aux_logits": False, "init_weights": False},
          "inception_v3": {"aux_logits": False, "init_weights": False}}
SIZE = {"inception_v3": 80}  # its stem needs at least 75×75


def members():
    return [pytest.param(name, id=name) for family in FAMILIES.values() for name in (family if ALL else family[:1])]


def test_families_are_torchvisions_cnn_classifiers():
    listed = {name for family in FAMILIES.values() for name in family}
    available = set(torchvision.models.list_models(module=torchvision.models))
    assert listed <= available
    others = {n for n in available - listed if not n.startswith(("vit_", "swin_", "maxvit_"))}
    assert not others, f"torchvision classifiers no family lists: {sorted(others)}"


@pytest.mark.parametrize("name", members())
def test_torchvision_classifier_imports_exactly(name):
    torch.manual_seed(0)
    model = getattr(torchvision.models, name)(weights=None, **KWARGS.get(name, {})).eval()
    side = SIZE.get(name, 64)
    design, report = import_module(model, (3, side, side))
    assert report.complete, report.text()
    params = sum(p.numel() for p in model.parameters())
    assert report.model_params == params
    analysis = analyze(design)
    assert analysis.valid and analysis.total_params == params, report.text()
    compiled = compile_design(design, analysis)
    compiled.load_state_dict(transfer_weights(model, design, report))
    x = torch.randn(2, 3, side, side)
    with torch.no_grad():
        torch.testing.assert_close(compiled.eval()(x), model(x))


def blocks_of(design) -> collections.Counter:
    return collections.Counter(node.block for node in design.nodes.values())


def test_squeeze_excitation_comes_back_as_one_block():
    model = torchvision.models.mobilenet_v3_small(weights=None).eval()
    design, report = import_module(model, (3, 64, 64))
    counts = blocks_of(design)
    assert counts["squeeze_excitation"] == 9 and counts["multiply"] == 0 and counts["hardsigmoid"] == 0
    node = design.nodes["features_1_block_1"]  # named after torchvision's module
    assert dict(node.params) == {"squeeze_channels": 8, "activation": "relu", "gate": "hardsigmoid"}
    assert counts["hardswish"] == 19


def test_efficientnet_keeps_its_stochastic_depth_probabilities():
    model = torchvision.models.efficientnet_b0(weights=None).eval()
    design, _ = import_module(model, (3, 64, 64))
    probabilities = sorted(n.params["p"] for n in design.nodes.values() if n.block == "stochastic_depth")
    # blocks without a residual connection never call their StochasticDepth module
    expected = sorted(m.stochastic_depth.p for m in model.modules() if getattr(m, "use_res_connect", False))
    assert probabilities == pytest.approx(expected) and len(probabilities) == 9
    assert blocks_of(design)["squeeze_excitation"] == 16


def test_convnext_and_shufflenet_patterns():
    convnext = torchvision.models.convnext_tiny(weights=None).eval()
    design, _ = import_module(convnext, (3, 64, 64))
    counts = blocks_of(design)
    # 18 blocks (LayerNorm over channels, layer scale, stochastic depth each); the stem, 3
    # downsamplings and the head have a LayerNorm2d
    assert (counts["channel_layernorm"], counts["layer_scale"], counts["stochastic_depth"]) == (23, 18, 18)
    assert counts["opaque"] == 0 and counts["linear"] == 1  # the block's Linears are 1×1 convolutions
    shufflenet = torchvision.models.shufflenet_v2_x0_5(weights=None).eval()
    design, _ = import_module(shufflenet, (3, 64, 64))
    counts = blocks_of(design)
    assert counts["channel_shuffle"] == 16 and counts["channel_chunk"] == 26
    assert all(n.params["groups"] == 2 for n in design.nodes.values() if n.block == "channel_shuffle")


class HandWrittenSE(nn.Module):
    """A squeeze-excitation written by hand (functional activations), a gate that is not one
    (a spatial attention map 1×H×W) and a permute that never comes back."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 16, 3, padding=1)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.squeeze = nn.Conv2d(16, 4, 1)
        self.expand = nn.Conv2d(4, 16, 1)
        self.attention = nn.Conv2d(16, 1, 1)
        self.fc = nn.Linear(16, 5)

    def forward(self, x):
        x = torch.relu(self.conv(x))
        x = x * torch.sigmoid(self.expand(torch.relu(self.squeeze(self.pool(x)))))
        x = x * torch.sigmoid(self.attention(x))
        return self.fc(self.pool(x).flatten(1))


def test_hand_written_squeeze_excitation_and_gates():
    torch.manual_seed(0)
    model = HandWrittenSE().eval()
    design, report = import_module(model, (3, 12, 12))
    assert report.complete, report.text()
    counts = blocks_of(design)
    assert counts["squeeze_excitation"] == 1 and counts["multiply"] == 1
    compiled = compile_design(design)
    compiled.load_state_dict(transfer_weights(model, design, report))
    x = torch.randn(2, 3, 12, 12)
    with torch.no_grad():
        torch.testing.assert_close(compiled.eval()(x), model(x))


class Transposed(nn.Module):
    def forward(self, x):
        return x.transpose(2, 3).flatten(1)


def test_a_rearrangement_that_means_no_block_stays_opaque_with_its_reason():
    design, report = import_module(Transposed(), (2, 3, 4))
    (opaque,) = report.opaque
    assert opaque[1] == "permute" and "rearrangement" in opaque[2]
    assert analyze(design).valid


def test_imported_resnet50_looks_like_the_template():
    from engine import templates
    model = torchvision.models.resnet50(weights=None).eval()
    design, report = import_module(model, (3, 64, 64))
    template = templates.build("resnet50", input_shape=(3, 64, 64), num_classes=1000)
    assert blocks_of(design) == blocks_of(template)  # 16 bottleneck blocks, not 177 layers
    assert "layer1_0" in design.nodes and design.nodes["layer1_0"].block == "residual_bottleneck"
    # ResNeXt's grouped 3×3 is not the template's bottleneck: it stays as layers
    resnext = torchvision.models.resnext50_32x4d(weights=None).eval()
    design, _ = import_module(resnext, (3, 32, 32))
    assert blocks_of(design)["residual_bottleneck"] == 0 and blocks_of(design)["add"] == 16
