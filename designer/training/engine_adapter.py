"""The app's engine trainer (engine.training.trainer.Trainer) with first-layer filters.

Made in the UI thread (:func:`make_trainer`), run in the worker thread. Stop, pause, resume and
the inspected sample (:meth:`Trainer.inspect`) are the trainer's own thread-safe controls.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.training import events as ev
from engine.training.config import TrainConfig
from engine.training.trainer import Trainer


@dataclass(frozen=True)
class FilterWeights:
    """The first convolution's weights (a copy, CPU numpy) at run start (epoch -1) and after
    each epoch, so the Filters view changes as the network learns."""
    node_id: str
    weights: np.ndarray
    epoch: int


class AppTrainer(Trainer):
    """Also reports the first convolution's weights at run start and after each epoch."""

    # out of memory: the fix names the control a user of the app changes (the CLI names its flag)
    batch_size_advice = "lower the Batch size in the Training panel to {half}"

    def _emit(self, event) -> None:
        super()._emit(event)
        if isinstance(event, (ev.RunStarted, ev.EpochEnd)):
            filters = self.first_layer_filters(event.epoch if isinstance(event, ev.EpochEnd) else -1)
            if filters is not None:
                super()._emit(filters)

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


def make_trainer(design, config: TrainConfig, dataset=None, run_dir=None, processes: int = 1):
    """The trainer of one run; it takes the run's one snapshot of ``design``. With several
    ``processes`` it is a :class:`~engine.training.distributed.DistributedRun` (torchrun; the same
    events, streamed from rank 0): the processes load the dataset themselves, from ``config``."""
    if processes > 1:
        from engine.training.distributed import DistributedRun
        run = DistributedRun(design, config, run_dir or ".", processes)
        run.batch_size_advice = AppTrainer.batch_size_advice
        return run
    return AppTrainer(design, config, dataset=dataset, run_dir=run_dir)
