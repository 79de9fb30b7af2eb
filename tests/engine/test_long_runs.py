"""Long runs do not grow (issue 13): metrics are appended one line an epoch, checkpoints hold a
bounded history, resume reads the earlier rows back from the run folder, and folders written
before (metrics.json, checkpoints carrying every row) are still read."""
from __future__ import annotations

import json

import pytest
import torch

from engine import Design, data
from engine.training import TrainConfig, Trainer, events, load_checkpoint, rundir

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def bundle():
    return data.load("shapes", input_shape=(1, 8, 8), options={"n": 64})


def tiny() -> Design:
    d = Design("tiny", num_classes=4)
    d.chain(("input", {"shape": [1, 8, 8]}), ("conv2d", {"out_channels": 2, "kernel": 3, "padding": 1}), "relu",
            "flatten", ("linear", {"out_features": 4}), "output")
    return d


def cfg(**changes) -> TrainConfig:
    return TrainConfig(**{"epochs": 3, "batch_size": 16, "lr": 0.01, "num_threads": 1, **changes})


def train(bundle, run_dir, config, stop_after_epoch=None, sizes=None):
    seen = []
    holder = {}

    def on_event(e):
        seen.append(e)
        if isinstance(e, events.EpochEnd):
            if sizes is not None:  # the files are written before the event is sent
                sizes.append((run_dir / "metrics.jsonl").read_bytes())
            if stop_after_epoch is not None and e.epoch + 1 == stop_after_epoch:
                holder["t"].stop()
    trainer = holder["t"] = Trainer(tiny(), config, dataset=bundle, run_dir=run_dir, on_event=on_event)
    finished = trainer.run()
    errors = [e for e in seen if isinstance(e, events.Error)]
    return finished, seen, errors


def row(epoch: int, classes: int = 3) -> dict:
    return {"epoch": epoch, "train_loss": 1.0 / epoch, "train_accuracy": 0.5, "val_loss": 0.9, "val_accuracy": 0.6,
            "val_top5": None, "lr": 0.01, "seconds": 0.1, "confusion": [[epoch] * classes] * classes}


def test_the_metrics_file_grows_by_one_appended_line_an_epoch(bundle, tmp_path):
    sizes = []
    finished, _, errors = train(bundle, tmp_path, cfg(epochs=4), sizes=sizes)
    assert finished.reason == "completed", errors
    assert len(sizes) == 4
    for before, after in zip(sizes, sizes[1:]):
        assert after.startswith(before)  # nothing before the new line changed
        added = after[len(before):]
        assert added.count(b"\n") == 1 and added.endswith(b"\n")  # exactly one line
        assert json.loads(added)["epoch"] == sizes.index(after) + 1
    assert len(sizes[-1]) == len(sizes[-2]) + len(sizes[-1].splitlines(keepends=True)[-1])
    csv_rows = (tmp_path / "metrics.csv").read_text().splitlines()
    assert csv_rows[0].startswith("epoch,") and [r.split(",")[0] for r in csv_rows[1:]] == ["1", "2", "3", "4"]
    assert not (tmp_path / "metrics.json").exists()
    assert [r["epoch"] for r in rundir.read_metrics(tmp_path)] == [1, 2, 3, 4]


def test_metrics_log_appends_exactly_one_line_per_new_row(tmp_path):
    log = rundir.MetricsLog(tmp_path)
    history = [row(e) for e in range(1, 11)]
    log.write(history)  # the first write of a run: whole
    size = (tmp_path / "metrics.jsonl").stat().st_size
    history.append(row(11))
    log.write(history)
    line = json.dumps({k: v for k, v in row(11).items() if k != "confusion"}) + "\n"
    assert (tmp_path / "metrics.jsonl").stat().st_size == size + len(line.encode())
    assert (tmp_path / "metrics.jsonl").read_text().endswith(line)
    assert "confusion" not in (tmp_path / "metrics.jsonl").read_text()  # matrices live in the checkpoints


def test_checkpoints_do_not_grow_with_the_epochs():
    def size(n):
        history = [row(e, classes=10) for e in range(1, n + 1)]
        for r in history[:-1]:
            r.pop("confusion")  # as the trainer keeps them: the latest matrix only
        buffer = __import__("io").BytesIO()
        torch.save(rundir.bounded_history(history), buffer)
        return buffer.tell()
    assert size(1000) == size(10)
    bounded = rundir.bounded_history([row(1), row(2)])
    assert bounded["history_length"] == 2 and len(bounded["history"]) == 1 and "confusion" not in bounded["history"][0]
    assert bounded["confusion"].dtype == torch.int64 and bounded["confusion"].tolist() == [[2] * 3] * 3


def test_only_the_latest_epoch_keeps_its_confusion_matrix_in_memory(bundle):
    finished, _, errors = train(bundle, None, cfg(epochs=3))
    assert finished.reason == "completed", errors
    assert ["confusion" in r for r in finished.history] == [False, False, True]
    assert torch.tensor(finished.history[-1]["confusion"]).sum() == len(bundle.val)


