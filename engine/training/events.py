"""What a training run reports. Every event is a small frozen dataclass of plain Python and
numpy values (never a tensor, never anything on a device), so a UI thread can keep it.

Batch progress and feature maps are rate-limited (``TrainConfig.event_rate``, 30 a second by
default); run start, epoch ends, warnings, errors and the final event always go out.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np


@dataclass(frozen=True)
class RunStarted:
    device: str
    device_note: str          # why this device (auto's choice, or a fallback)
    train_size: int
    val_size: int
    batches_per_epoch: int
    epochs: int
    start_epoch: int          # > 0 when resuming
    trainable_params: int
    frozen_params: int
    run_dir: str | None


@dataclass(frozen=True)
class BatchProgress:
    epoch: int                # 0-based
    batch: int                # batches done in this epoch
    batches: int
    step: int                 # optimizer steps since the start of training (resumes included)
    loss: float               # mean over the batches since the previous BatchProgress
    accuracy: float           # top-1 over the same batches
    lr: float
    samples_per_second: float
    elapsed: float            # seconds in this session
    eta: float                # seconds until the last epoch ends (estimate)


@dataclass(frozen=True)
class EpochEnd:
    epoch: int
    train_loss: float
    train_accuracy: float
    val_loss: float
    val_accuracy: float
    val_top5: float | None    # None with fewer than 6 classes
    lr: float
    seconds: float
    improved: bool            # the monitored value is the best so far (best.pt saved)
    confusion: np.ndarray | None = field(repr=False, default=None)  # [true, predicted] counts, int64

    def as_row(self) -> dict:
        return {"epoch": self.epoch + 1, "train_loss": self.train_loss, "train_accuracy": self.train_accuracy,
                "val_loss": self.val_loss, "val_accuracy": self.val_accuracy, "val_top5": self.val_top5,
                "lr": self.lr, "seconds": self.seconds}


@dataclass(frozen=True)
class FeatureMaps:
    epoch: int
    step: int
    input: np.ndarray         # the fixed sample, un-normalised, [C, ...]
    maps: dict                # node id → float32 array [C, ...] (channels capped)
    prediction: np.ndarray    # class probabilities for the sample


@dataclass(frozen=True)
class Health:
    """Training health at one step (engine.training.health), every ``health_interval`` steps."""
    step: int
    epoch: int
    grad_norms: dict          # node id → L2 norm of the node's parameter gradients (trainable nodes)
    dead_fraction: dict       # ReLU node id → share of its units that were zero for the whole batch


@dataclass(frozen=True)
class HealthDiagnostic:
    """A problem the health samples show on one node, with the usual fixes in the message."""
    node_id: str
    kind: str                 # vanishing | exploding | dead_relu
    message: str
    step: int


@dataclass(frozen=True)
class Warning:  # noqa: A001 - the natural name; always used qualified (events.Warning)
    message: str
    code: str = ""


@dataclass(frozen=True)
class Error:
    message: str
    code: str = "exception"   # exception | non_finite | out_of_memory | data | config
    details: str = ""         # traceback or numbers for a bug report


@dataclass(frozen=True)
class Paused:
    step: int


@dataclass(frozen=True)
class Resumed:
    step: int


@dataclass(frozen=True)
class Finished:
    reason: str               # completed | stopped | early_stopping | non_finite | error
    epochs_done: int
    best_epoch: int | None    # 1-based, None if no epoch finished
    best_value: float | None  # of the monitored metric
    history: list = field(repr=False)  # EpochEnd.as_row() dicts (+ confusion)
    run_dir: str | None = None
    seconds: float = 0.0


class RateLimiter:
    """Lets an event through at most ``rate`` times a second (the first always passes)."""

    def __init__(self, rate: float, clock=time.perf_counter):
        self.interval = 1.0 / rate
        self.clock = clock
        self.last = -float("inf")

    def ready(self) -> bool:
        return self.clock() - self.last >= self.interval

    def mark(self) -> None:
        self.last = self.clock()
