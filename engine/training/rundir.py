"""The run folder, a contract with the exporter and the app:

    RUN_DIR/design.json             the design trained (engine.persistence format)
    RUN_DIR/config.json             TrainConfig.to_dict()
    RUN_DIR/data.json               the dataset: name, input shape, classes, mean/std, source
    RUN_DIR/metrics.jsonl           one JSON object per finished epoch, one line each, appended
    RUN_DIR/metrics.csv             the same rows as CSV, appended
    RUN_DIR/checkpoints/last.pt     torch.save of a plain dict (see Trainer._checkpoint)
    RUN_DIR/checkpoints/best.pt     the same, at the best monitored epoch
    RUN_DIR/weights.safetensors     the final model state_dict, metadata {"design": <design json>}
    RUN_DIR/events.out.tfevents.*   TensorBoard's event files, with the optional extra installed
                                    (engine.training.tensorboard_log; nothing reads them back)

Checkpoints hold only tensors and plain Python values, so ``torch.load(path,
weights_only=True)`` reads them without executing anything; a file that would need more is
refused (with :func:`engine.export.weights.read_pt`'s message), never opened the unsafe way.

A long run costs per epoch what a short one does: the metrics files grow by one line an epoch
(the first write of a run, or of a resumed run, writes them whole once), and a checkpoint holds
the last epoch's row and confusion matrix, not the whole history: resuming reads the earlier rows
back from RUN_DIR/metrics.jsonl (:func:`history_from_checkpoint`). Only the latest epoch's confusion
matrix is kept in memory. Run folders written before (a ``metrics.json`` list rewritten every epoch,
checkpoints carrying every row) are still read (:func:`read_metrics`).

Every write is atomic (``engine.persistence.atomic_write``): a failed write leaves the previous
file as it was and raises :class:`RunDirWriteError`, whose message names the file and the cause
(disk full, not writable, read-only) instead of the writer's own words. Appends are flushed and
synced line by line; a line torn by a crash is skipped by the reader, and the next run rewrites
the file whole before appending to it.
"""
from __future__ import annotations

import csv
import errno
import io
import json
import os
import pickle
import re
from pathlib import Path

import torch

from ..errors import EngineError
from ..metrics_file import METRICS_FILE, OLD_METRICS_FILE, read_metrics  # noqa: F401 - read_metrics re-exported (engine.metrics_file needs no torch)
from ..persistence import atomic_write, atomic_write_text, dumps

CHECKPOINT_FORMAT = "network-designer-checkpoint"
METRIC_COLUMNS = ["epoch", "train_loss", "train_accuracy", "val_loss", "val_accuracy", "val_top5", "lr", "seconds"]


class RunDirWriteError(EngineError):
    """A file of the run folder could not be written; ``path`` is the file, ``cause`` the short
    reason ("the disk is full", ...), ``details`` the writer's own message (for a bug report)."""

    def __init__(self, message: str, path: Path, cause: str, details: str = ""):
        super().__init__(message)
        self.path, self.cause, self.details = Path(path), cause, details


def write_failure_cause(error: BaseException) -> str:
    """What a failed write means, in words: OSError by errno; torch's writer reports a short
    write (disk full, file system gone or read-only) as a RuntimeError such as
    ``[enforce fail at inline_container.cc:672] . unexpected pos``."""
    code = getattr(error, "errno", None)
    if code in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)):
        return "the disk is full"
    if code in (errno.EACCES, errno.EPERM):
        return "permission denied (the folder is not writable)"
    if code == errno.EROFS:
        return "the file system is read-only"
    if code == errno.ENOTDIR:
        return "a file stands where a folder is needed"
    if code == errno.ENOENT:
        return "the folder does not exist (was it removed or unmounted?)"
    if isinstance(error, OSError):
        return error.strerror or str(error)
    return "the disk is full (or the folder is not writable)"


def _guarded_write(path: Path, what: str, write) -> None:
    """Run ``write()``; turn the failures of writing a file into RunDirWriteError."""
    try:
        write()
    except RunDirWriteError:
        raise
    except Exception as e:  # noqa: BLE001 - OSError, torch's RuntimeError, safetensors' own error type
        if not isinstance(e, (OSError, RuntimeError)) and type(e).__name__ != "SafetensorError":
            raise
        cause = write_failure_cause(e)
        raise RunDirWriteError(f"could not write the {what} to {path}: {cause}", path, cause,
                               f"{type(e).__name__}: {e}") from e


def prepare(run_dir, design, config, data_description: dict) -> Path:
    run_dir = Path(run_dir)
    try:
        (run_dir / "checkpoints").mkdir(parents=True, exist_ok=True)
    except OSError as e:
        if isinstance(e, (FileExistsError, NotADirectoryError)):
            cause = "a file of that name exists"
        else:
            cause = (e.strerror or str(e)) if isinstance(e, FileNotFoundError) else write_failure_cause(e)
        raise RunDirWriteError(f"cannot create the run folder {run_dir}: {cause}; choose another --out",
                               run_dir, cause, f"{type(e).__name__}: {e}") from e
    for name, text in (("design.json", dumps(design)), ("config.json", config.to_json()),
                       ("data.json", json.dumps(data_description, indent=2, ensure_ascii=False) + "\n")):
        _guarded_write(run_dir / name, name, lambda name=name, text=text: atomic_write_text(run_dir / name, text))
    return run_dir




