"""Evaluation of a classifier on held-out samples: loss, accuracy, top-5 and confusion matrix.

One function for every caller, so they cannot disagree: the trainer's validation after each
epoch, the app's Evaluate button and ``engine.training.inspect.evaluate_run``. The exported
training script cannot import the engine; its ``evaluate`` applies the same rule
(:func:`predictions`) and a test checks that both give the same numbers.

The rule: a model with **one output** is a binary classifier scoring class 1 — its logit goes
through a sigmoid and the prediction is class 1 when the probability exceeds 0.5 (logit > 0);
a model with several outputs predicts the arg-max.

    from engine.training.evaluate import evaluate
    result = evaluate(model, bundle)          # a DatasetBundle: its validation set and normalisation
    result.accuracy, result.confusion, result.top5
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ..blocks.modules import ClassifierOutput
from .devices import autocast_dtype, free_cached_memory, out_of_memory, parse_device

EVAL_BATCH = 256  # samples per batch when the caller names no size (the trainer uses twice its training batch)


def predictions(out: torch.Tensor, num_outputs: int | None = None) -> torch.Tensor:
    """Predicted class per row of ``out`` [N, outputs]: sigmoid > 0.5 for one output, else arg-max."""
    n = out.shape[1] if num_outputs is None else num_outputs
    return (out[:, 0] > 0).long() if n == 1 else out.argmax(1)


def probabilities(out: torch.Tensor) -> torch.Tensor:
    """Class probabilities per row [N, classes]: two columns (1 − σ, σ) for a one-output model,
    a softmax otherwise (the same rule as :func:`predictions`)."""
    out = out.float()
    if out.shape[1] == 1:
        p = torch.sigmoid(out[:, 0])
        return torch.stack([1 - p, p], dim=1)
    return torch.softmax(out, dim=1)


@dataclass
class Evaluation:
    loss: float | None  # mean loss, or None when no loss function was given
    accuracy: float
    top5: float | None  # only for models with more than five outputs
    confusion: np.ndarray  # rows: true class, columns: predicted class
    count: int  # samples evaluated
    batch_size: int = EVAL_BATCH  # the batch size that fitted in memory (smaller after out-of-memory)


def set_eval_mode(model) -> None:
    """Evaluation mode, but the Output block keeps giving logits (a softmax Output returns
    probabilities in eval mode, which the losses and :func:`predictions` do not expect)."""
    model.eval()
    for m in model.modules():
        if isinstance(m, ClassifierOutput):
            m.train()


@torch.no_grad()
def evaluate(model, data, *, loss_fn=None, num_outputs: int | None = None, mean=None, std=None,
             batch_size: int = EVAL_BATCH, device=None, autocast: bool = False, taps: bool = False,
             channels_last: bool = False, should_stop=None, on_batch=None, batcher=None,
             on_smaller_batch=None) -> Evaluation | None:
    """Evaluate ``model`` on ``data``: a :class:`~engine.data.DatasetBundle` (its validation set,
    normalised with its mean and std unless ``mean`` is given) or a dataset (normalised with
    ``mean``/``std`` when given). ``num_outputs`` defaults to the width of the model's output;
    ``taps`` says the model returns (output, feature maps). Returns None if ``should_stop()``
    turned true between batches. ``on_batch(out, y, offset)`` sees every batch's float outputs
    (e.g. to keep one sample's scores). The model is left in evaluation mode.

    ``batch_size`` samples a batch; a batch that runs out of device memory is retried at half
    the size (down to 1), and ``on_smaller_batch(size)`` hears of it — the result's
    ``batch_size`` is the size that worked, for the next call. ``batcher`` (a
    :class:`~engine.training.loop.Batcher` of ``data``, e.g. the trainer's, with its worker
    processes) replaces ``data``, ``mean``, ``std``, ``device`` and ``channels_last``."""
    from .loop import Batcher  # loop imports this module

    if batcher is None:
        dataset = data
        if hasattr(data, "val") and hasattr(data, "mean"):
            dataset = data.val
            if mean is None:
                mean, std = data.mean, data.std
        if device is None:
            device = next((p.device for p in model.parameters()), torch.device("cpu"))
        batcher = Batcher(dataset, batch_size, parse_device(device), channels_last=channels_last, workers=0)
        if mean is not None:  # the trainer passes its batcher's tensors, the app a bundle's lists
            batcher.mean = torch.as_tensor(mean, dtype=torch.float32, device=batcher.device)
            batcher.std = torch.as_tensor(std, dtype=torch.float32, device=batcher.device)
    dataset, device = batcher.dataset, batcher.device
    set_eval_mode(model)
    sums = _Sums(device, num_outputs)
    bs, start, n = max(1, batch_size), 0, len(dataset)
    x: Any = None  # the batch and its outputs, dropped before memory is freed after running out
    y: Any = None
    out: Any = None
    while start < n:  # every sample: no batch is dropped here, unlike in training
        starts = range(start, n, bs)
        batches = batcher.load([torch.arange(s, min(s + bs, n)) for s in starts])
        ran_out = False
        try:
            for s, (x, y) in zip(starts, batches):
                if should_stop is not None and should_stop():
                    return None
                if len(y):  # else every file of the batch failed to decode
                    try:
                        out = _forward(model, batcher.normalize(x), device, autocast, taps)
                    except Exception as e:  # noqa: BLE001 - only out-of-memory is handled; the rest is raised again
                        if bs == 1 or not out_of_memory(e):
                            raise
                        ran_out = True
                        break  # nothing of this batch was counted: it is evaluated again, smaller
                    sums.add(out, y, loss_fn, on_batch)
                start = min(s + bs, n)
        finally:
            batches.close()
        if ran_out:  # outside the except block: its traceback held the batch's activations
            x = y = out = None
            free_cached_memory(device)
            bs //= 2
            if on_smaller_batch is not None:
                on_smaller_batch(bs)
    return sums.result(bs)


def _forward(model, x, device, autocast: bool, taps: bool) -> torch.Tensor:
    dtype = autocast_dtype(device) if autocast else None
    with torch.autocast(device.type, dtype=dtype, enabled=autocast):
        out = model(x)
        if taps:
            out = out[0]
    return out.float()


class _Sums:
    """Loss, top-1, top-5 and the confusion matrix summed on the device; read once at the end."""

    def __init__(self, device, num_outputs):
        self.device, self.num_outputs = device, num_outputs
        self.loss = torch.zeros((), device=device)
        self.top1 = torch.zeros((), device=device)
        self.top5 = torch.zeros((), device=device)
        self.confusion, self.classes, self.count, self.has_loss = None, 0, 0, False

    def add(self, out, y, loss_fn, on_batch) -> None:
        if self.num_outputs is None:
            self.num_outputs = out.shape[1]
        k = self.num_outputs
        if self.confusion is None:
            self.classes = max(2, k)
            self.confusion = torch.zeros(self.classes * self.classes, dtype=torch.long, device=self.device)
        if loss_fn is not None:
            self.has_loss = True
            self.loss += loss_fn(out, y) * len(y)
        pred = predictions(out, k)
        self.top1 += (pred == y).sum()
        if k > 5:
            self.top5 += (out.topk(5, dim=1).indices == y[:, None]).any(1).sum()
        c = self.classes
        self.confusion += torch.bincount(y.clamp(0, c - 1) * c + pred.clamp(0, c - 1), minlength=c * c)
        if on_batch is not None:
            on_batch(out, y, self.count)
        self.count += len(y)

    def result(self, batch_size: int) -> Evaluation:
        k, confusion, classes = self.num_outputs, self.confusion, self.classes
        if confusion is None:  # no samples
            classes = max(2, k or 2)
            confusion = torch.zeros(classes * classes, dtype=torch.long)
        loss, t1, t5 = torch.stack([self.loss, self.top1, self.top5]).tolist()
        n = max(1, self.count)
        return Evaluation(loss / n if self.has_loss else None, t1 / n, t5 / n if k and k > 5 else None,
                          confusion.view(classes, classes).cpu().numpy(), self.count, batch_size)


__all__ = ["EVAL_BATCH", "Evaluation", "evaluate", "predictions", "probabilities", "set_eval_mode"]
