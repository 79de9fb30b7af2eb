"""The bridge from the app's worker to the engine trainer (engine.training.trainer.Trainer).

Runs in the worker thread. The run's control flags (set from the UI thread) are forwarded to
the trainer's own thread-safe stop/pause/resume; the sample whose feature maps are shown can
be changed during the run (copied into the trainer's fixed sample between batches, in the
worker thread, so the trainer never sees a half-written tensor).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from engine.training import events as ev
from engine.training.config import TrainConfig
from engine.training.trainer import Trainer

APP_KEYS = ("run_dir", "dataset_bundle")  # worker config entries that are not TrainConfig keys


@dataclass(frozen=True)
class FilterWeights:
    """The first convolution's weights (a copy, CPU numpy) at run start (epoch -1) and after
    each epoch, so the Filters view changes as the network learns."""
    node_id: str
    weights: np.ndarray
    epoch: int


class AppTrainer(Trainer):
    def __init__(self, *args, control=None, sample=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.control = control
        self._initial_sample = sample
        self._sample = None

    def _fixed_sample(self, val_set, batcher):
        sample = super()._fixed_sample(val_set, batcher)
        chosen = self.control.sample if self.control is not None else self._initial_sample
        if chosen is not None and tuple(np.shape(chosen)) == tuple(sample.shape[1:]):
            sample = torch.as_tensor(np.asarray(chosen), dtype=sample.dtype)[None].clone()
        self._sample = sample
        return sample

    def first_layer_filters(self, epoch: int) -> FilterWeights | None:
        """Worker thread, between batches: copy the first convolution's weights."""
        model = self.model
        if model is None:
            return None
        if not hasattr(self, "_first_conv"):
            from .inspection import first_conv_node
            self._first_conv = first_conv_node(self.design, getattr(model, "node_names", {}))
        if self._first_conv is None:
            return None
        node_id, module_name = self._first_conv
        weight = getattr(model.get_submodule(module_name), "weight", None)
        if weight is None:
            return None
        return FilterWeights(node_id, weight.detach().float().cpu().numpy().copy(), epoch)

    def take_new_sample(self) -> None:
        """Between batches (worker thread): adopt a sample the user chose during the run."""
        chosen = self.control.take_sample() if self.control is not None else None
        if chosen is not None and self._sample is not None and tuple(np.shape(chosen)) == tuple(self._sample.shape[1:]):
            self._sample.copy_(torch.as_tensor(np.asarray(chosen), dtype=self._sample.dtype)[None])


def run_trainer(design, config: dict, emit, control):
    """The worker's runner: train ``design`` with ``config``; returns the Finished event."""
    values = {k: v for k, v in config.items() if k not in APP_KEYS}
    trainer = AppTrainer(design, TrainConfig.from_dict(values), dataset=config.get("dataset_bundle"),
                         run_dir=config.get("run_dir"), control=control)

    def on_event(event):
        trainer.take_new_sample()
        emit(event)
        if isinstance(event, (ev.RunStarted, ev.EpochEnd)):
            filters = trainer.first_layer_filters(event.epoch if isinstance(event, ev.EpochEnd) else -1)
            if filters is not None:
                emit(filters)

    trainer.on_event = on_event
    actions = {"stop": trainer.stop, "pause": trainer.pause, "resume": trainer.resume}
    control.listeners.append(lambda kind: actions.get(kind, lambda: None)())
    if control.stop_requested:  # stopped before the thread got going
        trainer.stop()
    elif control.paused:
        trainer.pause()
    finished = trainer.run()
    return finished
