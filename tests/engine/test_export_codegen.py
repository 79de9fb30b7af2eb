"""The exported Python reads like hand-written PyTorch and reproduces the design exactly."""
from __future__ import annotations

import pytest
import torch

from engine import Design
from engine.compile import compile_design
from engine.export import export
from engine.export.codegen import CodegenError, generate, python_source
from engine.user_blocks import define_from_selection


def composite_design():
    d = Design("mixed", num_classes=4)
    ids = d.chain(("input", {"shape": [3, 16, 16]}), ("conv2d", {"out_channels": 8, "padding": 1}), "batchnorm2d",
                  "relu", ("inception_naive", {"c1": 4, "c3": 4, "c5": 4}),
                  ("residual_basic", {"out_channels": 20}), ("residual_basic", {"out_channels": 16, "stride": 2}))
    d.add_composite(define_from_selection(d, ids[1:4], "user:stem", "Stem block"))
    stem = d.add_node("user:stem", {})
    d.connect(ids[-1], stem.id)
    head = d.chain("global_avgpool", ("linear", {"out_features": 4}), ("output", {"softmax": True}), after=stem.id)
    d.chain("flatten", ("linear", {"out_features": 2}), "output", after=ids[3])  # a second output
    return d, head


def test_composites_become_small_classes_with_named_arguments(tmp_path):
    design, _ = composite_design()
    source, class_name = python_source(design)
    assert class_name == "Mixed"
    assert "class InceptionNaive(nn.Module):" in source
    assert "def __init__(self, in_channels, c1, c3, c5):" in source  # c1 = c3 = c5 told apart by name
    assert "class ResidualBasic(nn.Module):" in source and "class ResidualBasicWithDownsample(nn.Module):" in source
    assert "ResidualBasicWithDownsample(20, out_channels=16, stride=2)" in source
    assert "class StemBlock(nn.Module):" in source
    assert "out = out + x" in source  # the residual sum written inline
    assert "torch.softmax" in source and "if not self.training" in source
    compile(source, "exported.py", "exec")


def test_multi_output_design_round_trips(tmp_path):
    design, _ = composite_design()
    torch.manual_seed(0)
    model = compile_design(design)
    result = export(design, model, "python", tmp_path / "mixed.py")
    assert result.verified and result.max_abs_diff <= 1e-5
    namespace = {}
    exec((tmp_path / "mixed.py").read_text(), namespace)
    net = namespace["build"](str(tmp_path / "mixed.pt")).eval()
    x = torch.randn(3, 3, 16, 16)
    with torch.no_grad():
        for a, b in zip(net(x), model.eval()(x)):
            assert torch.allclose(a, b, atol=1e-6)
    # the code nests layers as torchvision does (residual_basic_7.downsample.0); the weights file follows it
    assert set(net.state_dict()) == set(generate(design).state_dict(model.state_dict()))
    assert "residual_basic_7.downsample.0.weight" in net.state_dict()


def test_frozen_layers_stay_frozen():
    d = Design("frozen")
    ids = d.chain(("input", {"shape": [1, 8, 8]}), ("conv2d", {"out_channels": 2}), "flatten",
                  ("linear", {"out_features": 3}), "output")
    d.set_frozen(ids[1], True)
    source, _ = python_source(d)
    namespace = {}
    exec(source, namespace)
    net = namespace["Frozen"]()
    frozen = {n for n, p in net.named_parameters() if not p.requires_grad}
    assert frozen == {n for n, p in compile_design(d).named_parameters() if not p.requires_grad} != set()


def test_opaque_and_invalid_designs_are_refused():
    d = Design("bad")
    d.chain(("input", {"shape": [3, 8, 8]}), ("opaque", {"type": "torch.nn.ReLU6", "output_shape": [3, 8, 8]}),
            "output")
    with pytest.raises(CodegenError, match="opaque"):
        python_source(d)
    d2 = Design("broken")
    d2.chain(("input", {"shape": [3, 4, 4]}), ("conv2d", {"kernel": 7}), "output")
    with pytest.raises(CodegenError, match="errors"):
        python_source(d2)


def test_no_branch_overwrites_the_value_it_branches_from(tmp_path):
    """Exported GoogLeNet code (issue 16): the pool branch of an Inception block gets a name of its
    own instead of reusing ``x``, which every branch reads."""
    from engine import templates
    from engine.export.codegen import python_source
    design = templates.build("googlenet", (3, 64, 64), 10)
    source, _ = python_source(design)
    inception = source[source.index("class InceptionV1"):]
    forward = inception[inception.index("def forward"):inception.index("return out")]
    assert "        x = " not in forward
    assert "branch4_0 = self.branch4[0](x)" in forward  # torchvision's names: branch4.0
    from engine.compile import compile_design
    from engine.export import export
    assert export(design, compile_design(design), "python", tmp_path / "googlenet.py").verified
