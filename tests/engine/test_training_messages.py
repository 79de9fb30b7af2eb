"""Every way `train` can fail says what happened and what to do, in one line, with the right exit
code: a full disk, a resume with another optimizer, a CSV that is a table, a hostile pickle as
initial weights, resized samples, Ctrl-C, and bad input of every kind (never a traceback)."""
from __future__ import annotations

import errno
import json
import os
import shlex
import signal

import numpy as np
import pytest
import torch

from engine import Design, data
from engine.cli import main
from engine.commands import train as train_command
from engine.data import DatasetError
from engine.persistence import save
from engine.training import events, load_checkpoint, trainer as trainer_module

pytestmark = pytest.mark.usefixtures("one_torch_thread")

FAST = ["--batch-size", "128", "--threads", "1", "--quiet"]


def design_file(tmp_path, side=8, name="net.json"):
    """A linear classifier for the 10 digits; side 8 is the digits' own size (no resize note)."""
    d = Design("msg net", num_classes=10)
    d.chain(("input", {"shape": [1, side, side]}), "flatten", ("linear", {"out_features": 10}), "output")
    path = tmp_path / name
    save(d, path)
    return path


def train(*argv):
    return main(["train", *map(str, argv)])


def lines(text):
    return [line for line in text.splitlines() if line.strip()]


# -- 1. the disk fills up while a checkpoint is written --------------------------------------------
@pytest.mark.parametrize("failure", [
    RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos"),
    OSError(errno.ENOSPC, "No space left on device"),
], ids=["torch-writer", "enospc"])
def test_a_full_disk_ends_the_run_cleanly_and_keeps_the_last_good_checkpoint(tmp_path, capsys, monkeypatch,
                                                                              failure):
    real_save = torch.save

    def save_until_full(obj, f, *args, **kwargs):
        if isinstance(obj, dict) and obj.get("epoch") == 2:  # epoch 1 was saved; the disk fills in epoch 2
            raise failure
        return real_save(obj, f, *args, **kwargs)
    monkeypatch.setattr(torch, "save", save_until_full)
    out, design = tmp_path / "run", design_file(tmp_path)
    code = train(design, "--dataset", "digits", "--epochs", "2", "--out", out, *FAST)
    err = capsys.readouterr().err
    last = out / "checkpoints" / "last.pt"
    assert code == 1
    assert (f"could not write the checkpoint to {last}: the disk is full" in err
            and "free space or choose another --out" in err), err
    assert f"resume with: python main.py train {design} --resume {last} --out {out}" in err
    assert "Traceback" not in err and "enforce fail" not in err and "unexpected pos" not in err
    assert load_checkpoint(last)["epoch"] == 1  # the good one is kept
    assert sorted(p.name for p in last.parent.iterdir()) == ["best.pt", "last.pt"]  # no temporary left behind


