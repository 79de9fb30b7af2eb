"""What one run's training loop needs, in one place (made by engine.training.trainer)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from . import events
from .health import HealthChecker, HealthProbe
from .loop import Batcher
from .optim import LRSchedule


@dataclass
class RunContext:
    """What one run's loop needs, in one place."""
    model: torch.nn.Module
    frozen: Any
    optimizer: torch.optim.Optimizer
    schedule: LRSchedule
    scaler: Any  # torch.amp.GradScaler, enabled or not
    loss_fn: Any
    batcher: Batcher
    augment: Any
    device: torch.device
    taps: Any
    sample: Any  # the fixed validation sample whose feature maps are shown, if any
    num_outputs: int
    amp_dtype: torch.dtype | None  # mixed precision: the autocast dtype, or None
    steps_per_epoch: int
    tapped: torch.nn.Module | None
    step: int
    session_start_step: int
    limiter: events.RateLimiter
    maps_limiter: events.RateLimiter
    health: HealthProbe | None  # gradient norms and dead ReLUs every health_interval steps
    health_checker: HealthChecker
    forward_model: torch.nn.Module  # what the training step runs: the model, or its DDP wrapper
    control_every: int  # distributed: steps between control points (0 alone)
    stop_agreed: bool = False  # distributed: every rank stops at the next batch

    @property
    def autocast(self) -> bool:
        return self.amp_dtype is not None

    @property
    def augmenting(self) -> bool:
        return self.augment.active