def _json_line(row: dict) -> str:
    """One epoch's row as one line, without its confusion matrix (the checkpoints hold those)."""
    return json.dumps({k: v for k, v in row.items() if k != "confusion"}) + "\n"


def _csv_lines(rows: list[dict], header: bool) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, METRIC_COLUMNS, extrasaction="ignore", lineterminator="\n")
    if header:
        writer.writeheader()
    for row in rows:
        writer.writerow({k: ("" if row.get(k) is None else row[k]) for k in METRIC_COLUMNS})
    return out.getvalue()


def write_metrics(run_dir: Path, history: list[dict]) -> None:
    """Write metrics.jsonl and metrics.csv whole, atomically, from ``history`` (once a run; then
    :class:`MetricsLog` appends). A ``metrics.json`` of the old format beside them is removed: it
    would hold fewer epochs than the new files."""
    run_dir = Path(run_dir)
    text = "".join(_json_line(row) for row in history)
    _guarded_write(run_dir / METRICS_FILE, "metrics", lambda: atomic_write_text(run_dir / METRICS_FILE, text))
    _guarded_write(run_dir / "metrics.csv", "metrics",
                   lambda: atomic_write_text(run_dir / "metrics.csv", _csv_lines(history, header=True)))
    try:
        (run_dir / OLD_METRICS_FILE).unlink(missing_ok=True)
    except OSError:
        pass  # superseded by metrics.jsonl, which the reader prefers


def _append(path: Path, text: str) -> None:
    with open(path, "a", encoding="utf-8", newline="") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())


class MetricsLog:
    """The run folder's metrics files, kept in step with a run's history by appending: each
    :meth:`write` adds the rows not written yet, so an epoch costs one line whatever the epoch.
    The first call writes the files whole (a resumed run's history may be shorter than the
    files beside it, or they may be from another run); so does a call after a failed write."""

    def __init__(self, run_dir):
        self.run_dir = Path(run_dir)
        self._rows: int | None = None  # rows known to be in both files

    def write(self, history: list[dict]) -> None:
        if self._rows is None or len(history) < self._rows:
            self._rows = None
            write_metrics(self.run_dir, history)
            self._rows = len(history)
            return
        new = history[self._rows:]
        if not new:
            return
        written, self._rows = self._rows, None  # until both appends succeeded
        _guarded_write(self.run_dir / METRICS_FILE, "metrics",
                       lambda: _append(self.run_dir / METRICS_FILE, "".join(_json_line(r) for r in new)))
        _guarded_write(self.run_dir / "metrics.csv", "metrics",
                       lambda: _append(self.run_dir / "metrics.csv", _csv_lines(new, header=False)))
        self._rows = written + len(new)


def bounded_history(history: list[dict]) -> dict:
    """What a checkpoint keeps of the history: the number of rows, the last row (without its
    confusion matrix) and that matrix as one integer tensor. Its size does not grow with epochs."""
    if not history:
        return {"history": [], "history_length": 0, "confusion": None}
    last = history[-1]
    confusion = last.get("confusion")
    return {"history": [{k: v for k, v in last.items() if k != "confusion"}], "history_length": len(history),
            "confusion": None if confusion is None else torch.as_tensor(confusion, dtype=torch.int64)}


def history_from_checkpoint(checkpoint: dict, checkpoint_path) -> tuple[list[dict], str]:
    """The history of the run a checkpoint was saved by, and a note if part of it is missing.
    A checkpoint written by :func:`bounded_history` names its row count; the rows come from the
    metrics file of its run folder (RUN_DIR/checkpoints/x.pt → RUN_DIR), the last one with its
    confusion matrix. An older checkpoint carries every row itself; those keep only the last
    row's matrix (as a run does now)."""
    carried = [dict(r) for r in checkpoint.get("history") or []]
    if "history_length" not in checkpoint:  # the older format: every row, each with its matrix
        for row in carried[:-1]:
            row.pop("confusion", None)
        return carried, ""
    n = int(checkpoint["history_length"])
    if n == 0:
        return [], ""
    run_dir = Path(checkpoint_path).resolve().parent.parent
    rows = read_metrics(run_dir)[:n]
    last = carried[-1] if carried else None
    if len(rows) == n and last is not None and rows[-1].get("epoch") == last.get("epoch"):
        history = [dict(r) for r in rows]
        history[-1] = dict(last)
        note = ""
    else:
        history = [dict(last)] if last is not None else []
        note = (f"the metrics of the epochs before epoch {last.get('epoch') if last else n} were not found in "
                f"{run_dir / METRICS_FILE}; the run's curves start at the checkpoint")
    if history and checkpoint.get("confusion") is not None:
        history[-1]["confusion"] = checkpoint["confusion"].tolist()
    return history, note


