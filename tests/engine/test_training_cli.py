"""The `train` command: config file + overrides, run folder, exit codes, Ctrl-C handling."""
from __future__ import annotations

import io
import json

from engine import Design
from engine.cli import main
from engine.commands import train as train_command
from engine.persistence import save
from engine.training import events


def design_file(tmp_path):
    d = Design("cli net", num_classes=4)
    d.chain(("input", {"shape": [1, 12, 12]}), ("conv2d", {"out_channels": 4, "kernel": 3}), "relu", "flatten",
            ("linear", {"out_features": 4}), "output")
    path = tmp_path / "net.json"
    save(d, path)
    return path


def test_train_command_writes_the_run_folder(tmp_path, capsys):
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"dataset": "shapes", "dataset_options": {"n": 120}, "epochs": 5, "lr": 0.01}))
    out = tmp_path / "run"
    code = main(["train", str(design_file(tmp_path)), "--config", str(config), "--epochs", "2", "--batch-size",
                 "16", "--optimizer", "sgd", "--threads", "1", "--out", str(out)])
    captured = capsys.readouterr()
    assert code == 0 and f"run folder: {out}" in captured.out
    assert "epoch 2/2" in captured.err and "completed after 2 epoch(s)" in captured.err
    assert json.loads((out / "config.json").read_text())["optimizer"] == "sgd"
    assert json.loads((out / "config.json").read_text())["epochs"] == 2  # the command line wins
    assert (out / "checkpoints" / "best.pt").is_file() and (out / "weights.safetensors").is_file()


def test_train_command_exit_codes(tmp_path, capsys):
    assert main(["train", str(tmp_path / "missing.json")]) == 2
    assert main(["train", str(design_file(tmp_path)), "--optimizer", "lbfgs"]) == 2
    code = main(["train", str(design_file(tmp_path)), "--dataset", str(tmp_path / "no-such-folder"),
                 "--out", str(tmp_path / "r")])
    assert code == 2 and "does not exist" in capsys.readouterr().err  # a dataset that cannot be used: bad input


def test_ctrl_c_stops_once_then_aborts():
    class FakeTrainer:
        stop_requested = False

        def stop(self):
            self.stop_requested = True
    trainer, stream = FakeTrainer(), io.StringIO()
    handler = train_command._interrupt_handler(trainer, train_command.ProgressPrinter(stream))
    handler(2, None)
    assert trainer.stop_requested and "stopping after this batch" in stream.getvalue()
    try:
        handler(2, None)
    except KeyboardInterrupt:
        pass
    else:
        raise AssertionError("a second Ctrl-C must abort")


def test_progress_bar_shows_loss_accuracy_and_eta():
    stream = io.StringIO()
    printer = train_command.ProgressPrinter(stream, bar=True)
    printer(events.RunStarted("cpu", "auto: CPU", 100, 20, 10, 3, 0, 1000, 0, None))
    printer(events.BatchProgress(0, 5, 10, 5, 0.6931, 0.5, 0.01, 1234.0, 2.0, 75.0))
    printer(events.EpochEnd(0, 0.5, 0.8, 0.4, 0.85, None, 0.01, 1.5, True, None))
    text = stream.getvalue()
    assert "5/10" in text and "loss 0.6931" in text and "acc 50.0%" in text and "ETA 1:15" in text
    assert "val loss 0.4000 acc 85.0%" in text and "*best" in text
