"""Helpers of the training loop: batching onto the device, on-device metric sums and
feature-map sampling (validation is :func:`engine.training.evaluate.evaluate`)."""
from __future__ import annotations

import itertools
import math
import multiprocessing
import os
import time

import numpy as np
import torch

from ..data import TensorSet, fetch
from ..data.base import base_dataset
from . import events
from .devices import as_float, pin_memory_for, to_device
from .evaluate import predictions, probabilities, set_eval_mode

MAX_WORKERS = 4
MIN_WORKER_SAMPLES = 1000  # a spawned worker imports torch (seconds); a few hundred images decode faster here


def data_workers(dataset) -> int:
    """DataLoader worker processes for ``dataset``: none for in-memory sets (slicing is faster than
    any worker) or small ones, else one core fewer than the machine has (the app's UI keeps one),
    at most :data:`MAX_WORKERS`."""
    if isinstance(dataset, TensorSet) or len(dataset) < MIN_WORKER_SAMPLES:
        return 0
    return max(0, min(MAX_WORKERS, (os.cpu_count() or 1) - 1))


class Batcher:
    """Batches of a dataset in a given order, moved to the device as stored (uint8 images
    stay uint8 until they are on the device, a quarter of the bytes of float) and made float
    there. In-memory sets are sliced by index in this thread; other sets (image files) are
    decoded in ``workers`` DataLoader processes started with ``spawn`` (a GUI process must not
    fork), pinned for CUDA; files that fail to decode are left out and counted in the dataset's
    ``failed``. A last batch of a single sample is dropped: batch norm cannot train on one sample.
    :meth:`close` ends the worker processes."""

    def __init__(self, dataset, batch_size, device, mean=None, std=None, channels_last=False, workers=None):
        self.dataset, self.batch_size, self.device = dataset, batch_size, torch.device(device)
        self.channels_last = channels_last
        self.workers = data_workers(dataset) if workers is None else workers
        self._loader = self._plan = None
        self.collective = None  # a distributed run's Collective: this rank takes its shard of each order
        self.fallback = ""  # why the workers could not start, if they could not (then this thread decodes)
        self.mean = self.std = None
        if mean is not None:
            self.mean = torch.tensor(mean, dtype=torch.float32, device=device)
            self.std = torch.tensor(std, dtype=torch.float32, device=device)

    def batches_per_epoch(self, batch_size=None) -> int:
        n, bs = len(self.dataset), batch_size or self.batch_size
        if self.collective is not None:
            n //= self.collective.world
        return max(1, n // bs if n % bs == 1 and n > bs else math.ceil(n / bs))

    def batches(self, order=None, first=0, batch_size=None):
        """``(batch number, (x, y))`` on the device, from batch ``first`` of ``order`` (of this
        rank's shard of it in a distributed run)."""
        bs = batch_size or self.batch_size
        order = torch.arange(len(self.dataset)) if order is None else order
        if self.collective is not None:
            order = self.collective.shard(order)
        numbers = range(first, self.batches_per_epoch(bs))
        for b, (x, y) in zip(numbers, self.load([order[b * bs:(b + 1) * bs] for b in numbers])):
            if len(y):  # else every file of the batch failed to decode
                yield b, (x, y)

    def load(self, index_lists):
        """``(x, y)`` on the device for each tensor of indices; an empty pair where none decoded."""
        source = None
        if self.workers and len(index_lists) > 1:
            source = self._from_workers(index_lists)
            try:
                first = next(source)
            except StopIteration:
                return
            except RuntimeError as e:  # a worker could not start: e.g. a script without `if __name__ == "__main__":`
                self.close()
                self.workers, self.fallback = 0, str(e).splitlines()[0]
                source = None
            else:
                source = itertools.chain([first], source)
        if source is None:
            source = (fetch_batch(self.dataset, index) for index in index_lists)
        for x, y, failures in source:
            if failures:
                _record_failures(self.dataset, failures)
            if len(y) == 0:
                yield x, y
                continue
            yield as_float(to_device(x, self.device)), to_device(y, self.device)

    def _from_workers(self, index_lists):
        if getattr(multiprocessing.current_process(), "_inheriting", False):
            # a spawned worker is re-running a script that trains when imported: stop it here, or it
            # would train too (the script's own process then decodes in its thread, see load)
            raise SystemExit("this script starts training when it is imported; put that code under "
                             "`if __name__ == \"__main__\":` so DataLoader workers can start")
        if self._loader is None:
            self._plan = _Plan()
            self._loader = torch.utils.data.DataLoader(
                _BatchFetcher(self.dataset), batch_size=None, sampler=self._plan, num_workers=self.workers,
                collate_fn=_as_is, pin_memory=pin_memory_for(self.device), multiprocessing_context="spawn",
                persistent_workers=True, prefetch_factor=2)
        self._plan.batches = list(index_lists)
        return iter(self._loader)

    def close(self) -> None:
        """End the worker processes (if any); the batcher starts new ones when used again."""
        loader, self._loader = self._loader, None
        iterator = getattr(loader, "_iterator", None)
        if iterator is not None and hasattr(iterator, "_shutdown_workers"):
            iterator._shutdown_workers()

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        if self.mean is not None:
            shape = (1, -1) + (1,) * (x.dim() - 2)
            x = (x - self.mean.view(shape)) / self.std.view(shape)
        if self.channels_last and x.dim() == 4:
            x = x.contiguous(memory_format=torch.channels_last)
        return x


def fetch_batch(dataset, index) -> tuple[torch.Tensor, torch.Tensor, tuple]:
    """``(x as stored, y, decode failures)`` for a tensor of indices; runs in a worker process
    too, so the failures travel back with the batch instead of staying in the worker's copy."""
    base = base_dataset(dataset)
    failed = getattr(base, "failed", None)
    before = set(failed) if failed is not None else set()
    first = getattr(base, "first_failure", None)
    x, y = fetch(dataset, index, raw=True)
    failures: tuple = ()
    if failed is not None and len(failed) != len(before):
        failures = (tuple(set(failed) - before), getattr(base, "first_failure", None) if first is None else None)
    return x, y, failures


def _record_failures(dataset, failures) -> None:
    base = base_dataset(dataset)
    indices, first = failures
    if getattr(base, "failed", None) is not None:
        base.failed.update(indices)
        if first is not None and getattr(base, "first_failure", None) is None:
            base.first_failure = first


class _Plan(torch.utils.data.Sampler):
    """The batches (tensors of indices) the workers fetch next; set before each pass. The
    sampler runs in this process, so persistent workers serve each epoch's new order."""

    def __init__(self):
        self.batches = []

    def __iter__(self):
        return iter(self.batches)

    def __len__(self):
        return len(self.batches)


class _BatchFetcher(torch.utils.data.Dataset):
    """Item ``index`` (a tensor of indices) is a whole batch of the wrapped dataset."""

    def __init__(self, dataset):
        self.dataset = dataset

    def __getitem__(self, index):
        return fetch_batch(self.dataset, index)


def _as_is(batch):
    return batch


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
    set_eval_mode(ctx.tapped)  # the model with taps: it shares the trained model's parameters
    x = ctx.sample.to(ctx.device)
    out, maps = ctx.tapped(ctx.batcher.normalize(x))
    probs = probabilities(out[:1])[0]
    plain = {node: m[0, :max_channels].float().cpu().numpy() for node, m in maps.items()}
    return events.FeatureMaps(epoch, ctx.step, ctx.sample[0].cpu().numpy().astype(np.float32), plain,
                              probs.cpu().numpy())
