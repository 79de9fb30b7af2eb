"""Weights named as the exported code names them (torchvision's layer1.0.conv1, issue 16 item 7)
come back into the app's engine: as a run's starting weights (transfer learning from a checkpoint
of the exported training script) and for the explain command."""
from __future__ import annotations

import pytest
import torch

from engine import templates
from engine.compile import compile_design
from engine.explain.loading import load_explainer
from engine.export import export
from engine.training import TrainConfig, Trainer
from engine.training.rundir import load_weights

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def script_weights(tmp_path_factory):
    design = templates.build("resnet18", (3, 16, 16), 4)
    torch.manual_seed(5)
    model = compile_design(design)
    folder = tmp_path_factory.mktemp("script")
    data = {"name": "shapes", "input_shape": [3, 16, 16], "source": {"name": "shapes", "options": {"n": 64}}}
    export(design, model, "script", folder, data=data, train_config={"batch_size": 16})
    return design, model.state_dict(), folder / "weights.pt"


def test_the_scripts_weights_use_torchvisions_names(script_weights):
    _, ours, path = script_weights
    saved = load_weights(path)
    assert "layer1.0.conv1.weight" in saved and "layer1_0.conv1.weight" not in saved
    assert len(saved) == len(ours)


def test_they_start_a_run_in_the_app_engine(script_weights):
    design, ours, path = script_weights
    trainer = Trainer(design, TrainConfig(init_weights=str(path)))
    trainer._warn = lambda message, code="": pytest.fail(message)  # nothing may be left unmatched
    model = compile_design(design)
    loaded = trainer._load_initial_weights(model)
    assert loaded == {n.id for n in design.nodes.values() if any(k.startswith(model.node_names.get(n.id, "?") + ".")
                                                                  for k in ours)}
    for key, value in model.state_dict().items():
        assert torch.equal(value, ours[key]), key


def test_they_are_explained(script_weights):
    design, ours, path = script_weights
    explainer, _bundle = load_explainer(design, path, dataset="shapes")
    assert set(explainer.state) == set(ours)
    assert all(torch.equal(explainer.state[k], ours[k]) for k in ours)