def test_a_folder_that_is_not_writable_from_the_start_says_so(tmp_path, capsys, monkeypatch):
    def refuse(obj, f, *args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied")
    monkeypatch.setattr(torch, "save", refuse)
    out = tmp_path / "run"
    assert train(design_file(tmp_path), "--dataset", "digits", "--epochs", "1", "--out", out, *FAST) == 1
    err = capsys.readouterr().err
    assert "permission denied (the folder is not writable)" in err and "no checkpoint was written yet" in err
    assert "resume with" not in err and "Traceback" not in err


def test_a_run_folder_that_cannot_be_made_is_bad_input(tmp_path, capsys):
    taken = tmp_path / "taken"
    taken.write_text("a file, not a folder")
    assert train(design_file(tmp_path), "--dataset", "digits", "--epochs", "1", "--out", taken, *FAST) == 2
    err = capsys.readouterr().err
    assert lines(err) == [f"error: cannot create the run folder {taken}: a file of that name exists; "
                          "choose another --out"]


# -- 2. resuming with another optimizer ------------------------------------------------------------
def test_resume_with_another_optimizer_names_the_one_it_was_trained_with(tmp_path, capsys):
    out, design = tmp_path / "run", design_file(tmp_path)
    assert train(design, "--dataset", "digits", "--epochs", "1", "--optimizer", "adam", "--out", out, *FAST) == 0
    capsys.readouterr()
    last = out / "checkpoints" / "last.pt"
    code = train(design, "--dataset", "digits", "--epochs", "2", "--optimizer", "sgd", "--resume", last,
                 "--out", out, *FAST)
    err = capsys.readouterr().err
    assert code == 2 and "KeyError" not in err and "Traceback" not in err
    assert lines(err) == [f"error: resume: the checkpoint was trained with adam; resume with --optimizer adam, "
                          f"or start a new run with --init-weights {last} to keep only the weights"]
    # the advice works: the same optimizer resumes, the other one starts over from the weights
    assert train(design, "--dataset", "digits", "--epochs", "2", "--optimizer", "adam", "--resume", last,
                 "--out", out, *FAST) == 0
    assert train(design, "--dataset", "digits", "--epochs", "1", "--optimizer", "sgd", "--init-weights", last,
                 "--out", tmp_path / "fresh", *FAST) == 0


def test_resume_with_other_parameter_groups_is_refused_by_the_optimizer_load(tmp_path, capsys):
    d = Design("two layers", num_classes=10)
    d.chain(("input", {"shape": [1, 8, 8]}), "flatten", ("linear", {"out_features": 16}), "relu",
            ("linear", {"out_features": 10}), "output")
    design = tmp_path / "two.json"
    save(d, design)
    out = tmp_path / "run"
    assert train(design, "--dataset", "digits", "--epochs", "1", "--out", out, *FAST) == 0
    first_linear = next(n.id for n in d.nodes.values() if n.block == "linear")
    capsys.readouterr()
    code = train(design, "--dataset", "digits", "--epochs", "2", "--resume", out / "checkpoints" / "last.pt",
                 "--freeze", first_linear, "--out", out, *FAST)
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err and len(lines(err)) == 1
    assert "does not fit this run's optimizer" in err and "freeze_nodes" in err and "--init-weights" in err


# -- 3. a CSV table with a text column, files that are not images ---------------------------------
def test_a_table_with_a_text_column_names_the_column_and_line(tmp_path, capsys):
    rng = np.random.default_rng(0)
    table = tmp_path / "iris.csv"
    table.write_text("sepal_length,sepal_width,colour,species\n"
                     + "".join(f"{a:.2f},{b:.2f},{'red' if i == 7 else f'{c:.2f}'},{k}\n" for i, ((a, b, c), k) in
                               enumerate(zip(rng.random((50, 3)), rng.integers(0, 3, 50)))))
    with pytest.raises(DatasetError) as caught:
        data.load(str(table))
    message = str(caught.value)
    assert "line 9: the feature column 'colour' holds the text 'red'" in message
    assert "could be decoded" not in message
    code = train(design_file(tmp_path), "--dataset", table, "--epochs", "1", "--out", tmp_path / "r", *FAST)
    err = capsys.readouterr().err
    assert code == 2 and len(lines(err)) == 1 and "'colour'" in err


def test_files_that_are_not_images_are_named_with_the_decoders_reason(tmp_path):
    for label in ("cat", "dog"):
        (tmp_path / "fake" / label).mkdir(parents=True)
        for i in range(2):
            (tmp_path / "fake" / label / f"{i}.png").write_text("just text")
    with pytest.raises(DatasetError) as caught:
        data.load(str(tmp_path / "fake"))
    message = str(caught.value)
    assert message.startswith(f"none of the 4 image file(s) under {tmp_path / 'fake'} could be decoded; "
                              f"e.g. {os.path.join('cat', '0.png')}: not an image format Pillow can read")
    # no image-named files at all: what was found instead
    for label in ("cat", "dog"):
        (tmp_path / "text" / label).mkdir(parents=True)
        (tmp_path / "text" / label / "notes.txt").write_text("x")
    with pytest.raises(DatasetError, match=r"hold no images \(they hold 2 other file\(s\), e\.g\. cat"):
        data.load(str(tmp_path / "text"))
    # a proper path,label CSV whose files are missing: the reason and where paths are looked up
    (tmp_path / "list.csv").write_text("path,label\nimg/a.png,cat\nimg/b.png,dog\n")
    with pytest.raises(DatasetError, match=r"e\.g\. img.a\.png: the file does not exist \(the CSV's paths are read "
                                           r"relative to its folder"):
        data.load(str(tmp_path / "list.csv"))


# -- 4. a hostile pickle as initial weights or as a checkpoint ----------------------------------------
class Hostile:
    """Unpickling this calls os.system (what a malicious checkpoint does)."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


@pytest.mark.parametrize("flag", ["--init-weights", "--resume"])
def test_a_hostile_pickle_is_refused_without_unsafe_advice(tmp_path, capsys, flag):
    marker, evil = tmp_path / "pwned", tmp_path / "evil.pt"
    torch.save({"model": {"w": torch.zeros(1)}, "payload": Hostile(marker)}, evil)
    code = train(design_file(tmp_path), "--dataset", "digits", "--epochs", "1", flag, evil,
                 "--out", tmp_path / "r", *FAST)
    captured = capsys.readouterr()
    text = captured.out + captured.err
    assert code == 2 and not marker.exists()
    assert "weights_only=False" not in text and "set to `False`" not in text and "Traceback" not in text
    assert "refused to load evil.pt" in text and "can run any code" in text and "safetensors" in text
    assert len(lines(captured.err)) == 1


def test_init_weights_still_read_safetensors_and_checkpoints(tmp_path, capsys):
    out, design = tmp_path / "run", design_file(tmp_path)
    assert train(design, "--dataset", "digits", "--epochs", "1", "--out", out, *FAST) == 0
    for source in (out / "weights.safetensors", out / "checkpoints" / "best.pt"):
        assert train(design, "--dataset", "digits", "--epochs", "1", "--init-weights", source,
                     "--out", tmp_path / source.stem, *FAST) == 0
    assert "note: no weights" not in capsys.readouterr().err


# -- 5. resized samples are noted -------------------------------------------------------------------
def test_the_cli_notes_that_the_samples_were_resized(tmp_path, capsys):
    code = train(design_file(tmp_path, side=12), "--dataset", "digits", "--epochs", "1", "--out", tmp_path / "r",
                 *FAST)
    err = capsys.readouterr().err
    assert code == 0 and "note: the samples are 1×8×8; resized to the design's input 1×12×12" in err
    code = train(design_file(tmp_path, side=8), "--dataset", "digits", "--epochs", "1", "--out", tmp_path / "s",
                 *FAST)
    assert code == 0 and "resized" not in capsys.readouterr().err


def test_image_folders_record_their_own_shape_when_resized(tmp_path):
    from PIL import Image
    for label, value in (("dark", 20), ("light", 230)):
        (tmp_path / label).mkdir()
        for i in range(3):
            Image.fromarray(np.full((16, 20), value, np.uint8)).save(tmp_path / label / f"{i}.png")
    assert data.load(str(tmp_path), input_shape=(1, 12, 12)).adapted_from == (1, 16, 20)
    assert data.load(str(tmp_path), input_shape=(1, 16, 20)).adapted_from is None
    assert data.load(str(tmp_path)).adapted_from is None


# -- 6. Ctrl-C -----------------------------------------------------------------------------------------
def test_ctrl_c_exits_130_with_the_command_that_resumes(tmp_path, capsys, monkeypatch):
    real_call = train_command.ProgressPrinter.__call__

    def press_ctrl_c_once(self, event):
        real_call(self, event)
        if isinstance(event, events.BatchProgress) and not getattr(self, "_pressed", False):
            self._pressed = True
            signal.raise_signal(signal.SIGINT)
    monkeypatch.setattr(train_command.ProgressPrinter, "__call__", press_ctrl_c_once)
    out, design = tmp_path / "run", design_file(tmp_path)
    code = train(design, "--dataset", "digits", "--epochs", "2", "--batch-size", "32", "--lr", "0.01",
                 "--threads", "1", "--quiet", "--out", out)
    err = capsys.readouterr().err
    assert code == 130 and "Traceback" not in err
    last = out / "checkpoints" / "last.pt"
    resume = next(line for line in lines(err) if line.startswith("interrupted; resume with: "))
    command = resume.split("resume with: ", 1)[1]
    assert command.startswith(f"python main.py train {design} --resume {last} --out {out} ")
    assert "--epochs 2" in command and "--batch-size 32" in command and "--lr 0.01" in command
    assert load_checkpoint(last)["epoch"] == 0  # stopped inside the first epoch
    # the printed command continues the run
    monkeypatch.setattr(train_command.ProgressPrinter, "__call__", real_call)
    argv = shlex.split(command)
    assert argv[:3] == ["python", "main.py", "train"]
    assert main(argv[2:]) == 0
    assert "completed after 2 epoch(s)" in capsys.readouterr().err


def test_a_stop_that_is_not_ctrl_c_still_exits_0(tmp_path, capsys, monkeypatch):
    real_emit = trainer_module.Trainer._emit

    def stop_at_first_batch(self, event):
        real_emit(self, event)
        if isinstance(event, events.BatchProgress):
            self.stop()  # what the app's Stop button does
    monkeypatch.setattr(trainer_module.Trainer, "_emit", stop_at_first_batch)
    code = train(design_file(tmp_path), "--dataset", "digits", "--epochs", "1", "--batch-size", "32",
                 "--out", tmp_path / "r", "--threads", "1", "--quiet")
    err = capsys.readouterr().err
    assert code == 0 and "stopped after" in err and "interrupted" not in err


# -- 7. bad input: exit 2, one line, no traceback -----------------------------------------------------
def _config(tmp_path, content: bytes):
    path = tmp_path / "config.json"
    path.write_bytes(content)
    return ["--config", path]


def _text(path):
    path.write_text("hello, not a tensor in sight")
    return path


BAD_INPUT = {
    "config not UTF-8": lambda t: _config(t, b"\xff\xfe{}"),
    "config not JSON": lambda t: _config(t, b"{epochs: 1"),
    "config huge number": lambda t: _config(t, b'{"epochs": ' + b"9" * 5000 + b"}"),
    "config device a number": lambda t: _config(t, b'{"device": 5}'),
    "config lr a word": lambda t: _config(t, b'{"lr": "fast"}'),
    "config options not an object": lambda t: _config(t, b'{"dataset_options": 5}'),
    "config betas a number": lambda t: _config(t, b'{"betas": 0.9}'),
    "config missing": lambda t: ["--config", t / "nowhere.json"],
    "device gpu": lambda t: ["--device", "gpu"],
    "device cuda:x": lambda t: ["--device", "cuda:x"],
    "device cuda:99": lambda t: ["--device", "cuda:99"],
    "negative threads": lambda t: ["--threads", "-2"],
    "missing resume": lambda t: ["--resume", t / "nowhere.pt"],
    "missing init weights": lambda t: ["--init-weights", t / "nowhere.safetensors"],
    "resume from a folder": lambda t: ["--resume", t],
    "resume from a text file": lambda t: ["--resume", _text(t / "notes.pt")],
    "resume from weights only": lambda t: ["--resume", _text(t / "w.safetensors")],
    "init weights from a text file": lambda t: ["--init-weights", _text(t / "notes.pt")],
    "design not a design": lambda t: ["--design-override", t / "config.json"],
}


@pytest.mark.parametrize("case", list(BAD_INPUT))
def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys, case):
    extra = BAD_INPUT[case](tmp_path)
    design = design_file(tmp_path)
    if extra[0] == "--design-override":
        extra[1].write_text('{"format": "something else"}')
        design, extra = extra[1], []
    code = train(design, "--dataset", "digits", "--epochs", "1", "--out", tmp_path / "r", "--batch-size", "128",
                 "--quiet", *extra)
    captured = capsys.readouterr()
    assert code == 2, captured.err
    assert "Traceback" not in captured.err + captured.out
    assert len(lines(captured.err)) == 1, captured.err
    assert not (tmp_path / "r" / "config.json").exists()  # nothing was started


def test_a_missing_dataset_folder_is_one_line(tmp_path, capsys):
    code = train(design_file(tmp_path), "--dataset", tmp_path / "no-such-folder", "--out", tmp_path / "r", *FAST)
    err = capsys.readouterr().err
    assert code == 2 and lines(err) == [f"error: the dataset folder or file {tmp_path / 'no-such-folder'} "
                                        "does not exist"]


def test_the_config_file_format_errors_name_the_key(tmp_path):
    from engine.training import ConfigError, TrainConfig
    (tmp_path / "c.json").write_text(json.dumps({"freeze_nodes": "conv1"}))
    with pytest.raises(ConfigError, match="freeze_nodes: a list"):
        TrainConfig.load(tmp_path / "c.json")
    assert TrainConfig.from_dict(TrainConfig().to_dict()) == TrainConfig()
