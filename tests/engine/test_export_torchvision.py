"""Exported code for the templates uses torchvision's module names (issue 16, item 7): a
torchvision state_dict loads into it strictly and the outputs are torchvision's."""
from __future__ import annotations

import pytest
import torch

from engine import templates
from engine.compile import compile_design
from engine.export import export, load_bundle
from engine.export.codegen import generate

torchvision = pytest.importorskip("torchvision")

CASES = {"resnet18": "resnet18", "resnet34": "resnet34", "resnet50": "resnet50", "vgg11": "vgg11",
         "vgg16-bn": "vgg16_bn", "alexnet": "alexnet", "googlenet": "googlenet"}


def torchvision_model(name):
    options = {"aux_logits": False, "init_weights": False} if name == "googlenet" else {}
    torch.manual_seed(1)
    return getattr(torchvision.models, name)(**options).eval()


@pytest.mark.parametrize("template", list(CASES))
def test_torchvision_state_dict_loads_strictly_and_gives_its_outputs(template):
    design = templates.build(template)
    code = generate(design)
    namespace: dict = {}
    exec(code.source, namespace)
    net = namespace[code.class_name]().eval()
    reference = torchvision_model(CASES[template])
    net.load_state_dict(reference.state_dict(), strict=True)
    # the keys the exporter writes beside the code are torchvision's, in its order
    assert list(code.state_dict(compile_design(design).state_dict())) == list(reference.state_dict())
    x = torch.randn(2, 3, 224, 224, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert torch.equal(net(x), reference(x))


def test_exported_weights_use_the_code_keys_and_come_back(tmp_path):
    design = templates.build("resnet18", (3, 32, 32), 10)
    torch.manual_seed(0)
    model = compile_design(design).eval()
    result = export(design, model, "python", tmp_path / "net.py")
    assert result.verified
    state = torch.load(tmp_path / "net.pt", weights_only=True)
    assert "layer1.0.conv1.weight" in state and "layer2.0.downsample.0.weight" in state
    assert not any("_0" in k for k in state)
    # the training script's weights.pt has the code's keys; the app reads them back onto its own
    result = export(design, model, "script", tmp_path / "script")
    assert result.verified
    assert "layer2.0.downsample.1.running_mean" in torch.load(tmp_path / "script" / "weights.pt", weights_only=True)
    loaded_design, loaded = load_bundle(tmp_path / "script")
    assert set(loaded) == set(model.state_dict())
    assert all(torch.equal(loaded[k], v) for k, v in model.state_dict().items())


def test_exported_code_imports_back_as_a_design(tmp_path):
    """export → import: the generated module (nested as torchvision's) is traced back into a design
    that computes the same function."""
    from engine.export import import_module
    design = templates.build("resnet18", (3, 32, 32), 10)
    torch.manual_seed(0)
    model = compile_design(design).eval()
    code = generate(design)
    namespace: dict = {}
    exec(code.source, namespace)
    net = namespace[code.class_name]().eval()
    net.load_state_dict(code.state_dict(model.state_dict()))
    imported, report = import_module(net, (3, 32, 32))
    from engine.importing.weights import transfer_weights
    again = compile_design(imported).eval()
    again.load_state_dict(transfer_weights(net, imported, report))
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert torch.allclose(again(x), model(x), atol=1e-5)


def test_names_without_torchvision_pattern_stay_flat():
    from engine.export.layout import nested_paths
    paths = nested_paths(["conv2d_1", "relu_2", "adaptive_avgpool2d_3", "x_conv", "layer_0", "layer_1", "b_1"])
    assert paths == {"conv2d_1": ("conv2d_1",), "relu_2": ("relu_2",), "adaptive_avgpool2d_3": ("adaptive_avgpool2d_3",),
                     "x_conv": ("x_conv",), "layer_0": ("layer", "0"), "layer_1": ("layer", "1"), "b_1": ("b_1",)}


def test_frozen_layers_inside_groups_stay_frozen():
    design = templates.build("resnet18", (3, 32, 32), 10)
    design.set_frozen("layer1_0", True)
    code = generate(design)
    assert "self.layer1[0].requires_grad_(False)" in code.source
    namespace: dict = {}
    exec(code.source, namespace)
    net = namespace[code.class_name]()
    frozen = {code.code_key(n) for n, p in compile_design(design).named_parameters() if not p.requires_grad}
    assert frozen == {n for n, p in net.named_parameters() if not p.requires_grad} and "layer1.0.conv1.weight" in frozen
