"""engine.run_table: run folders of the app and of the command line read as records, their table
values, and deletion that never leaves the runs folder."""
import json
import os

import pytest

from engine import Design
from engine.persistence import dumps
from engine.run_table import RunFolderError, comparison_row, delete_run_folder, read_run_folder, scan, stamp
from engine.runs import RunHistory


def tiny() -> Design:
    d = Design("tiny", num_classes=3)
    d.chain(("input", {"shape": [1, 8, 8]}), "flatten", ("linear", {"out_features": 3}), "output")
    return d


def trainer_folder(root, name="cli-run", rows=((0.9, 0.5), (0.7, 0.75)), finished=True):
    """A folder as `main.py train` leaves it (no run.json)."""
    folder = root / name
    (folder / "checkpoints").mkdir(parents=True)
    (folder / "design.json").write_text(dumps(tiny()))
    (folder / "config.json").write_text(json.dumps({"dataset": "shapes", "optimizer": "sgd", "lr": 0.05,
                                                    "batch_size": 32, "augment": {"hflip": True, "crop": 4},
                                                    "device": "cpu"}))
    lines = [json.dumps({"epoch": i + 1, "train_loss": loss, "val_accuracy": acc, "val_loss": loss, "seconds": 2.0})
             for i, (loss, acc) in enumerate(rows)]
    (folder / "metrics.jsonl").write_text("\n".join(lines) + "\n{\"epoch\": 3, \"train_lo")  # a torn last line
    if finished:
        (folder / "weights.safetensors").write_bytes(b"x")
    return folder


def test_a_command_line_run_folder_reads_as_a_record_with_its_results(tmp_path):
    folder = trainer_folder(tmp_path)
    record = read_run_folder(folder)
    row = comparison_row(record)
    assert row == {"run": "cli-run", "started": pytest.approx((folder / "config.json").stat().st_mtime),
                   "status": "finished", "design": "tiny", "dataset": "shapes", "optimizer": "sgd", "lr": 0.05,
                   "batch": 32.0, "epochs": 2.0, "augmentation": "hflip, crop 4", "best_val": 0.75,
                   "final_loss": 0.7, "seconds": 4.0, "device": "cpu"}
    assert record.curves["val_acc"].to_list() == [[1.0, 0.5], [2.0, 0.75]]
    assert record.folder == str(folder)
    assert comparison_row(read_run_folder(trainer_folder(tmp_path, "going", finished=False)))["status"] == "unfinished"


def test_app_runs_and_damaged_folders(tmp_path):
    history = RunHistory(tmp_path)
    run = history.new_run(tiny(), {"lr": 0.1})
    run.summary.update(best_val_accuracy=0.6, seconds=3.0)
    history.save(run)
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "run.json").write_text("{not json")
    (tmp_path / "not-a-run").mkdir()
    found = scan(tmp_path)
    assert set(found) == {run.run_id, "broken"}  # folders with neither file are not runs
    assert read_run_folder(tmp_path / "broken") is None
    loaded = read_run_folder(tmp_path / run.run_id)
    assert loaded.folder == run.folder and comparison_row(loaded)["best_val"] == 0.6
    assert comparison_row(loaded)["dataset"] == "?" and comparison_row(loaded)["final_loss"] is None
    before = stamp(tmp_path / run.run_id)
    os.utime(tmp_path / run.run_id / "run.json", ns=(1, 1))
    assert stamp(tmp_path / run.run_id) != before
    assert scan(tmp_path / "missing") == {}


def test_delete_removes_only_a_run_folder_inside_the_runs_folder(tmp_path):
    root = tmp_path / "runs"
    keep, gone = trainer_folder(root, "keep"), trainer_folder(root, "gone")
    outside = trainer_folder(tmp_path, "outside")
    (root / "plain").mkdir()
    (root / "link").symlink_to(outside, target_is_directory=True)
    for bad in (outside, root, root / "plain", root / "link", root / "gone" / "checkpoints", root / ".." / "outside"):
        with pytest.raises(RunFolderError):
            delete_run_folder(root, bad)
    assert outside.is_dir() and (root / "plain").is_dir()
    trashed = []
    assert delete_run_folder(root, gone, trash=lambda path: trashed.append(path) or False) == "deleted"
    assert trashed == [str(gone.resolve())] and not gone.exists() and keep.is_dir()
    assert delete_run_folder(root, keep, trash=lambda path: True) == "trash"


def test_a_sweeps_runs_are_listed_named_with_their_sweep_and_deletable(tmp_path):
    root = tmp_path / "runs"
    sweep = root / "sweep-tiny-1"
    first = trainer_folder(sweep, "1-lr=0.01")
    trainer_folder(sweep, "2-lr=0.1")
    (sweep / "sweep.json").write_text("{}")
    other = root / "sweep-tiny-2"
    trainer_folder(other, "1-lr=0.01")  # the same run name in another sweep
    (other / "sweep.json").write_text("{}")
    trainer_folder(root / "not-a-sweep", "1-lr=0.01")  # a folder of runs without sweep.json: not listed
    found = scan(root)
    assert set(found) == {"sweep-tiny-1/1-lr=0.01", "sweep-tiny-1/2-lr=0.1", "sweep-tiny-2/1-lr=0.01"}
    record = read_run_folder(root / "sweep-tiny-1/1-lr=0.01")
    assert record.run_id == comparison_row(record)["run"] == "sweep-tiny-1/1-lr=0.01"
    with pytest.raises(RunFolderError):
        delete_run_folder(root, root / "not-a-sweep" / "1-lr=0.01")
    with pytest.raises(RunFolderError):
        delete_run_folder(root, sweep)  # the sweep folder itself holds no run
    assert delete_run_folder(root, first) == "deleted"
    assert not first.exists() and (sweep / "2-lr=0.1").is_dir()
