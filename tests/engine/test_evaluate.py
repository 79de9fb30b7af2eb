"""One evaluation for the trainer, the app's Evaluate and the exported script: the same weights
give the same accuracy everywhere, a one-output (bce) binary classifier included; a single
output with cross-entropy is refused before training with the fix."""
from __future__ import annotations

import importlib.util

import pytest
import torch

from engine import Design, data
from engine.cli import main
from engine.compile import compile_design
from engine.data import DatasetBundle, TensorSet, channel_stats
from engine.export import export
from engine.persistence import save
from engine.training import TrainConfig, Trainer, events
from engine.training.evaluate import evaluate, predictions
from engine.training.inspect import evaluate_run, load_run_weights, top_k
from engine.training.optim import make_loss

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def binary_bundle(n=400, seed=0) -> DatasetBundle:
    """8×8 noisy pictures: class 1 has a bright blob in the upper half, class 0 in the lower half."""
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 2, (n,), generator=g)
    x = torch.rand(n, 1, 8, 8, generator=g) * 0.6
    rows = torch.randint(0, 3, (n,), generator=g)
    cols = torch.randint(0, 6, (n,), generator=g)
    for i in range(n):
        r = int(rows[i]) + (0 if y[i] == 1 else 4)
        x[i, 0, r:r + 2, cols[i]:cols[i] + 2] += 0.5
    full = TensorSet(x, y)
    train, val = full.subset(range(300)), full.subset(range(300, n))
    mean, std = channel_stats(train.x)
    return DatasetBundle("binary", train, val, (1, 8, 8), ["lower", "upper"], mean, std, {"name": "binary"})


def net(outputs: int) -> Design:
    d = Design(f"net{outputs}", num_classes=max(2, outputs))
    d.chain(("input", {"shape": [1, 8, 8]}), ("conv2d", {"out_channels": 4, "kernel": 3, "padding": 1}),
            "batchnorm2d", "relu", "flatten", ("linear", {"out_features": outputs}), "output")
    return d


def train(design, bundle, run_dir, **config):
    seen = []
    config = {"epochs": 2, "batch_size": 32, "optimizer": "adam", "lr": 3e-3, "num_threads": 1, **config}
    finished = Trainer(design, TrainConfig(**config), dataset=bundle, on_event=seen.append, run_dir=run_dir).run()
    return finished, seen


@pytest.mark.parametrize("outputs, loss", [(1, "bce"), (2, "cross_entropy")])
def test_evaluate_gives_the_runs_last_validation_accuracy(tmp_path, outputs, loss):
    bundle, design = binary_bundle(), net(outputs)
    finished, seen = train(design, bundle, tmp_path / "run", loss=loss)
    assert finished.reason == "completed", [e for e in seen if isinstance(e, events.Error)]
    last = finished.history[-1]
    state = load_run_weights(tmp_path / "run")
    config = TrainConfig(loss=loss).to_dict()
    result = evaluate_run(design, state, bundle, sample_index=3, config=config)
    assert result.accuracy == pytest.approx(last["val_accuracy"], abs=1e-9)
    assert result.loss == pytest.approx(last["val_loss"], rel=1e-5)
    assert result.count == len(bundle.val) and result.matrix.sum() == len(bundle.val)
    assert result.matrix.tolist() == last["confusion"]
    assert result.accuracy > 0.8  # it learnt; an arg-max over one output would say ~0.5 (always class 0)
    assert [name for name, _ in result.top5] == sorted(bundle.classes, key=lambda c: -dict(result.top5)[c])
    assert sum(p for _, p in result.top5) == pytest.approx(1.0)  # two classes, one output or two
    assert result.true_label == bundle.classes[int(bundle.val.y[3])]


def test_single_output_predicts_by_sigmoid_threshold_and_top_k_agrees():
    out = torch.tensor([[2.0], [-0.5], [0.1], [-3.0]])
    assert predictions(out).tolist() == [1, 0, 1, 0]
    assert predictions(torch.tensor([[0.1, 0.9, 0.3]])).tolist() == [1]
    top = top_k([0.0], ["no", "yes"])  # σ(0) = 0.5
    assert [p for _, p in top] == pytest.approx([0.5, 0.5])
    name, p = top_k([2.0], ["no", "yes"])[0]
    assert name == "yes" and p == pytest.approx(torch.sigmoid(torch.tensor(2.0)).item())
    assert top_k([0.2], ["no", "yes"], probabilities=True)[0] == ("no", pytest.approx(0.8))


