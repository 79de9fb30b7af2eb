"""The compiler: readable modules, counts and shapes equal to the analysis, taps, devices,
memory formats, autocast and the opt-in torch.compile."""
from __future__ import annotations

import pytest
import torch

from engine import CompileError, Design, analyze, templates
from engine.compile import best_device, compile_design, count_parameters, example_input, optimize, prepare, with_taps

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def small_resnet():
    return templates.build("resnet18", (3, 16, 16), 10)


def test_print_reads_like_hand_written_code():
    text = str(compile_design(templates.build("resnet18"), device="meta"))
    assert text.startswith("Resnet18(")
    assert "(conv1): Conv2d(3, 64, kernel_size=(7, 7), stride=(2, 2), padding=(3, 3), bias=False)" in text
    assert "(layer2_0): ResidualBlockBasic(" in text and "(downsample_0): Conv2d(64, 128" in text
    code = compile_design(templates.build("lenet5")).code
    assert "conv1 = self.conv1(" in code and "fc2 = self.fc2(" in code


# The torchvision families are checked layer by layer in test_templates; these are the rest.
@pytest.mark.parametrize("name,options", [("lenet5", {}), ("lenet5-classic", {}), ("alexnet-original", {}),
                                          ("alexnet-original", {"two_groups": True}), ("zfnet", {}),
                                          ("mobilenet-v1", {}), ("googlenet", {"aux_heads": True})])
def test_parameters_buffers_and_every_shape_equal_the_analysis(name, options):
    design = templates.build(name, **options)
    report = analyze(design)
    model = compile_design(design, report, device="meta")
    assert sum(count_parameters(model)) == report.total_params
    assert sum(b.numel() for b in model.buffers()) == sum(n.buffers for n in report.nodes.values())
    tapped = with_taps(model, list(design.nodes))
    _, activations = tapped(*example_input(design, 2, "meta"))
    assert set(activations) == set(design.nodes)
    for node_id, value in activations.items():
        assert tuple(value.shape[1:]) == report.nodes[node_id].shape, node_id


def test_meta_device_allocates_nothing():
    model = compile_design(templates.build("vgg16"), device="meta")
    assert all(p.is_meta for p in model.parameters())


def test_with_taps_shares_parameters_and_runs_one_forward():
    design = small_resnet()
    model = compile_design(design).eval()
    calls = []
    model.conv1.register_forward_hook(lambda *a: calls.append(1))
    tapped = with_taps(model, ["layer2_0", "conv1", "input"])
    assert tapped.layer2_0 is model.layer2_0
    assert {id(p) for p in tapped.parameters()} == {id(p) for p in model.parameters()}
    x = torch.randn(2, 3, 16, 16)
    out, activations = tapped(x)
    assert len(calls) == 1
    assert torch.equal(out, model(x))
    assert activations["layer2_0"].shape == (2, 128, 8, 8)
    assert activations["input"] is x
    with torch.no_grad():  # training one trains the other
        model.fc.bias.add_(1.0)
    assert torch.equal(tapped(x)[0], model(x))
    with pytest.raises(CompileError, match="nope"):
        with_taps(model, ["nope"])


def test_taps_at_compile_time_and_added_later_merge():
    design = small_resnet()
    model = compile_design(design, taps=["relu"])
    x = torch.randn(1, 3, 16, 16)
    out, acts = model(x)
    assert set(acts) == {"relu"}
    out2, acts2 = with_taps(model, ["layer4_1"])(x)
    assert set(acts2) == {"relu", "layer4_1"} and torch.allclose(out, out2)
    with pytest.raises(CompileError, match="no such node"):
        compile_design(design, taps=["ghost"])


def test_channels_last_gives_the_same_result():
    torch.manual_seed(0)
    design = small_resnet()
    model = compile_design(design).eval()
    x = torch.randn(2, 3, 16, 16)
    expected = model(x)
    fast = prepare(model, "cpu", channels_last=True)
    assert fast.conv1.weight.is_contiguous(memory_format=torch.channels_last)
    actual = fast(x.to(memory_format=torch.channels_last))
    assert torch.allclose(actual, expected, atol=1e-4)


