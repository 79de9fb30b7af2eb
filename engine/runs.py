"""Run history: every training run kept with what is needed to compare it later.

A :class:`RunRecord` holds the design snapshot the run trained, its config, its curves (named
series of (x, y) points: x is the epoch as a fraction, so batch and epoch points share an axis)
and where its checkpoints went. A record learns from the trainer's events (:meth:`RunRecord.apply`),
so the UI only forwards them. Records are plain data; :class:`RunHistory` keeps them in order
and can save them to a folder (one sub-folder per run, JSON only, written atomically) so that
runs survive a restart of the app.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Sequence

from .blocks.lazy import LazyModule
from .graph import Design
from .persistence import atomic_write_text, from_dict, to_dict
from .training import events as ev

if TYPE_CHECKING:  # numpy's types for mypy; at run time numpy is imported with the first point
    import numpy
    from numpy.typing import NDArray

np: Any = LazyModule("numpy")  # imported with the first curve point: the app's first window needs none


class Series:
    """A growing (x, y) curve; appends are amortised O(1) and reads are numpy views."""

    def __init__(self, points: Iterable[Sequence[float]] = ()):
        points = list(points)
        self._data: NDArray[numpy.float64] = np.empty((max(64, len(points)), 2), dtype=np.float64)
        self._n = 0
        for x, y in points:
            self.append(x, y)

    def append(self, x: float, y: float) -> None:
        if self._n == len(self._data):
            self._data = np.concatenate([self._data, np.empty_like(self._data)])
        self._data[self._n] = (x, y)
        self._n += 1

    def __len__(self) -> int:
        return self._n

    @property
    def x(self) -> NDArray[numpy.float64]:
        return self._data[:self._n, 0]

    @property
    def y(self) -> NDArray[numpy.float64]:
        return self._data[:self._n, 1]

    def last(self) -> tuple[float, float] | None:
        if not self._n:
            return None
        x, y = self._data[self._n - 1]
        return float(x), float(y)

    def to_list(self) -> list[list[float]]:
        return self._data[:self._n].tolist()


@dataclass
class RunRecord:
    run_id: str
    design: Design
    config: dict
    name: str = ""
    started: float = field(default_factory=time.time)
    status: str = "running"  # running, finished, stopped, failed
    message: str = ""
    checkpoints_dir: str = ""
    curves: dict[str, Series] = field(default_factory=dict)
    summary: dict = field(default_factory=dict)  # final metrics (best val accuracy, test accuracy, ...)
    folder: str = ""  # the run folder (set where the record was made or read; not saved in run.json)

    @property
    def title(self) -> str:
        return self.name or f"{self.design.name} · {self.run_id}"

    def series(self, name: str) -> Series:
        if name not in self.curves:
            self.curves[name] = Series()
        return self.curves[name]

    def add_point(self, name: str, x: float, y: float | None) -> None:
        if y is not None and np.isfinite(y):
            self.series(name).append(float(x), float(y))

    def apply(self, event: object) -> None:
        """Learn from one trainer event: batch points (x = epoch + fraction done), epoch points,
        the best validation accuracy, the device, an error's message and the final summary.
        Other events (feature maps, warnings, pauses) change nothing here."""
        if isinstance(event, ev.BatchProgress):
            x = event.epoch + event.batch / max(1, event.batches)
            self.add_point("train_loss", x, event.loss)
            self.add_point("train_acc", x, event.accuracy)
            self.add_point("lr", x, event.lr)
        elif isinstance(event, ev.EpochEnd):
            x = event.epoch + 1
            self.add_point("train_loss_epoch", x, event.train_loss)
            self.add_point("train_acc_epoch", x, event.train_accuracy)
            self.add_point("val_loss", x, event.val_loss)
            self.add_point("val_acc", x, event.val_accuracy)
            self.summary["best_val_accuracy"] = max(self.summary.get("best_val_accuracy", 0.0), event.val_accuracy)
        elif isinstance(event, ev.RunStarted):
            self.summary["device"] = event.device
        elif isinstance(event, ev.Error):
            self.message = event.message
        elif isinstance(event, ev.Finished):
            self.summary.update({"reason": event.reason, "epochs_done": event.epochs_done,
                                 "best_epoch": event.best_epoch, "seconds": event.seconds})

    def finish(self, status: str, message: str = "") -> None:
        """The run's thread ended with ``status`` (finished, stopped, failed) and maybe a message."""
        self.status = "failed" if message and status == "failed" else status
        if message:
            self.message = message

    def to_dict(self) -> dict:
        return {"run_id": self.run_id, "name": self.name, "started": self.started, "status": self.status,
                "message": self.message, "checkpoints_dir": self.checkpoints_dir, "config": self.config,
                "summary": self.summary, "design": to_dict(self.design),
                "curves": {k: s.to_list() for k, s in self.curves.items()}}

    @classmethod
    def from_dict(cls, data: dict) -> "RunRecord":
        return cls(run_id=str(data["run_id"]), design=from_dict(data["design"]), config=dict(data.get("config", {})),
                   name=str(data.get("name", "")), started=float(data.get("started", 0.0)),
                   status=str(data.get("status", "finished")), message=str(data.get("message", "")),
                   checkpoints_dir=str(data.get("checkpoints_dir", "")), summary=dict(data.get("summary", {})),
                   curves={k: Series(v) for k, v in data.get("curves", {}).items()})


class RunHistory:
    """Runs in the order they started. With ``root`` each run is also saved under ``root/<id>``."""

    def __init__(self, root: str | Path | None = None) -> None:
        self.root = Path(root) if root else None
        self.runs: list[RunRecord] = []
        self._counter = 0

    def new_run(self, design: Design, config: dict, name: str = "") -> RunRecord:
        self._counter += 1
        run_id = time.strftime("%Y%m%d-%H%M%S") + f"-{self._counter}"
        record = RunRecord(run_id, design, dict(config), name=name or f"run {len(self.runs) + 1}")
        if self.root:
            record.folder = str(self.root / run_id)
            record.checkpoints_dir = str(self.root / run_id / "checkpoints")
        self.runs.append(record)
        return record

    def get(self, run_id: str) -> RunRecord:
        for r in self.runs:
            if r.run_id == run_id:
                return r
        raise KeyError(f"no run {run_id!r}")

    def remove(self, run_id: str) -> None:
        self.runs = [r for r in self.runs if r.run_id != run_id]

    def save(self, record: RunRecord) -> Path | None:
        return self.write(record.run_id, record.to_dict())

    def write(self, run_id: str, data: dict) -> Path | None:
        """Write a record's :meth:`RunRecord.to_dict` (taken where the record is changed, so that
        the JSON encoding of a long run's curves can happen in another thread)."""
        if not self.root:
            return None
        folder = self.root / run_id
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / "run.json"
        atomic_write_text(path, json.dumps(data, default=_plain))
        return path

    def load_all(self) -> list[RunRecord]:
        """Read the runs saved under ``root``; unreadable ones are skipped (a half-written run
        from a crash must not stop the app from starting)."""
        if not self.root or not self.root.is_dir():
            return []
        loaded = []
        for path in sorted(self.root.glob("*/run.json")):
            try:
                loaded.append(RunRecord.from_dict(json.loads(path.read_text())))
            except Exception:  # noqa: BLE001 - any defect in an old file means: skip it
                continue
        known = {r.run_id for r in self.runs}
        self.runs[:0] = [r for r in loaded if r.run_id not in known]
        return loaded


def _plain(value: object) -> object:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    return str(value)
