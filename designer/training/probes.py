"""Looking inside a trained network, computed in a background thread (never on the UI thread:
a ResNet forward pass takes long enough to freeze the window). Plain functions of plain
inputs: no widget is touched here; the controller shows the results."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from engine import data as datasets

from . import inspection


def first_filters(design, state: dict | None):
    """(node id, K×C×… weights) of the first convolution, or None (no conv, invalid design)."""
    try:
        return inspection.first_conv_filters(design, state or {})
    except Exception:  # noqa: BLE001 - an invalid design has no filters to show
        return None


@dataclass
class Evaluation:
    matrix: np.ndarray
    accuracy: float
    count: int
    image: np.ndarray  # the chosen sample, for the predictions view
    top5: list
    true_label: str


def evaluate(design, state: dict, bundle, sample_index: int, batch: int = 256) -> Evaluation:
    """Held-out evaluation: confusion matrix and accuracy on the validation set, and the top-5
    prediction for one sample."""
    model = inspection.tapped_model(design, state, ())
    x_all, y_all = datasets.fetch(bundle.val, torch.arange(len(bundle.val)))
    mean = torch.tensor(bundle.mean).view(1, -1, *([1] * (x_all.ndim - 2)))
    std = torch.tensor(bundle.std).view(1, -1, *([1] * (x_all.ndim - 2)))
    with torch.no_grad():
        logits = torch.cat([model((xb - mean) / std) for xb in x_all.split(batch)])
    predicted = logits.argmax(1).numpy()
    matrix = inspection.confusion_matrix(predicted, y_all.numpy(), bundle.num_classes)
    i = min(sample_index, len(predicted) - 1)
    return Evaluation(matrix, float((predicted == y_all.numpy()).mean()), len(predicted), x_all[i].numpy(),
                      inspection.top_k(logits[i].numpy(), bundle.classes), bundle.classes[int(y_all[i])])


def load_run_weights(run_dir: str | None) -> dict | None:
    """The final weights of a run (weights.safetensors, else the last checkpoint)."""
    if not run_dir:
        return None
    from engine.training.rundir import load_weights
    for name in ("weights.safetensors", "checkpoints/last.pt"):
        path = Path(run_dir) / name
        if path.exists():
            try:
                return load_weights(path)
            except Exception:  # noqa: BLE001 - a torn file: fall through to the next
                continue
    return None


__all__ = ["Evaluation", "evaluate", "first_filters", "load_run_weights"]
