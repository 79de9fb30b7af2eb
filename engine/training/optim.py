"""The pieces a run is assembled from: device, optimizer (with parameter groups for frozen and
pretrained nodes), learning-rate schedule and loss."""
from __future__ import annotations

from typing import Protocol

import torch
from torch import nn
from torch.nn import functional as F

from .config import ConfigError, TrainConfig
from .devices import check_device_name, mps_available
from .schedule_math import lr_factor, total_steps, warmup_steps


def resolve_device(name: str) -> tuple[torch.device, str]:
    """``auto`` picks CUDA, then Apple's MPS, then the CPU; the note says what was chosen and why.
    A name that is no device (``cudaX``, ``gpu``) or a device this machine lacks is a ConfigError."""
    check_device_name(name)
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda"), f"auto: CUDA ({torch.cuda.get_device_name(0)})"
        if mps_available():
            return torch.device("mps"), "auto: Apple GPU (MPS)"
        return torch.device("cpu"), "auto: CPU (no CUDA or MPS GPU found)"
    device = torch.device(name)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError(f"device {name}: CUDA is not available on this machine; use device 'auto' or 'cpu'")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise ConfigError(f"device {name}: there are {torch.cuda.device_count()} CUDA device(s), "
                              f"numbered from 0")
        return device, f"{name} ({torch.cuda.get_device_name(device.index or 0)})"
    if device.type == "mps":
        if not mps_available():
            raise ConfigError(f"device {name}: Apple's MPS is not available on this machine; use 'auto' or 'cpu'")
        return torch.device("mps"), f"{name} (Apple GPU)"
    return torch.device("cpu"), "cpu"


def parameter_groups(model: nn.Module, node_names: dict, pretrained: set[str], config: TrainConfig) -> list[dict]:
    """Trainable parameters in two groups: nodes loaded from ``init_weights`` train at
    ``lr × pretrained_lr_multiplier`` (fine-tuning), the others at ``lr``."""
    pretrained_modules = {node_names[n] for n in pretrained if n in node_names}
    fine: list[nn.Parameter] = []
    fresh: list[nn.Parameter] = []
    for name, p in model.named_parameters():
        if p.requires_grad:
            (fine if name.split(".")[0] in pretrained_modules else fresh).append(p)
    groups = []
    if fresh:
        groups.append({"params": fresh, "lr": config.lr, "name": "new"})
    if fine and config.pretrained_lr_multiplier > 0:
        groups.append({"params": fine, "lr": config.lr * config.pretrained_lr_multiplier, "name": "pretrained"})
    return groups


def make_optimizer(groups: list[dict], config: TrainConfig) -> torch.optim.Optimizer:
    wd = config.weight_decay
    if config.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=config.lr, momentum=config.momentum, nesterov=config.nesterov and
                               config.momentum > 0, weight_decay=wd)
    if config.optimizer == "adam":
        return torch.optim.Adam(groups, lr=config.lr, betas=config.betas, weight_decay=wd)
    if config.optimizer == "adamw":
        return torch.optim.AdamW(groups, lr=config.lr, betas=config.betas, weight_decay=wd)
    return torch.optim.RMSprop(groups, lr=config.lr, momentum=config.momentum, weight_decay=wd)


class LRSchedule:
    """The learning rate as ``base × warm-up × schedule × plateau`` for every group, set before
    each step. One class (not torch's chained schedulers) so warm-up combines with every
    schedule, reduce-on-plateau included, and its state is a plain dict for checkpoints. The
    warm-up × schedule factor is closed-form arithmetic (:mod:`.schedule_math`), which the app's
    preview draws without torch."""

    def __init__(self, optimizer: torch.optim.Optimizer, config: TrainConfig, steps_per_epoch: int):
        self.optimizer, self.config = optimizer, config
        self.steps_per_epoch = max(1, steps_per_epoch)
        self.total = total_steps(config, self.steps_per_epoch)
        self.warmup = warmup_steps(config, self.steps_per_epoch)
        self.base = [g["lr"] for g in optimizer.param_groups]
        self.plateau_factor = 1.0
        self.best: float | None = None
        self.bad_epochs = 0
        self.step_count = 0

    def factor(self, step: int) -> float:
        return lr_factor(self.config, step, self.steps_per_epoch) * self.plateau_factor

    def apply(self, step: int) -> float:
        """Set the groups' learning rates for ``step``; returns the first group's."""
        self.step_count = step
        f = self.factor(step)
        for group, base in zip(self.optimizer.param_groups, self.base):
            group["lr"] = base * f
        return self.base[0] * f if self.base else 0.0

    def epoch_end(self, value: float, higher_is_better: bool) -> None:
        """Reduce-on-plateau: divide the LR by 1/gamma after ``plateau_patience`` epochs without
        improvement of the monitored value."""
        if self.config.schedule != "plateau":
            return
        better = self.best is None or (value > self.best if higher_is_better else value < self.best)
        if better:
            self.best, self.bad_epochs = value, 0
        else:
            self.bad_epochs += 1
            if self.bad_epochs > self.config.plateau_patience:
                self.plateau_factor *= self.config.gamma
                self.bad_epochs = 0

    def state_dict(self) -> dict:
        return {"plateau_factor": self.plateau_factor, "best": self.best, "bad_epochs": self.bad_epochs,
                "step": self.step_count}

    def load_state_dict(self, state: dict) -> None:
        self.plateau_factor = float(state["plateau_factor"])
        self.best = state["best"]
        self.bad_epochs = int(state["bad_epochs"])
        self.step_count = int(state["step"])


class LossChoice(Protocol):
    """What :func:`make_loss` reads: a TrainConfig, or anything with these two fields."""
    loss: str
    label_smoothing: float


def make_loss(config: LossChoice, num_outputs: int):
    """loss(logits, labels) for class labels (the trainer keeps a softmax Output block giving
    logits during validation too)."""
    smoothing = config.label_smoothing
    if config.loss == "cross_entropy":
        return lambda out, y: F.cross_entropy(out, y, label_smoothing=smoothing)
    if config.loss == "bce":
        if num_outputs == 1:  # one logit for two classes
            return lambda out, y: F.binary_cross_entropy_with_logits(out[:, 0], y.float())
        return lambda out, y: F.binary_cross_entropy_with_logits(out, _one_hot(y, num_outputs, smoothing))
    return lambda out, y: F.mse_loss(out, _one_hot(y, num_outputs, smoothing))


def _one_hot(y, n, smoothing):
    target = F.one_hot(y, n).to(torch.float32)
    return target * (1 - smoothing) + smoothing / n if smoothing else target
