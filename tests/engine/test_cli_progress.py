"""The `train` command's progress (engine.commands.progress): tqdm bars on a terminal, nothing but
lines (one per epoch) anywhere else."""
from __future__ import annotations

import io
import re
import sys

import pytest

from engine import Design
from engine.cli import main
from engine.commands.progress import ProgressPrinter
from engine.persistence import save
from engine.training import events

pytestmark = pytest.mark.usefixtures("one_torch_thread")


class Terminal(io.StringIO):
    """A stream that says it is a terminal."""

    def isatty(self) -> bool:
        return True


def design_file(tmp_path):
    d = Design("progress net", num_classes=4)
    d.chain(("input", {"shape": [1, 12, 12]}), ("conv2d", {"out_channels": 4, "kernel": 3}), "relu", "flatten",
            ("linear", {"out_features": 4}), "output")
    path = tmp_path / "net.json"
    save(d, path)
    return path


def train_args(tmp_path, *extra):
    return ["train", str(design_file(tmp_path)), "--dataset", "shapes", "--epochs", "2", "--batch-size", "16",
            "--threads", "1", "--out", str(tmp_path / "run"), *extra]


EPOCH_LINE = re.compile(r"^epoch \d+/2  train loss [\d.]+ acc [\d.]+%  val loss [\d.]+ acc [\d.]+%  lr \S+  [\d.]+s")


def test_off_a_terminal_only_lines_one_per_epoch(tmp_path, capsys):
    assert main(train_args(tmp_path)) == 0
    err = capsys.readouterr().err
    assert "\r" not in err and "\x1b" not in err and "batch/s" not in err  # no bar, nothing redrawn
    lines = err.splitlines()
    epoch_lines = [line for line in lines if line.startswith("epoch")]
    assert len(epoch_lines) == 2 and all(EPOCH_LINE.match(line) for line in epoch_lines), epoch_lines
    others = [line for line in lines if line not in epoch_lines]
    # the run's start and end, and notes: no per-batch output
    assert others[0].startswith("device ") and others[-1].startswith("completed after 2 epoch(s)")
    assert all(line.startswith(("device ", "note: ", "completed ")) for line in others), others


def test_on_a_terminal_tqdm_bars_show_loss_accuracy_lr_rate_and_eta(tmp_path, monkeypatch, capsys):
    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    assert main(train_args(tmp_path)) == 0
    text = terminal.getvalue()
    assert "\r" in text and re.search(r"epoch 1/2: +\d+%\|", text)  # tqdm's batch bar
    assert re.search(r"\d+/\d+ \[\d\d:\d\d<\d\d:\d\d, +[\d.]+batch/s, loss [\d.]+  acc [\d.]+%  lr 0\.001  ", text)
    assert re.search(r"epochs 0/2 \|.*\| 00:\d\d elapsed, ETA \d+:\d\d", text)  # the epoch bar, the run's ETA
    assert len(re.findall(r"^epoch [12]/2  train loss", text.replace("\r", "\n"), re.M)) == 2
    assert "completed after 2 epoch(s)" in text
    assert f"run folder: {tmp_path / 'run'}" in capsys.readouterr().out  # stdout: the result only


def test_quiet_on_a_terminal_is_lines_only(tmp_path, monkeypatch):
    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    assert main(train_args(tmp_path, "--quiet")) == 0
    assert "\r" not in terminal.getvalue() and "epoch 2/2  train loss" in terminal.getvalue()


def test_the_bars_follow_the_events():
    terminal = Terminal()
    printer = ProgressPrinter(terminal)
    assert printer.bar
    printer(events.RunStarted("cpu", "auto: CPU", 100, 20, 10, 3, 0, 1000, 0, None))
    printer(events.BatchProgress(0, 5, 10, 5, 0.6931, 0.5, 0.01, 1234.0, 2.0, 75.0))
    printer(events.BatchProgress(0, 10, 10, 10, 0.5, 0.75, 0.01, 1300.0, 4.0, 70.0))
    printer(events.EpochEnd(0, 0.5, 0.8, 0.4, 0.85, None, 0.01, 1.5, True, None))
    printer(events.BatchProgress(1, 4, 10, 14, 0.3, 0.9, 0.005, 1300.0, 6.0, 60.0))
    printer(events.Warning("a note"))
    printer(events.Finished("stopped", 1, 1, 0.85, [], None, 7.0))
    text = terminal.getvalue()
    assert "epoch 1/3:  50%|" in text and "5/10" in text and "loss 0.6931  acc 50.0%  lr 0.01  1,234 samples/s" in text
    assert "10/10" in text and "epoch 2/3:  40%|" in text and "lr 0.005" in text
    assert "ETA 1:15" in text and "ETA 1:00" in text and "epochs 1/3" in text
    assert "epoch 1/3  train loss 0.5000 acc 80.0%  val loss 0.4000 acc 85.0%  lr 0.01  1.5s  *best\n" in text
    assert "note: a note\n" in text and text.endswith("stopped after 1 epoch(s) in 0:07; best val 0.85 at epoch 1\n")
    assert printer._epoch_bar is None and printer._batch_bar is None  # closed at the end


def test_a_stream_without_isatty_gets_lines():
    class Bare:
        def __init__(self):
            self.parts = []

        def write(self, text):
            self.parts.append(text)

        def flush(self):
            pass
    stream = Bare()
    printer = ProgressPrinter(stream)
    printer(events.RunStarted("cpu", "", 10, 2, 1, 1, 0, 10, 0, None))
    printer(events.BatchProgress(0, 1, 1, 1, 0.7, 0.5, 0.01, 10.0, 1.0, 0.0))
    assert not printer.bar and "".join(stream.parts).count("\n") == 1  # the start line, no bar
