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

import numpy as np
import torch

from ..blocks.modules import ClassifierOutput
from ..data import fetch

EVAL_BATCH = 256  # at least this many samples per validation batch (no gradients: memory allows it)


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
             channels_last: bool = False, should_stop=None, on_batch=None) -> Evaluation | None:
    """Evaluate ``model`` on ``data``: a :class:`~engine.data.DatasetBundle` (its validation set,
    normalised with its mean and std unless ``mean`` is given) or a dataset (normalised with
    ``mean``/``std`` when given). ``num_outputs`` defaults to the width of the model's output;
    ``taps`` says the model returns (output, feature maps). Returns None if ``should_stop()``
    turned true between batches. ``on_batch(out, y, offset)`` sees every batch's float outputs
    (e.g. to keep one sample's scores). The model is left in evaluation mode."""
    from .loop import Batcher  # loop imports this module

    dataset = data
    if hasattr(data, "val") and hasattr(data, "mean"):
        dataset = data.val
        if mean is None:
            mean, std = data.mean, data.std
    if device is None:
        device = next((p.device for p in model.parameters()), torch.device("cpu"))
    device = torch.device(device)
    set_eval_mode(model)
    batcher = Batcher(dataset, max(batch_size, EVAL_BATCH), device, channels_last=channels_last)
    if mean is not None:  # the trainer passes its batcher's tensors, the app a bundle's lists
        batcher.mean = torch.as_tensor(mean, dtype=torch.float32, device=device)
        batcher.std = torch.as_tensor(std, dtype=torch.float32, device=device)
    loss_sum = torch.zeros((), device=device)
    top1 = torch.zeros((), device=device)
    top5 = torch.zeros((), device=device)
    confusion = None
    classes = count = 0
    bs = batcher.batch_size
    for start in range(0, len(dataset), bs):  # every sample: no batch is dropped here, unlike in training
        x, y = fetch(dataset, torch.arange(start, min(start + bs, len(dataset))))
        if len(y) == 0:  # files that failed to decode
            continue
        x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
        if should_stop is not None and should_stop():
            return None
        with torch.autocast(device.type, enabled=autocast):
            out = model(batcher.normalize(x))
            if taps:
                out = out[0]
        out = out.float()
        if num_outputs is None:
            num_outputs = out.shape[1]
        if confusion is None:
            classes = max(2, num_outputs)
            confusion = torch.zeros(classes * classes, dtype=torch.long, device=device)
        if loss_fn is not None:
            loss_sum += loss_fn(out, y) * len(y)
        pred = predictions(out, num_outputs)
        top1 += (pred == y).sum()
        if num_outputs > 5:
            top5 += (out.topk(5, dim=1).indices == y[:, None]).any(1).sum()
        confusion += torch.bincount(y.clamp(0, classes - 1) * classes + pred.clamp(0, classes - 1),
                                    minlength=classes * classes)
        if on_batch is not None:
            on_batch(out, y, count)
        count += len(y)
    if confusion is None:  # no samples
        classes = max(2, num_outputs or 2)
        confusion = torch.zeros(classes * classes, dtype=torch.long)
    loss, t1, t5 = torch.stack([loss_sum, top1, top5]).tolist()
    n = max(1, count)
    return Evaluation(loss / n if loss_fn is not None else None, t1 / n,
                      t5 / n if num_outputs and num_outputs > 5 else None,
                      confusion.view(classes, classes).cpu().numpy(), count)


__all__ = ["EVAL_BATCH", "Evaluation", "evaluate", "predictions", "probabilities", "set_eval_mode"]
