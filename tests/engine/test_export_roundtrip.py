"""Every export format reloads and reproduces the in-app model (issue 7).

LeNet-5 and ResNet-18 (templates) are trained two SGD steps so the weights and batch-norm
statistics are not their initial values, then exported; each file is reloaded independently
of the exporter's own check and compared on fresh inputs.
"""
from __future__ import annotations

import subprocess
import sys
import textwrap
from functools import partial

import pytest
import torch

from engine import Design, templates
from engine.compile import compile_design
from engine.export import export, load_bundle, read_pt

DESIGNS = {"lenet5": (1, 28, 28), "resnet18": (3, 32, 32), "modern_blocks": (3, 12, 12)}


def modern_blocks(input_shape, num_classes):
    """Every block added for the modern CNNs (issue 16) in one design."""
    d = Design("modern blocks")
    *_, last = d.chain(("input", {"shape": list(input_shape)}), ("conv2d", {"out_channels": 8, "kernel": 3, "padding": 1}),
                       "relu6", ("squeeze_excitation", {"squeeze_channels": 4, "activation": "silu", "gate": "hardsigmoid"}),
                       ("channel_shuffle", {"groups": 2}), ("channel_layernorm", {}), ("layer_scale", {"init_value": 0.5}),
                       ("stochastic_depth", {"p": 0.2}), "hardswish")
    (first,) = d.chain(("channel_chunk", {"chunks": 2, "index": 0}), after=last)
    *_, second = d.chain(("channel_chunk", {"chunks": 2, "index": 1}), "hardsigmoid", after=last)
    gate = d.add_node("multiply").id
    d.connect(first, gate)
    d.connect(second, gate)
    d.chain("global_avgpool", ("linear", {"out_features": num_classes}), "output", after=gate)
    return d


def trained(name):
    build = modern_blocks if name == "modern_blocks" else partial(templates.build, name)
    design = build(input_shape=DESIGNS[name], num_classes=10)
    torch.manual_seed(0)
    model = compile_design(design)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    x, y = torch.randn(4, *DESIGNS[name]), torch.randint(0, 10, (4,))
    for _ in range(2):
        loss = torch.nn.functional.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return design, model.eval()


@pytest.fixture(scope="module", params=list(DESIGNS))
def case(request):
    design, model = trained(request.param)
    x = torch.randn(4, *DESIGNS[request.param])
    with torch.no_grad():
        expected = model(x)
    return request.param, design, model, x, expected


def run_compiled(design, state, x):
    model = compile_design(design)
    model.load_state_dict(state)
    with torch.no_grad():
        return model.eval()(x)


def test_bundle(case, tmp_path):
    name, design, model, x, expected = case
    result = export(design, model, "bundle", tmp_path / "bundle")
    assert result.verified and result.max_abs_diff <= 1e-5
    assert {p.name for p in result.files} == {"design.json", "weights.safetensors", "README.md"}
    loaded_design, state = load_bundle(tmp_path / "bundle")
    assert (run_compiled(loaded_design, state, x) - expected).abs().max() <= 1e-5
    # The safetensors file alone carries the design in its metadata.
    (tmp_path / "bundle" / "design.json").unlink()
    loaded_design, state = load_bundle(tmp_path / "bundle" / "weights.safetensors")
    assert len(loaded_design.nodes) == len(design.nodes)
    assert (run_compiled(loaded_design, state, x) - expected).abs().max() <= 1e-5


def test_state_dict_pt(case, tmp_path):
    name, design, model, x, expected = case
    result = export(design, model, "pt", tmp_path / "model.pt")
    assert result.verified
    state = torch.load(tmp_path / "model.pt", weights_only=True)  # plain tensors only
    assert set(state) == set(model.state_dict())
    assert (run_compiled(design, read_pt(tmp_path / "model.pt"), x) - expected).abs().max() <= 1e-5


def test_pt2_program(case, tmp_path):
    name, design, model, x, expected = case
    result = export(design, model, "pt2", tmp_path / "model.pt2")
    assert result.verified and result.max_abs_diff <= 1e-5
    program = torch.export.load(str(tmp_path / "model.pt2")).module()
    with torch.no_grad():
        assert (program(x) - expected).abs().max() <= 1e-5  # batch 4: the batch axis is dynamic


def test_onnx_in_onnxruntime(case, tmp_path):
    onnxruntime = pytest.importorskip("onnxruntime")
    name, design, model, x, expected = case
    result = export(design, model, "onnx", tmp_path / "model.onnx")
    assert result.verified and result.max_abs_diff <= 1e-4
    session = onnxruntime.InferenceSession(str(tmp_path / "model.onnx"), providers=["CPUExecutionProvider"])
    (out,) = session.run(None, {session.get_inputs()[0].name: x.numpy()})
    assert (torch.from_numpy(out) - expected).abs().max() <= 1e-4


ISOLATED_RUNNER = textwrap.dedent("""
    import importlib.abc, importlib.util, sys
    class Block(importlib.abc.MetaPathFinder):  # the project must not be needed
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in ("engine", "designer"):
                raise ImportError("exported code imported the project: " + name)
    sys.meta_path.insert(0, Block())
    import torch
    spec = importlib.util.spec_from_file_location("exported", sys.argv[1])
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    model = module.build(sys.argv[2]).eval()
    with torch.no_grad():
        torch.save(model(torch.load("input.pt")), "output.pt")
    assert not [m for m in sys.modules if m.split(".")[0] in ("engine", "designer")]
    print("ok", type(model).__name__)
""")


def test_python_file_runs_in_a_fresh_interpreter(case, tmp_path):
    name, design, model, x, expected = case
    result = export(design, model, "python", tmp_path / "out" / "net.py")
    assert result.verified
    source = (tmp_path / "out" / "net.py").read_text()
    assert "engine" not in source.replace("Network Designer", "")
    if name == "resnet18":
        assert "class ResidualBasic(nn.Module)" in source  # composites are their own classes
    work = tmp_path / "elsewhere"
    work.mkdir()
    torch.save(x, work / "input.pt")
    (work / "runner.py").write_text(ISOLATED_RUNNER)
    proc = subprocess.run([sys.executable, "-I", "runner.py", str(tmp_path / "out" / "net.py"),
                           str(tmp_path / "out" / "net.pt")], cwd=work, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("ok")
    assert (torch.load(work / "output.pt") - expected).abs().max() <= 1e-5


def test_training_script_embeds_the_same_model(case, tmp_path):
    name, design, model, x, expected = case
    result = export(design, model, "script", tmp_path / "script")
    assert result.verified
    names = {p.name for p in result.files}
    assert {"train.py", "design.json", "data.json", "train_config.json", "weights.pt", "dataset.pt"} <= names
    source = (tmp_path / "script" / "train.py").read_text()
    assert "DistributedSampler" in source and "DistributedDataParallel" in source
    assert "import engine" not in source and "from engine" not in source
