"""The training configuration: one dataclass, saved as ``config.json`` in every run folder and
accepted from a JSON file (``train --config FILE``). Unknown keys and bad values are refused
with a message naming the key."""
from __future__ import annotations

import json
import numbers
import re
from dataclasses import MISSING, asdict, dataclass, field, fields
from pathlib import Path

from ..errors import EngineError

OPTIMIZERS = ("sgd", "adam", "adamw", "rmsprop")
SCHEDULES = ("none", "step", "multistep", "cosine", "onecycle", "plateau")
LOSSES = ("cross_entropy", "bce", "mse")
MONITORS = ("val_loss", "val_accuracy")
DEVICE_NAMES = "auto, cpu, cuda, cuda:N (N = 0, 1, ...), mps or mps:0"
_DEVICE = re.compile(r"auto|cpu|mps(:0)?|cuda(:\d+)?")


class ConfigError(EngineError):
    """A training configuration value is missing, unknown or out of range."""


@dataclass
class TrainConfig:
    # data
    dataset: str = "digits"
    dataset_options: dict = field(default_factory=dict)
    val_fraction: float = 0.2
    resize: bool = True                 # make the samples fit the design's Input when they differ
    augment: dict = field(default_factory=dict)   # see engine.data.Augment
    normalize: bool = True
    # optimisation
    epochs: int = 10
    batch_size: int = 64
    optimizer: str = "adam"
    lr: float = 1e-3
    momentum: float = 0.9               # SGD and RMSprop
    nesterov: bool = False
    weight_decay: float = 0.0
    betas: tuple[float, float] = (0.9, 0.999)
    schedule: str = "none"
    step_size: int = 10                 # epochs, for "step"
    milestones: list[int] = field(default_factory=list)  # epochs, for "multistep"
    gamma: float = 0.1
    min_lr: float = 0.0                 # cosine floor
    plateau_patience: int = 3
    warmup_epochs: float = 0.0          # linear warm-up (fractions of an epoch allowed)
    loss: str = "cross_entropy"
    label_smoothing: float = 0.0
    grad_clip: float = 0.0              # max gradient norm; 0 = off
    # transfer learning
    init_weights: str = ""              # .safetensors or checkpoint to start from
    reinit_nodes: list[str] = field(default_factory=list)   # nodes not taken from init_weights
    freeze_nodes: list[str] = field(default_factory=list)   # in addition to the design's frozen nodes
    pretrained_lr_multiplier: float = 1.0  # LR factor for unfrozen nodes loaded from init_weights
    # run control
    seed: int = 0
    deterministic: bool = False
    device: str = "auto"
    mixed_precision: bool = True        # CUDA only: bfloat16 where supported, else float16 with loss scaling
    channels_last: bool = True          # CUDA only, 4-D inputs
    num_threads: int = 0                # torch CPU threads; 0 = leave as is
    early_stopping_patience: int = 0    # epochs without improvement; 0 = off
    monitor: str = "val_accuracy"       # chooses best.pt, early stopping and plateau
    overfit_batches: int = 0            # sanity mode: train and validate on this many fixed batches
    resume: str = ""                    # a checkpoint (last.pt) to continue from
    # events
    feature_map_nodes: list[str] = field(default_factory=list)
    feature_map_interval: float = 0.5   # seconds between feature-map samples
    event_rate: float = 30.0            # max batch events per second
    max_feature_channels: int = 32
    health_interval: int = 50           # steps between gradient-norm / dead-ReLU samples; 0 = off

    def __post_init__(self):
        self._check_types()
        self.betas = tuple(self.betas)
        self.validate()

    def _check_types(self) -> None:
        """Each value has its default's type (a whole number where one is expected, a list of
        names for node lists...), so a config file with ``"lr": "fast"`` is refused by name."""
        for f in fields(self):
            value = getattr(self, f.name)
            default = f.default if f.default is not MISSING else f.default_factory()  # type: ignore[operator]  # a field has a default or a factory
            problem = _type_problem(value, default, f.name)
            if problem:
                raise ConfigError(f"{f.name}: {problem} (got {value!r})")

    def validate(self) -> None:
        def need(ok, key, text):
            if not ok:
                raise ConfigError(f"{key}: {text} (got {getattr(self, key)!r})")
        need(self.optimizer in OPTIMIZERS, "optimizer", f"one of {', '.join(OPTIMIZERS)}")
        need(self.schedule in SCHEDULES, "schedule", f"one of {', '.join(SCHEDULES)}")
        need(self.loss in LOSSES, "loss", f"one of {', '.join(LOSSES)}")
        need(self.monitor in MONITORS, "monitor", f"one of {', '.join(MONITORS)}")
        need(isinstance(self.epochs, int) and self.epochs >= 1, "epochs", "a whole number ≥ 1")
        need(isinstance(self.batch_size, int) and self.batch_size >= 1, "batch_size", "a whole number ≥ 1")
        need(self.lr > 0, "lr", "a positive learning rate")
        need(0 < self.val_fraction < 1, "val_fraction", "between 0 and 1")
        need(0 <= self.label_smoothing < 1, "label_smoothing", "in [0, 1)")
        need(self.weight_decay >= 0 and self.grad_clip >= 0, "weight_decay" if self.weight_decay < 0
             else "grad_clip", "not negative")
        need(self.pretrained_lr_multiplier >= 0, "pretrained_lr_multiplier", "not negative")
        need(self.event_rate > 0, "event_rate", "positive")
        check_device_name(self.device)
        for key in ("num_threads", "early_stopping_patience", "overfit_batches", "plateau_patience",
                    "health_interval"):
            need(getattr(self, key) >= 0, key, "a whole number ≥ 0")
        for key in ("momentum", "warmup_epochs", "min_lr"):
            need(getattr(self, key) >= 0, key, "not negative")
        need(self.step_size >= 1, "step_size", "a whole number ≥ 1")
        need(self.gamma > 0, "gamma", "positive")
        need(self.feature_map_interval > 0, "feature_map_interval", "positive")
        need(-2**63 <= self.seed < 2**64, "seed", "a whole number that fits in 64 bits")

    # -- files ---------------------------------------------------------------------------
    def to_dict(self) -> dict:
        d = asdict(self)
        d["betas"] = list(self.betas)
        return d

    @classmethod
    def from_dict(cls, values: dict) -> "TrainConfig":
        if not isinstance(values, dict):
            raise ConfigError("a training configuration is a JSON object of key: value")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ConfigError(f"unknown configuration key(s): {', '.join(unknown)}")
        try:
            return cls(**values)
        except (TypeError, ValueError) as e:
            raise ConfigError(f"bad configuration: {e}") from None

    @classmethod
    def load(cls, path) -> "TrainConfig":
        try:
            values = json.loads(Path(path).read_text(encoding="utf-8"))
        except OSError as e:
            raise ConfigError(f"cannot read {path}: {e.strerror or e}") from None
        except json.JSONDecodeError as e:
            raise ConfigError(f"{path} is not valid JSON: {e.msg} at line {e.lineno}") from None
        except UnicodeDecodeError as e:
            raise ConfigError(f"{path} is not a text file (byte {e.start} is not UTF-8); a training "
                              "configuration is a JSON file") from None
        except RecursionError:
            raise ConfigError(f"{path}: the JSON is nested too deeply") from None
        except ValueError as e:  # e.g. an integer of more than 4300 digits
            raise ConfigError(f"{path}: not a usable JSON value: {str(e)[:120]}") from None
        return cls.from_dict(values)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2) + "\n"

    def replace(self, **changes) -> "TrainConfig":
        return TrainConfig.from_dict({**self.to_dict(), **changes})