def cpu_state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """A detached, contiguous CPU copy of the state_dict (channels_last and GPU tensors included)."""
    return {k: v.detach().to("cpu", copy=True).contiguous() for k, v in model.state_dict().items()}


def save_checkpoint(path: Path, checkpoint: dict) -> None:
    """Atomic ``torch.save``; raises RunDirWriteError (the previous file is kept) if it fails."""
    _guarded_write(path, "checkpoint", lambda: atomic_write(path, lambda tmp: _torch_save_to_file(checkpoint, tmp)))


def _torch_save_to_file(obj, path) -> None:
    """``torch.save`` through a Python file, not a path. Given a path, torch's C++ writer keeps
    the GIL while it writes the tensors: a ResNet-18 checkpoint with momentum held it for 23 ms
    (median of 12; up to 52), and the app's UI thread stalled that long at every epoch's end.
    Through a file each write is Python's, which lets go of the GIL for the system call: the
    longest wait for the GIL was then 5.2 ms, the interpreter's switch interval (a watchdog
    thread, quiet machine)."""
    with open(path, "wb") as f:
        torch.save(obj, f)


def load_checkpoint(path) -> dict:
    """Read a checkpoint safely (no code execution); raises ValueError if it is not one of ours.
    A pickle that would need arbitrary unpickling gets read_pt's refusal (never torch's advice
    to load it with ``weights_only=False``)."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"no checkpoint at {path}" + (" (it is a folder; give RUN_DIR/checkpoints/last.pt)"
                                                        if path.is_dir() else ""))
    if path.suffix == ".safetensors":
        raise ValueError(f"{path} holds weights only, not a checkpoint (weights plus optimizer state): resume from "
                         f"RUN_DIR/checkpoints/last.pt, or start a new run with --init-weights {path}")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        raise ValueError(_refusal(path)) from None
    except Exception as e:  # noqa: BLE001 - unreadable files fail in many ways
        raise ValueError(without_unsafe_advice(f"{path} is not a readable checkpoint: {_unreadable(path, e)}")) \
            from None
    if not isinstance(checkpoint, dict) or checkpoint.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{path} is not a Network Designer checkpoint (it was not written by `train`; to start "
                         "from its weights use --init-weights)")
    return checkpoint


def _refusal(path: Path) -> str:
    """read_pt's explanation of why ``path`` is not loaded (the one place that words it)."""
    from ..export.weights import WeightsFileError, read_pt
    try:
        read_pt(path)  # weights_only=True again: it raises with the refusal, never runs anything
    except WeightsFileError as e:
        return without_unsafe_advice(str(e))
    return f"{path} is not a readable checkpoint"


def _unreadable(path: Path, error: BaseException) -> str:
    """Why torch.load failed, in words: a file torch.save did not write, or the error's first line."""
    import zipfile
    if not zipfile.is_zipfile(path):
        return "it is not a file written by torch.save (or it is truncated, or in torch's legacy format)"
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0]}" if text else type(error).__name__


def write_weights(path: Path, state: dict[str, torch.Tensor], design_json: str) -> None:
    from safetensors.torch import save_file
    _guarded_write(path, "weights", lambda: atomic_write(
        path, lambda tmp: save_file(state, tmp, metadata={"design": design_json})))


def load_weights(path) -> dict[str, torch.Tensor]:
    """A state_dict from a ``.safetensors`` file, a checkpoint's ``model`` or a ``.pt``
    state_dict, read by :func:`engine.export.weights.read_weights` (never running code from the
    file); raises ValueError with its reason."""
    from ..export.weights import WeightsFileError, read_weights
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"no weights file at {path}" + (" (it is a folder; give a .safetensors or .pt file in "
                                                          "it)" if path.is_dir() else ""))
    try:
        return read_weights(path)[0]
    except WeightsFileError as e:
        raise ValueError(without_unsafe_advice(str(e))) from None
    except Exception as e:  # noqa: BLE001 - e.g. torch's weights-only reader raises KeyError on a non-pickle
        raise ValueError(without_unsafe_advice(f"{path} is not a readable weights file: {_unreadable(path, e)}")) \
            from None


_UNSAFE_ADVICE = re.compile(r"weights_only`?\s*(=|set to)\s*`?False", re.IGNORECASE)


def without_unsafe_advice(text: str) -> str:
    """``text`` without any sentence advising ``weights_only=False`` (torch's own errors suggest
    it; following that advice runs whatever code the file contains)."""
    if not _UNSAFE_ADVICE.search(text):
        return text
    kept = [s for s in re.split(r"(?<=[.!?])\s+", text)
            if not _UNSAFE_ADVICE.search(s) and "trusted source" not in s]
    return " ".join(kept).strip() or "the file is not plain weights and was refused"