@pytest.mark.parametrize("stop_after", [1, 2])
def test_resume_rebuilds_the_history_from_the_metrics_file(bundle, tmp_path, stop_after):
    first, _, errors = train(bundle, tmp_path, cfg(), stop_after_epoch=stop_after)
    assert first.reason == "stopped", errors
    checkpoint = load_checkpoint(tmp_path / "checkpoints" / "last.pt")
    assert checkpoint["version"] == 2 and checkpoint["history_length"] == stop_after
    assert len(checkpoint["history"]) == 1 and checkpoint["confusion"].sum() == len(bundle.val)
    second, seen, errors = train(bundle, tmp_path, cfg(resume=str(tmp_path / "checkpoints" / "last.pt")))
    assert second.reason == "completed", errors
    assert not [e for e in seen if isinstance(e, events.Warning) and e.code == "resume_history"]
    assert [r["epoch"] for r in second.history] == [1, 2, 3]
    for a, b in zip(first.history, second.history):
        assert {k: v for k, v in a.items() if k != "confusion"} == {k: v for k, v in b.items() if k != "confusion"}
    assert [r["epoch"] for r in rundir.read_metrics(tmp_path)] == [1, 2, 3]


def test_resume_from_an_earlier_checkpoint_rewrites_the_longer_metrics_file(bundle, tmp_path):
    first, _, errors = train(bundle, tmp_path, cfg(epochs=3))
    assert first.reason == "completed", errors
    earlier = load_checkpoint(tmp_path / "checkpoints" / "last.pt")
    # a checkpoint of epoch 1 (as best.pt can be) while metrics.jsonl holds 3 rows
    earlier.update(epoch=1, batch=0, history=[dict(first.history[0])], history_length=1)
    earlier["history"][0].pop("confusion", None)
    torch.save(earlier, tmp_path / "checkpoints" / "epoch1.pt")
    second, _, errors = train(bundle, tmp_path, cfg(epochs=2, resume=str(tmp_path / "checkpoints" / "epoch1.pt")))
    assert second.reason == "completed", errors
    assert [r["epoch"] for r in second.history] == [1, 2]
    assert [r["epoch"] for r in rundir.read_metrics(tmp_path)] == [1, 2]  # not 1, 2, 3, 2


def test_a_checkpoint_without_its_run_folder_resumes_with_a_warning(bundle, tmp_path):
    first, _, errors = train(bundle, tmp_path / "a", cfg(), stop_after_epoch=2)
    assert first.reason == "stopped", errors
    alone = tmp_path / "elsewhere" / "x" / "last.pt"
    alone.parent.mkdir(parents=True)
    alone.write_bytes((tmp_path / "a" / "checkpoints" / "last.pt").read_bytes())
    second, seen, errors = train(bundle, tmp_path / "b", cfg(resume=str(alone)))
    assert second.reason == "completed", errors
    warned = [e for e in seen if isinstance(e, events.Warning) and e.code == "resume_history"]
    assert warned and "epoch 2" in warned[0].message
    assert [r["epoch"] for r in second.history] == [2, 3]


def test_an_old_run_folder_is_still_read_and_resumed(bundle, tmp_path):
    """The format before: metrics.json (every row, with its matrix), checkpoints with every row."""
    first, _, errors = train(bundle, tmp_path, cfg(), stop_after_epoch=2)
    assert first.reason == "stopped", errors
    full = [dict(r, confusion=[[1, 0], [0, 1]]) for r in first.history]
    (tmp_path / "metrics.jsonl").unlink()
    (tmp_path / "metrics.json").write_text(json.dumps(full, indent=2) + "\n")
    assert rundir.read_metrics(tmp_path) == full
    path = tmp_path / "checkpoints" / "last.pt"
    old = load_checkpoint(path)
    for key in ("history_length", "confusion"):
        old.pop(key)
    old.update(version=1, history=full)
    torch.save(old, path)
    second, _, errors = train(bundle, tmp_path, cfg(resume=str(path)))
    assert second.reason == "completed", errors
    assert [r["epoch"] for r in second.history] == [1, 2, 3]
    assert ["confusion" in r for r in second.history] == [False, False, True]
    assert [r["epoch"] for r in rundir.read_metrics(tmp_path)] == [1, 2, 3]
    assert not (tmp_path / "metrics.json").exists()  # superseded by metrics.jsonl, which holds every row


def test_a_torn_last_line_is_skipped_and_the_next_run_rewrites_the_file(tmp_path):
    log = rundir.MetricsLog(tmp_path)
    history = [row(1), row(2)]
    log.write(history)
    with open(tmp_path / "metrics.jsonl", "a") as f:
        f.write('{"epoch": 3, "train_lo')  # a crash in the middle of an append
    assert [r["epoch"] for r in rundir.read_metrics(tmp_path)] == [1, 2]
    history.append(row(3))
    rundir.MetricsLog(tmp_path).write(history)  # a new run (resume) writes whole first
    text = (tmp_path / "metrics.jsonl").read_text()
    assert [json.loads(line)["epoch"] for line in text.splitlines()] == [1, 2, 3]


def test_no_metrics_file_reads_as_no_rows(tmp_path):
    assert rundir.read_metrics(tmp_path) == []
    (tmp_path / "metrics.json").write_text("{damaged")
    assert rundir.read_metrics(tmp_path) == []
