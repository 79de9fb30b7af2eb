"""Helpers of the training loop: batching onto the device, on-device metric sums and
feature-map sampling (validation is :func:`engine.training.evaluate.evaluate`)."""
from __future__ import annotations

import math
import time

import numpy as np
import torch

from ..data import fetch
from . import events
from .evaluate import predictions, probabilities, set_eval_mode


class Batcher:
    """Batches of a dataset in a given order, moved to the device. In-memory sets are sliced
    by index; other sets are decoded sample by sample in this thread (like a DataLoader with
    ``num_workers=0``: a GUI process must not fork), leaving out files that fail to decode.
    A last batch of a single sample is dropped: batch norm cannot train on one sample."""

    def __init__(self, dataset, batch_size, device, mean=None, std=None, channels_last=False):
        self.dataset, self.batch_size, self.device = dataset, batch_size, device
        self.channels_last = channels_last
        self.mean = self.std = None
        if mean is not None:
            self.mean = torch.tensor(mean, dtype=torch.float32, device=device)
            self.std = torch.tensor(std, dtype=torch.float32, device=device)

    def batches_per_epoch(self, batch_size=None) -> int:
        n, bs = len(self.dataset), batch_size or self.batch_size
        return max(1, n // bs if n % bs == 1 and n > bs else math.ceil(n / bs))

    def batches(self, order=None, first=0, batch_size=None):
        bs = batch_size or self.batch_size
        n = len(self.dataset)
        order = torch.arange(n) if order is None else order
        for b in range(first, self.batches_per_epoch(bs)):
            index = order[b * bs:(b + 1) * bs]
            x, y = fetch(self.dataset, index)
            if len(y) == 0:
                continue
            yield b, (x.to(self.device, non_blocking=True), y.to(self.device, non_blocking=True))

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        if self.mean is not None:
            shape = (1, -1) + (1,) * (x.dim() - 2)
            x = (x - self.mean.view(shape)) / self.std.view(shape)
        if self.channels_last and x.dim() == 4:
            x = x.contiguous(memory_format=torch.channels_last)
        return x


class Meter:
    """Sums of loss and correct predictions kept on the device; ``read`` syncs once."""

    def __init__(self, device, state: dict | None = None):
        self.loss = torch.zeros((), device=device)
        self.correct = torch.zeros((), device=device)
        self.count = 0
        self.started = time.perf_counter()
        self.carried_seconds = 0.0
        if state:
            self.loss += state["loss_sum"]
            self.correct += state["correct"]
            self.count = int(state["count"])
            self.carried_seconds = float(state["seconds"])

    def add(self, loss, out, y, num_outputs) -> None:
        n = len(y)
        self.loss += loss * n
        self.correct += (predictions(out, num_outputs) == y).sum()
        self.count += n

    def sums(self) -> tuple[float, float, int]:
        """(loss sum, correct count, samples), with one device sync."""
        loss, correct = torch.stack([self.loss, self.correct.float()]).tolist()
        return loss, correct, self.count

    def read(self) -> tuple[float, float]:
        loss, correct, count = self.sums()
        return loss / max(1, count), correct / max(1, count)

    @property
    def seconds(self) -> float:
        return self.carried_seconds + time.perf_counter() - self.started

    def state(self) -> dict:
        loss, correct = torch.stack([self.loss, self.correct.float()]).tolist()
        return {"loss_sum": loss, "correct": correct, "count": self.count, "seconds": self.seconds}


def set_train_mode(model, frozen_modules) -> None:
    """Training mode, except frozen nodes: their batch-norm statistics must not move either."""
    model.train()
    for name in frozen_modules:
        getattr(model, name).eval()


@torch.no_grad()
def feature_maps(ctx, epoch: int, max_channels: int) -> events.FeatureMaps:
    """The requested nodes' activations for the fixed sample, from one forward pass."""
    set_eval_mode(ctx.model)
    x = ctx.sample.to(ctx.device)
    out, maps = ctx.model(ctx.batcher.normalize(x))
    probs = probabilities(out[:1])[0]
    plain = {node: m[0, :max_channels].float().cpu().numpy() for node, m in maps.items()}
    return events.FeatureMaps(epoch, ctx.step, ctx.sample[0].cpu().numpy().astype(np.float32), plain,
                              probs.cpu().numpy())
