"""Importing PyTorch models as editable designs (issue 7)."""
from __future__ import annotations

import pytest
import torch
import torchvision
from torch import nn

from engine.analysis import analyze
from engine.cli import main
from engine.compile import compile_design
from engine.errors import CompileError
from engine.export import export, import_module, load_bundle
from engine.importing import ModuleImportError, transfer_weights
from engine.persistence import dumps, load, loads


@pytest.mark.parametrize("name,params", [("resnet18", 11689512), ("vgg11", 132863336)])
def test_torchvision_models_import_exactly(name, params):
    torch.manual_seed(0)
    model = getattr(torchvision.models, name)().eval()
    # 64×64 keeps it fast: the parameter count does not depend on the input size.
    design, report = import_module(model, (3, 64, 64))
    assert report.complete, report.text()
    assert report.model_params == params
    analysis = analyze(design)
    assert analysis.valid and analysis.total_params == params
    compiled = compile_design(design, analysis)
    compiled.load_state_dict(transfer_weights(model, design, report))
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        assert (compiled.eval()(x) - model(x)).abs().max() <= 1e-5
    # The design is an ordinary one: it saves and loads.
    assert len(loads(dumps(design)).nodes) == len(design.nodes)


class Unusual(nn.Module):
    """A model with layers no block describes: Softplus and a learned scale per position (a
    scale per channel would be a Layer scale block)."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.act = nn.Softplus()
        self.scale = nn.Parameter(torch.ones(1, 8, 16, 16))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(8, 4)

    def forward(self, x):
        x = self.act(self.conv(x)) * self.scale
        x = self.pool(x).flatten(1)
        return torch.relu(self.fc(x))


def test_unknown_layers_become_opaque_with_shapes_and_a_report():
    model = Unusual()
    design, report = import_module(model, (3, 16, 16))
    whats = {what for _id, what, _why in report.opaque}
    assert any("Softplus" in w for w in whats) and "mul" in whats
    assert not report.complete and "not understood" in report.text()
    analysis = analyze(design)
    assert analysis.valid  # opaque nodes still report their shapes: nothing downstream is unknown
    assert analysis.total_params == sum(p.numel() for p in model.parameters())  # scale counted on the mul
    relu6 = next(i for i, what, _ in report.opaque if "Softplus" in what)
    assert analysis.nodes[relu6].shape == (8, 16, 16)
    with pytest.raises(CompileError, match="opaque"):
        compile_design(design)
    # An opaque node refuses an input it was not traced with.
    design.set_param(next(n.id for n in design.input_nodes()), "shape", [3, 20, 20])
    assert any(d.node_id == relu6 for d in analyze(design).errors)


class Branchy(nn.Module):
    def forward(self, x):
        if x.sum() > 0:  # data-dependent control flow: fx cannot trace it
            return x
        return -x


def test_untraceable_module_is_a_clear_error():
    with pytest.raises(ModuleImportError, match="cannot trace"):
        import_module(Branchy(), (3, 8, 8))


def test_import_cli_torchvision_then_export(tmp_path, capsys):
    out = tmp_path / "r18.json"
    assert main(["import", "torchvision:resnet18", "--out", str(out), "--input-shape", "3,32,32",
                 "--num-classes", "10"]) == 0
    text = capsys.readouterr().out
    assert "0 opaque" in text
    design, state = load_bundle(tmp_path / "r18.safetensors")
    assert analyze(load(out)).total_params == analyze(design).total_params
    # A bundle re-imports to continue training (design + weights).
    assert main(["import", str(tmp_path / "r18.safetensors"), "--out", str(tmp_path / "again.json")]) == 0
    again, state2 = load_bundle(tmp_path / "again.safetensors")
    assert all(torch.equal(state[k], state2[k]) for k in state)


def test_bundle_round_trip_for_fine_tuning(tmp_path):
    torch.manual_seed(1)
    model = torchvision.models.resnet18(num_classes=5).eval()
    design, report = import_module(model, (3, 32, 32))
    state = transfer_weights(model, design, report)
    export(design, state, "bundle", tmp_path / "b")
    loaded, loaded_state = load_bundle(tmp_path / "b")
    net = compile_design(loaded)
    net.load_state_dict(loaded_state)
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert (net.eval()(x) - model(x)).abs().max() <= 1e-5
    assert loaded.num_classes == 5


class Tokened(nn.Module):
    """A learned token expanded to the batch (as in ViT): an op that reads no tensor input."""

    def __init__(self):
        super().__init__()
        self.token = nn.Parameter(torch.zeros(1, 4))
        self.fc = nn.Linear(4, 3)

    def forward(self, x):
        t = self.token.expand(x.shape[0], -1)
        return self.fc(x.flatten(1)[:, :4] + t)


def test_constants_expanded_to_the_batch_keep_shapes_known():
    model = Tokened()
    design, report = import_module(model, (2, 3, 3))
    analysis = analyze(design)
    assert analysis.valid, analysis.errors
    assert analysis.total_params == 4 + 4 * 3 + 3
    assert any(what == "expand" for _, what, _ in report.opaque)
    out = design.output_nodes()[0].id
    assert analysis.nodes[out].shape == (3,)


def test_the_old_import_path_still_works():
    import engine.export.importer as old
    import engine.importing as new
    assert (old.import_module, old.transfer_weights, old.ImportReport, old.ModuleImportError) == \
        (new.import_module, new.transfer_weights, new.ImportReport, new.ModuleImportError)
