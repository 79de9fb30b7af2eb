"""Torchvision weights on compiled templates: identical outputs, strict and transfer modes."""
from __future__ import annotations

import pytest
import torch
import torchvision

from engine import templates
from engine.compile import compile_design
from engine.pretrained import WeightsError, load_torchvision_state_dict, read_state_dict, torchvision_key_map

pytestmark = pytest.mark.usefixtures("one_torch_thread")


CASES = {
    # VGG needs 224: its classifier expects the 7×7 map. ResNet and GoogLeNet are torchvision's
    # layout from 64×64 up (smaller inputs get the CIFAR stem), so 64 keeps the test quick.
    "resnet18": (lambda: torchvision.models.resnet18(), 64),
    "vgg11": (lambda: torchvision.models.vgg11(), 224),
    "googlenet": (lambda: torchvision.models.googlenet(aux_logits=False, init_weights=True,
                                                       transform_input=False), 96),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_torchvision_weights_give_the_same_outputs(name):
    make, size = CASES[name]
    torch.manual_seed(0)
    reference = make()
    design = templates.build(name, (3, size, size), 1000)
    model = compile_design(design)
    result = load_torchvision_state_dict(model, design, reference)
    assert result.complete and len(result.loaded) == len(reference.state_dict())
    x = torch.randn(2, 3, size, size)
    for training in (False, True):  # train mode: batch statistics and dropout (same seed → same masks)
        reference.train(training)
        model.train(training)
        torch.manual_seed(1)
        expected = reference(x)
        torch.manual_seed(1)
        actual = model(x)
        assert (actual - expected).abs().max().item() <= 1e-5, training
    # train mode moved the running statistics identically
    mapping = torchvision_key_map(design, list(reference.state_dict()), model.node_names)
    ours = model.state_dict()
    for key, value in reference.state_dict().items():
        assert torch.allclose(ours[mapping[key]], value, atol=1e-6), key


def test_loading_from_a_file_and_a_relabelled_node(tmp_path):
    torch.manual_seed(0)
    reference = torchvision.models.resnet18()
    path = tmp_path / "resnet18.pth"
    torch.save({"state_dict": reference.state_dict()}, path)
    design = templates.build("resnet18", (3, 64, 64), 1000)
    design.set_label("layer1_0", "first block")  # the submodule name changes, the mapping follows
    model = compile_design(design)
    assert hasattr(model, "first_block")
    assert load_torchvision_state_dict(model, design, str(path)).complete
    assert torch.equal(model.first_block.conv1.weight, reference.layer1[0].conv1.weight)
    assert torch.equal(model.layer4_1.bn2.running_var, reference.layer4[1].bn2.running_var)


def test_strict_refuses_and_transfer_mode_loads_what_fits():
    torch.manual_seed(0)
    reference = torchvision.models.resnet18()
    design = templates.build("resnet18", (3, 64, 64), 10)  # another class count: fc does not fit
    model = compile_design(design)
    before = model.fc.weight.detach().clone()
    with pytest.raises(WeightsError, match="fc.weight"):
        load_torchvision_state_dict(model, design, reference.state_dict())
    assert torch.equal(model.fc.weight, before)  # nothing half-loaded
    assert not torch.equal(model.conv1.weight, reference.conv1.weight)
    result = load_torchvision_state_dict(model, design, reference, strict=False)
    assert {k for k, _ in result.skipped} == {"fc.weight", "fc.bias"}
    assert set(result.missing) == {"fc.weight", "fc.bias"}
    assert torch.equal(model.conv1.weight, reference.conv1.weight)
    assert "skipped" in result.summary()


def test_cifar_stem_skips_only_the_stem_weights():
    torch.manual_seed(0)
    reference = torchvision.models.resnet18()
    design = templates.build("resnet18", (3, 32, 32), 1000)
    model = compile_design(design)
    result = load_torchvision_state_dict(model, design, reference, strict=False)
    assert [k for k, _ in result.skipped] == ["conv1.weight"]
    assert torch.equal(model.layer2_0.downsample_0.weight, reference.layer2[0].downsample[0].weight)


def test_vgg_bn_sequential_positions_map_to_named_nodes():
    with torch.device("meta"):
        reference = torchvision.models.vgg11_bn()
    design = templates.build("vgg11-bn")
    model = compile_design(design, device="meta")
    mapping = torchvision_key_map(design, list(reference.state_dict()), model.node_names)
    assert mapping["features.0.weight"] == "conv1_1.weight"
    assert mapping["features.1.running_mean"] == "bn1_1.running_mean"
    assert mapping["features.4.weight"] == "conv2_1.weight"  # 3: relu, 3: pool → 4 is the next conv
    assert mapping["classifier.6.bias"] == "fc8.bias"
    assert set(mapping.values()) == set(model.state_dict())


def test_unreadable_inputs_are_reported(tmp_path):
    bad = tmp_path / "bad.pth"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(WeightsError, match="cannot read"):
        read_state_dict(bad)
    with pytest.raises(WeightsError, match="mapping"):
        read_state_dict(42)
    assert set(read_state_dict({"module.fc.weight": torch.zeros(1)})) == {"fc.weight"}
