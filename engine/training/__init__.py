"""Training without Qt: ``Trainer(design, TrainConfig(...), on_event=callback, run_dir=...)``.

    from engine.training import Trainer, TrainConfig, events
    trainer = Trainer(design, TrainConfig(dataset="digits", epochs=5), on_event=print, run_dir="runs/a")
    result = trainer.run()          # blocks; call trainer.stop()/pause()/resume() from another thread
    result.reason, result.history   # "completed", [{"epoch": 1, "val_accuracy": ...}, ...]

The run folder layout is documented in :mod:`engine.training.rundir`.

The configuration, the events and the schedule arithmetic (:mod:`.schedule_math`) need no
torch; the trainer and the run-folder readers are imported on first use, so the app's training
panel can show its form and schedule before torch has been imported.
"""
from . import events
from .config import ConfigError, TrainConfig

_LAZY = {"Trainer": "trainer", "resolve_device": "optim", "load_checkpoint": "rundir", "load_weights": "rundir"}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib
        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["Trainer", "TrainConfig", "ConfigError", "events", "resolve_device", "load_checkpoint", "load_weights"]
