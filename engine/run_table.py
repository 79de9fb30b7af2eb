"""Run comparison (issue 15 item 5): every run folder under the runs folder as a :class:`RunRecord`
and one row of settings and results per run, whoever made it.

The app saves ``run.json`` (its record: curves, summary) in the run folder; the command line
(`main.py train`) writes only the trainer's files (design.json, config.json, metrics.jsonl,
weights; see engine.training.rundir). :func:`read_run_folder` reads either, so runs from the
command line are listed beside the app's. :func:`scan` lists the folders with a cheap stamp
(modification times) so a caller re-reads only what changed. :func:`delete_run_folder` removes
one run folder and refuses anything that is not directly inside the runs folder.

No torch here: the table is read while torch may still be importing.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Callable

from .metrics_file import read_metrics
from .persistence import from_dict
from .runs import RunRecord

STAMP_FILES = ("run.json", "metrics.jsonl", "metrics.json", "config.json", "weights.safetensors")
# The weights a run folder may hold, preferred first (engine.explain.loading reads the first found).
WEIGHT_FILES = ("checkpoints/best.pt", "weights.safetensors", "checkpoints/last.pt")

# (key, header, numeric): the table's columns, in order; numeric columns sort by value.
COLUMNS = [
    ("run", "Run", False), ("started", "Started", True), ("status", "Status", False),
    ("design", "Design", False), ("dataset", "Dataset", False), ("optimizer", "Optimizer", False),
    ("lr", "Learning rate", True), ("batch", "Batch", True), ("epochs", "Epochs", True),
    ("augmentation", "Augmentation", False), ("best_val", "Best val. acc.", True),
    ("final_loss", "Final loss", True), ("seconds", "Time", True), ("device", "Device", False),
]


def stamp(folder: Path) -> tuple:
    """What changes when a run folder's contents do: the files' modification times (a stat
    each, no reading)."""
    out = []
    for name in STAMP_FILES:
        try:
            out.append((folder / name).stat().st_mtime_ns)
        except OSError:
            out.append(0)
    return tuple(out)


SWEEP_FILE = "sweep.json"  # a sweep's folder (engine.sweep): its runs are one level down


def is_run_folder(folder: Path) -> bool:
    return folder.is_dir() and ((folder / "run.json").is_file() or (folder / "config.json").is_file())


def is_sweep_folder(folder: Path) -> bool:
    return folder.is_dir() and (folder / SWEEP_FILE).is_file()


def scan(root) -> dict[str, tuple]:
    """{name: stamp} of the run folders under ``root`` (a folder is a run folder when it holds
    run.json or config.json): those directly inside, by their name, and those of a sweep folder
    (engine.sweep) inside it, as ``sweep-folder/run-folder``. A missing root is an empty dict."""
    root = Path(root)
    found: dict[str, tuple] = {}
    try:
        entries = list(root.iterdir())
    except OSError:
        return found
    for folder in entries:
        if is_run_folder(folder):
            found[folder.name] = stamp(folder)
        elif is_sweep_folder(folder):
            try:
                runs = [child for child in folder.iterdir() if is_run_folder(child)]
            except OSError:
                continue
            for child in runs:
                found[f"{folder.name}/{child.name}"] = stamp(child)
    return found


def _read_json(path: Path):
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def has_weights(folder) -> bool:
    return any((Path(folder) / name).is_file() for name in WEIGHT_FILES)


def read_run_folder(folder) -> RunRecord | None:
    """The run in ``folder`` (run.json if the app wrote one, else the trainer's files), or None
    when it cannot be read (half-written, damaged: a bad folder must not stop the listing)."""
    folder = Path(folder)
    data = _read_json(folder / "run.json")
    if isinstance(data, dict):
        try:
            record = RunRecord.from_dict(data)
        except Exception:  # noqa: BLE001 - any defect in an old file means: skip it
            return None
        record.folder = str(folder)
        return record
    return _from_trainer_files(folder)


def _from_trainer_files(folder: Path) -> RunRecord | None:
    config, design = _read_json(folder / "config.json"), _read_json(folder / "design.json")
    if not isinstance(config, dict) or not isinstance(design, dict):
        return None
    # a sweep's run is named with its sweep: "sweep-lenet-…/03-lr=0.01" (each sweep has a "01-…")
    name = f"{folder.parent.name}/{folder.name}" if is_sweep_folder(folder.parent) else folder.name
    try:
        record = RunRecord(name, from_dict(design), config, name=name,
                           started=(folder / "config.json").stat().st_mtime)
    except Exception:  # noqa: BLE001 - a damaged design file: not listed
        return None
    record.folder = str(folder)
    record.checkpoints_dir = str(folder / "checkpoints")
    rows = read_metrics(folder)
    for row in rows:
        x = row.get("epoch")
        if not isinstance(x, (int, float)):
            continue
        for series, key in (("train_loss_epoch", "train_loss"), ("train_acc_epoch", "train_accuracy"),
                            ("val_loss", "val_loss"), ("val_acc", "val_accuracy"), ("lr", "lr")):
            if isinstance(row.get(key), (int, float)):
                record.add_point(series, x, row[key])
    accuracies = [r["val_accuracy"] for r in rows if isinstance(r.get("val_accuracy"), (int, float))]
    if accuracies:
        record.summary["best_val_accuracy"] = max(accuracies)
    record.summary["epochs_done"] = len(rows)
    seconds = [r["seconds"] for r in rows if isinstance(r.get("seconds"), (int, float))]
    if seconds:
        record.summary["seconds"] = sum(seconds)
    # The command line leaves the final weights when a run ends; without them it is still going
    # or was interrupted (its last checkpoint resumes it).
    record.status = "finished" if (folder / "weights.safetensors").is_file() else "unfinished"
    return record


def _augmentation(config: dict) -> str:
    augment = config.get("augment") or {}
    if not isinstance(augment, dict):
        return str(augment)
    parts = []
    for key, value in augment.items():
        if value in (None, False, 0, 0.0, [], ""):
            continue
        parts.append(key if value is True else f"{key} {value}")
    return ", ".join(parts) or "none"


def _number(value):
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def comparison_row(record: RunRecord) -> dict:
    """The table's values for one run, keyed as :data:`COLUMNS`: numbers stay numbers (None when
    unknown) so that they sort as numbers; the view formats them."""
    c, s = record.config, record.summary
    final = None
    for name in ("train_loss_epoch", "train_loss"):  # the last epoch's training loss
        last = record.curves[name].last() if name in record.curves else None
        if last is not None:
            final = last[1]
            break
    epochs = s.get("epochs_done")
    if epochs is None:
        val = record.curves.get("val_acc")
        epochs = len(val) if val is not None and len(val) else None
    return {"run": record.title, "started": record.started, "status": record.status,
            "design": record.design.name, "dataset": str(c.get("dataset", "?")),
            "optimizer": str(c.get("optimizer", "?")), "lr": _number(c.get("lr")),
            "batch": _number(c.get("batch_size")), "epochs": _number(epochs),
            "augmentation": _augmentation(c), "best_val": _number(s.get("best_val_accuracy")),
            "final_loss": _number(final), "seconds": _number(s.get("seconds")),
            "device": str(s.get("device") or c.get("device") or "?")}


class RunFolderError(Exception):
    """A run folder cannot be deleted; the message says why."""


def delete_run_folder(root, folder, trash: Callable[[str], bool] | None = None) -> str:
    """Remove ``folder``, which must be a run folder directly inside the runs folder ``root`` or
    inside a sweep folder there (never the root itself, never anything outside it, even through
    a symbolic link). ``trash(path)``
    moves it to the system's trash when given and able (returns True); else it is deleted.
    Returns "trash" or "deleted"."""
    root_path, path = Path(root).resolve(), Path(folder)
    if path.is_symlink():
        raise RunFolderError(f"{path} is a link, not a run folder: not deleted")
    path = path.resolve()
    in_a_sweep = path.parent.parent == root_path and is_sweep_folder(path.parent)
    if not (path.parent == root_path or in_a_sweep) or not path.is_dir():
        raise RunFolderError(f"{folder} is not a run folder inside {root_path}: not deleted")
    if not ((path / "run.json").is_file() or (path / "config.json").is_file()):
        raise RunFolderError(f"{path} holds no run (no run.json or config.json): not deleted")
    if trash is not None and trash(str(path)):
        return "trash"
    try:
        shutil.rmtree(path)
    except OSError as e:
        raise RunFolderError(f"could not delete {path}: {e.strerror or e}") from None
    return "deleted"


__all__ = ["COLUMNS", "RunFolderError", "comparison_row", "delete_run_folder", "has_weights", "read_run_folder",
           "scan", "stamp"]
