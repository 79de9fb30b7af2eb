"""Where an imported module and its weights come from (issue 16 items 2 and 7): random or
pretrained weights (the torch hub cache or a given file; nothing is downloaded), transfer
learning from an imported pretrained ResNet-18, a python factory found in the working folder
and the design named after the model, and --out into a folder that does not exist yet."""
from __future__ import annotations

import sys
import time

import pytest
import torch
import torchvision
from safetensors import safe_open

from engine import data
from engine.cli import main
from engine.compile import compile_design
from engine.export import load_bundle
from engine.importing import transfer_weights
from engine.importing.sources import RANDOM_WEIGHTS, build_module, import_source
from engine.persistence import load
from engine.pretrained import WeightsError, hub_checkpoint
from engine.training import TrainConfig, Trainer, events

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture
def hub(tmp_path, monkeypatch):
    """An empty torch hub cache of our own: TORCH_HOME points into tmp_path."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    folder = tmp_path / "torch" / "hub" / "checkpoints"
    assert torch.hub.get_dir() == str(folder.parent)
    return folder


@pytest.fixture(scope="module")
def resnet18_file(tmp_path_factory):
    """A ResNet-18 state_dict saved as torchvision's own file would be (a stand-in for the
    ImageNet weights: no network here), and the model it came from."""
    torch.manual_seed(3)
    model = torchvision.models.resnet18().eval()
    path = tmp_path_factory.mktemp("weights") / "resnet18-f37072fd.pth"
    torch.save(model.state_dict(), path)
    return path, model


def test_missing_hub_weights_say_where_they_were_looked_for_and_how_to_get_them(hub, tmp_path, capsys):
    with pytest.raises(WeightsError) as caught:
        hub_checkpoint("resnet18")
    message = str(caught.value)
    assert str(hub / "resnet18-f37072fd.pth") in message
    assert "https://download.pytorch.org/models/resnet18-f37072fd.pth" in message
    out = tmp_path / "r.json"
    assert main(["import", "torchvision:resnet18", "--pretrained", "--out", str(out),
                 "--input-shape", "3,32,32"]) == 2
    assert str(hub / "resnet18-f37072fd.pth") in capsys.readouterr().err
    assert not out.exists()  # nothing written
    with pytest.raises(WeightsError, match="torchvision's weights only"):
        build_module("python:tests.engine.test_import_sources:make_sequential", pretrained=True)


def test_pretrained_from_the_hub_cache_and_random_weights_are_told_apart(hub, resnet18_file, tmp_path, capsys):
    path, reference = resnet18_file
    hub.mkdir(parents=True)
    cached = hub / path.name
    cached.write_bytes(path.read_bytes())
    out = tmp_path / "pre.json"
    assert main(["import", "torchvision:resnet18", "--pretrained", "--out", str(out), "--input-shape", "3,32,32"]) == 0
    text = capsys.readouterr().out
    assert f"weights: pretrained weights from {cached}" in text and "random" not in text
    design, state = load_bundle(tmp_path / "pre.safetensors")
    model = compile_design(design)
    model.load_state_dict(state)
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(model.eval()(x), reference(x), atol=1e-5, rtol=1e-5)
    with safe_open(str(tmp_path / "pre.safetensors"), "pt") as f:
        assert f.metadata()["weights"].startswith(f"pretrained weights from {cached}")
    assert main(["import", "torchvision:resnet18", "--out", str(tmp_path / "rand.json"),
                 "--input-shape", "3,32,32"]) == 0
    assert f"weights: {RANDOM_WEIGHTS}" in capsys.readouterr().out
    _, random_state = load_bundle(tmp_path / "rand.safetensors")
    conv = next(k for k in state if k.endswith("weight") and state[k].dim() == 4)
    assert not torch.equal(random_state[conv], state[conv])


def test_a_given_file_loads_what_fits_and_says_what_kept_random_values(resnet18_file, tmp_path, capsys):
    path, reference = resnet18_file
    built = build_module("torchvision:resnet18", num_classes=10, pretrained=path)
    assert torch.equal(built.module.conv1.weight, reference.conv1.weight)
    assert built.module.fc.weight.shape == (10, 512)
    assert built.weights_origin.startswith(f"pretrained weights from {path}")
    assert "2 tensors keep random values: their shapes differ (fc.weight, fc.bias)" in built.weights_origin
    bad = tmp_path / "bad.pth"
    bad.write_bytes(b"not a checkpoint")
    assert main(["import", "torchvision:resnet18", "--pretrained", str(bad), "--out", str(tmp_path / "x.json")]) == 2
    assert "cannot read weights" in capsys.readouterr().err
    with pytest.raises(WeightsError, match="no pretrained weights file"):
        build_module("torchvision:resnet18", pretrained=tmp_path / "absent.pth")
    with pytest.raises(WeightsError, match="no tensor .* fits"):
        build_module("python:tests.engine.test_import_sources:make_sequential", pretrained=path)


def test_transfer_learning_from_an_imported_pretrained_resnet18(resnet18_file, tmp_path):
    """Import a pretrained ResNet-18, give it a 10-class head, freeze the rest (the design's
    frozen nodes), train one epoch on the digits: only the head changes."""
    path, _ = resnet18_file
    module, design, report = import_source("torchvision:resnet18", (3, 32, 32), pretrained=path)
    assert report.complete and report.weights_origin == f"pretrained weights from {path}"
    pretrained = transfer_weights(module, design, report)
    from safetensors.torch import save_file
    save_file(pretrained, tmp_path / "init.safetensors")
    head = next(n.id for n in design.nodes.values() if n.block == "linear")
    design.set_param(head, "out_features", 10)
    design.num_classes = 10
    for node in design.nodes.values():
        if node.id != head:
            design.set_frozen(node.id, True)
    bundle = data.load("digits", input_shape=(3, 32, 32))
    config = TrainConfig(epochs=1, batch_size=64, lr=0.01, num_threads=1, device="cpu", val_fraction=0.1,
                         init_weights=str(tmp_path / "init.safetensors"))
    trainer = Trainer(design, config, dataset=bundle)
    head_at_start = {}

    def on_event(event):
        if isinstance(event, events.RunStarted):  # the model is built and the weights loaded
            head_at_start.update({k: v.clone() for k, v in trainer.model.state_dict().items()})
    trainer.on_event = on_event
    start = time.perf_counter()
    done = trainer.run()
    seconds = time.perf_counter() - start
    assert done.reason == "completed", done
    assert seconds < 45, seconds
    after = trainer.model.state_dict()
    head_name = trainer.model.node_names[head]
    assert set(head_at_start) == set(after)
    changed = {key for key, value in after.items() if not torch.equal(value, head_at_start[key])}
    assert changed == {f"{head_name}.weight", f"{head_name}.bias"}
    assert after[f"{head_name}.weight"].shape == (10, 512)
    for key, value in after.items():  # the backbone is the pretrained one, batch-norm statistics included
        if key not in changed:
            assert torch.equal(value, pretrained[key]), key
    assert done.history[-1]["val_accuracy"] > 0.3  # chance is 0.1: the head learned from the frozen features


class Tiny(torch.nn.Module):
    def __init__(self, num_classes=3):
        super().__init__()
        self.fc = torch.nn.Linear(4, num_classes)

    def forward(self, x):
        return self.fc(x)


def make_sequential(num_classes=3):
    return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4, num_classes))


MODULE_TEXT = '''
import torch

class LittleNet(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = torch.nn.Linear(4, 2)

    def forward(self, x):
        return self.fc(x)

def Make():
    return LittleNet()
'''


def test_python_factory_in_the_working_folder_named_after_its_class(tmp_path, monkeypatch, capsys):
    (tmp_path / "my_little_models.py").write_text(MODULE_TEXT)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", ".", str(tmp_path))])
    monkeypatch.delitem(sys.modules, "my_little_models", raising=False)
    out = tmp_path / "new" / "folder" / "little.json"  # --out into folders that do not exist yet
    assert main(["import", "python:my_little_models:Make", "--out", str(out), "--input-shape", "4"]) == 0, \
        capsys.readouterr().err
    assert load(out).name == "LittleNet"
    assert (tmp_path / "new" / "folder" / "little.safetensors").is_file()
    assert str(tmp_path) not in sys.path  # the working folder was searched, not added for good
    assert not list(out.parent.glob(".*.tmp"))  # saved atomically: no temporary left
    # A container says nothing about the model: module.factory names it instead.
    _, design, _ = import_source("python:tests.engine.test_import_sources:make_sequential", (4,))
    assert design.name == "test_import_sources.make_sequential"
    _, design, _ = import_source("python:tests.engine.test_import_sources:Tiny", (4,))
    assert design.name == "Tiny"


def test_pretrained_before_the_source_still_reads_the_source(hub, resnet18_file, tmp_path, capsys):
    """`import --pretrained torchvision:resnet18`: argparse hands the source to --pretrained's
    optional FILE; the command takes it back as the source (hub weights), and without any source
    it says what to give."""
    path, _ = resnet18_file
    hub.mkdir(parents=True)
    (hub / path.name).write_bytes(path.read_bytes())
    out = tmp_path / "first.json"
    assert main(["import", "--pretrained", "torchvision:resnet18", "--out", str(out), "--input-shape", "3,32,32"]) == 0
    assert f"weights: pretrained weights from {hub / path.name}" in capsys.readouterr().out
    assert main(["import", "--out", str(tmp_path / "none.json")]) == 2
    assert "say what to import" in capsys.readouterr().err
