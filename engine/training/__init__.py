"""Training without Qt: ``Trainer(design, TrainConfig(...), on_event=callback, run_dir=...)``.

    from engine.training import Trainer, TrainConfig, events
    trainer = Trainer(design, TrainConfig(dataset="digits", epochs=5), on_event=print, run_dir="runs/a")
    result = trainer.run()          # blocks; call trainer.stop()/pause()/resume() from another thread
    result.reason, result.history   # "completed", [{"epoch": 1, "val_accuracy": ...}, ...]

The run folder layout is documented in :mod:`engine.training.rundir`.
"""
from . import events
from .config import ConfigError, TrainConfig
from .optim import resolve_device
from .rundir import load_checkpoint, load_weights
from .trainer import Trainer

__all__ = ["Trainer", "TrainConfig", "ConfigError", "events", "resolve_device", "load_checkpoint", "load_weights"]