def _is_int(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_number(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _type_problem(value, default, name: str) -> str:
    """What is wrong with ``value``'s type, given the field's default ('' if nothing)."""
    if isinstance(default, bool):
        return "" if isinstance(value, bool) else "true or false"
    if isinstance(default, int):
        return "" if _is_int(value) else "a whole number"
    if isinstance(default, float):
        return "" if _is_number(value) else "a number"
    if isinstance(default, str):
        return "" if isinstance(value, str) else "a text string"
    if isinstance(default, dict):
        return "" if isinstance(value, dict) else "a JSON object of key: value"
    if isinstance(default, tuple):  # betas
        ok = isinstance(value, (list, tuple)) and len(value) == len(default) and all(_is_number(v) for v in value)
        return "" if ok else f"a list of {len(default)} numbers"
    if isinstance(default, list):
        if not isinstance(value, (list, tuple)):
            return "a list"
        if name == "milestones":
            return "" if all(_is_int(v) for v in value) else "a list of whole numbers (epochs)"
        return "" if all(isinstance(v, str) for v in value) else "a list of node ids (text)"
    return ""


def check_device_name(name) -> str:
    """``name`` if it is a device this program knows how to train on, else a ConfigError that
    lists the accepted names (``torch.device("cudaX")`` would raise a bare RuntimeError). Here,
    not in :mod:`.devices`, because the configuration is checked without importing torch."""
    if not isinstance(name, str) or _DEVICE.fullmatch(name) is None:
        hint = ""
        if isinstance(name, str) and name.lower().strip() != name and _DEVICE.fullmatch(name.lower().strip()):
            hint = f" (did you mean {name.lower().strip()!r}?)"
        elif isinstance(name, str) and name.startswith("mps:"):
            hint = " (there is only one Apple GPU, mps:0)"
        raise ConfigError(f"device {name!r} is not a device name{hint}; use {DEVICE_NAMES}")
    return name