def test_evaluate_takes_a_bundle_or_a_dataset_and_every_sample():
    bundle = binary_bundle(n=301 + 257)  # 258 validation samples: a last batch of one is kept
    model = compile_design(net(2))
    a = evaluate(model, bundle)
    x = (bundle.val.x - torch.tensor(bundle.mean).view(1, -1, 1, 1)) / torch.tensor(bundle.std).view(1, -1, 1, 1)
    b = evaluate(model, TensorSet(x, bundle.val.y))
    assert a.count == b.count == 258
    assert a.accuracy == pytest.approx(b.accuracy) and (a.confusion == b.confusion).all()
    assert a.loss is None and a.top5 is None


# -- the exported script's evaluation agrees with the engine's ----------------------------------------
def script_module(design, model, folder):
    export(design, model, "script", folder, data={"name": "binary", "source": {"name": "digits", "options": {}}})
    spec = importlib.util.spec_from_file_location("exported_train_script", folder / "train.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("outputs, loss", [(1, "bce"), (2, "cross_entropy"), (7, "cross_entropy")])
def test_the_exported_scripts_evaluation_agrees_with_the_engines(tmp_path, outputs, loss):
    torch.manual_seed(outputs)
    design = net(outputs)
    model = compile_design(design)
    with torch.no_grad():  # scores spread over every class, so the rule matters
        model.get_submodule(model.node_names[next(n for n in design.nodes if design.nodes[n].block == "linear")]
                            ).bias.normal_(0, 1)
    module = script_module(design, model, tmp_path / "script")
    g = torch.Generator().manual_seed(1)
    x, y = torch.randn(150, 1, 8, 8, generator=g), torch.randint(0, max(2, outputs), (150,), generator=g)
    script_net = module.build(str(tmp_path / "script" / "weights.pt"))
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=64)
    script_loss, script_acc = module.evaluate(script_net, loader, torch.device("cpu"), 1)
    engine = evaluate(model, TensorSet(x, y), loss_fn=make_loss(TrainConfig(loss=loss), outputs))
    assert script_acc == pytest.approx(engine.accuracy, abs=1e-9)
    assert script_loss == pytest.approx(engine.loss, rel=1e-5)
    assert 0.0 < engine.accuracy < 1.0


# -- a single output with cross-entropy is refused before training ------------------------------------
def test_a_single_output_with_cross_entropy_is_refused_with_the_fix(tmp_path):
    bundle, design = binary_bundle(), net(1)
    assert not [p for p in data.check(bundle, design, loss="bce") if p.severity == "error"]
    assert not [p for p in data.check(bundle, design) if p.severity == "error"]  # loss unknown: no verdict
    (problem,) = [p for p in data.check(bundle, design, loss="cross_entropy") if p.severity == "error"]
    assert problem.message.startswith("a single output with cross-entropy")
    assert problem.fix == "use the bce loss, or give the last layer 2 outputs"
    assert [p.severity for p in data.check(bundle, design, loss="mse")] == ["error"]
    assert not data.check(bundle, net(2), loss="cross_entropy")
    finished, seen = train(design, bundle, tmp_path / "run")  # the default loss: cross-entropy
    (error,) = [e for e in seen if isinstance(e, events.Error)]
    assert finished.reason == "error" and error.code == "data"
    assert "single output with cross-entropy" in error.message and "bce" in error.message
    assert not any(isinstance(e, events.RunStarted) for e in seen)  # refused before training
    assert "IndexError" not in error.message


def test_the_train_command_refuses_it_in_one_line_with_exit_2(tmp_path, capsys):
    from PIL import Image

    folder = tmp_path / "two-classes"
    for c, value in (("cat", 40), ("dog", 210)):
        (folder / c).mkdir(parents=True)
        for i in range(6):
            Image.new("L", (8, 8), value + i).save(folder / c / f"{i}.png")
    design = net(1)
    save(design, tmp_path / "net.json")
    code = main(["train", str(tmp_path / "net.json"), "--dataset", str(folder), "--epochs", "1", "--threads", "1",
                 "--quiet", "--out", str(tmp_path / "run")])
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert code == 2 and len(err) == 1, err
    assert "single output with cross-entropy" in err[0]
    assert "use the bce loss, or give the last layer 2 outputs" in err[0]
    assert "Traceback" not in err[0] and "IndexError" not in err[0]
    code = main(["train", str(tmp_path / "net.json"), "--dataset", str(folder), "--epochs", "1", "--threads", "1",
                 "--quiet", "--loss", "bce", "--batch-size", "4", "--out", str(tmp_path / "run-bce")])
    assert code == 0, capsys.readouterr().err