def test_autocast_bfloat16_on_cpu_runs_forward_and_backward():
    torch.manual_seed(0)
    design = templates.build("lenet5", (1, 28, 28), 10)
    model = compile_design(design)
    x = torch.randn(4, 1, 28, 28)
    reference = model(x)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = model(x)
    assert out.dtype == torch.bfloat16
    assert torch.allclose(out.float(), reference, atol=0.05, rtol=0.05)
    out.float().sum().backward()
    assert model.conv1.weight.grad.dtype == torch.float32


def test_optimize_wraps_torch_compile():
    # The inductor backend takes over a minute to generate code on a CPU; "eager" exercises the
    # same graph capture (dynamo) without code generation.
    design = templates.build("lenet5", (1, 8, 8), 10)
    model = compile_design(design).eval()
    fast = optimize(model, backend="eager")
    x = torch.randn(2, 1, 8, 8)
    assert torch.allclose(fast(x), model(x))


def test_device_helpers_and_example_input():
    assert best_device().type in ("cpu", "cuda", "mps")
    model = prepare(compile_design(templates.build("lenet5")), "cpu")
    x = example_input(templates.build("lenet5"), batch=3, device="cpu")
    assert model(*x).shape == (3, 10) and x[0].device.type == "cpu"


def test_invalid_designs_are_refused_with_their_diagnostics():
    d = Design("broken", num_classes=10)
    d.chain(("input", {"shape": [1, 4, 4]}), ("conv2d", {"out_channels": 4, "kernel": 7}), "output")
    with pytest.raises(CompileError, match="collapses"):
        compile_design(d)


def _copy_without_in_place(model):
    import copy

    reference = copy.deepcopy(model)
    for module in reference.modules():
        if hasattr(module, "inplace"):
            module.inplace = False
    return reference


def test_relu_and_add_write_in_place_only_where_nothing_else_reads_and_gradients_agree():
    design = small_resnet()
    model = compile_design(design).train()
    block = model.layer1_0
    assert block.relu1.inplace and block.add.inplace and block.relu.inplace  # as torchvision writes it
    assert model.relu.inplace  # after the stem's batch norm
    reference = _copy_without_in_place(model)
    torch.manual_seed(0)
    x = torch.randn(4, 3, 16, 16, requires_grad=True)
    x_ref = x.detach().clone().requires_grad_(True)
    out, out_ref = model(x), reference(x_ref)
    assert torch.allclose(out, out_ref, atol=1e-6)
    out.square().sum().backward()
    out_ref.square().sum().backward()
    assert torch.allclose(x.grad, x_ref.grad, atol=1e-5)
    for (name, p), p_ref in zip(model.named_parameters(), reference.parameters()):
        assert torch.allclose(p.grad, p_ref.grad, atol=1e-5), name


def test_a_value_read_twice_or_tapped_is_never_overwritten():
    d = Design(num_classes=2)
    inp, conv, bn, relu = d.chain(("input", {"shape": [2, 6, 6]}), ("conv2d", {"out_channels": 4, "padding": 1}),
                                  "batchnorm2d", "relu")
    side = d.chain("sigmoid", after=bn)[0]  # the batch norm's output feeds two nodes
    add = d.add_node("add").id
    d.connect(relu, add)
    d.connect(side, add)
    conv_relu = d.chain("relu", after=conv)[0]  # the conv's output feeds the batch norm too
    d.chain("flatten", ("linear", {"out_features": 2}), "output", after=add)
    d.connect(conv_relu, d.add_node("output").id)
    model = compile_design(d)
    names = model.node_names
    assert not model.get_submodule(names[relu]).inplace and not model.get_submodule(names[conv_relu]).inplace
    assert not model.get_submodule(names[add]).inplace  # its first input is a ReLU: its backward reads it

    chain = Design(num_classes=2)
    ids = chain.chain(("input", {"shape": [2, 6, 6]}), ("conv2d", {"out_channels": 4, "padding": 1}),
                      "batchnorm2d", "relu", "flatten", ("linear", {"out_features": 2}), "output")
    x = torch.randn(3, 2, 6, 6)
    tapped_at_compile = compile_design(chain, taps=[ids[2]])
    assert not tapped_at_compile.get_submodule(tapped_at_compile.node_names[ids[3]]).inplace
    plain = compile_design(chain)
    assert plain.get_submodule(plain.node_names[ids[3]]).inplace
    for model in (tapped_at_compile, with_taps(plain, [ids[2]])):
        _, acts = model(x)
        assert (acts[ids[2]] < 0).any()  # the batch norm's output, not what the ReLU made of it
