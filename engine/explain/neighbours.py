"""Nearest neighbours in the last hidden layer (cosine) beside those in pixel space, and a 2-D
PCA projection of that layer: what the network treats as similar, not what looks similar."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..data import fetch
from .common import Explainer, ExplainError, Steps, batches


@dataclass
class Neighbours:
    node_id: str
    query: int  # the sample's index in the dataset
    feature_indices: np.ndarray  # [k] nearest by cosine similarity of the layer's activations
    feature_similarity: np.ndarray  # [k]
    pixel_indices: np.ndarray  # [k] nearest by Euclidean distance of the pixels
    pixel_distance: np.ndarray  # [k]
    samples: np.ndarray  # [C, ...] the query; the neighbours are fetched by index
    feature_samples: np.ndarray
    pixel_samples: np.ndarray
    labels: dict  # index -> class
    caption: str


@dataclass
class Projection:
    node_id: str
    points: np.ndarray  # [n, 2]
    labels: np.ndarray  # [n]
    explained: np.ndarray  # [2] share of the variance along each axis
    caption: str


def last_hidden_node(explainer: Explainer) -> str:
    """The node feeding the last layer with weights before the output (the classifier's input)."""
    design = explainer.design
    order = explainer.report.order
    weighted = [n for n in order if explainer.report.nodes[n].params > 0]
    if not weighted:
        raise ExplainError("the design has no layer with weights; name a node with --node")
    last = weighted[-1]
    ins = [e.src for e in design.edges if e.dst == last]
    if not ins or design.nodes[ins[0]].block == "input":
        raise ExplainError(f"{last!r} reads the input directly: there is no hidden layer; name one with --node")
    return ins[0]


def features(explainer: Explainer, dataset, node_id: str, batch: int = 256, max_samples: int | None = None,
             steps: Steps | None = None, share: float = 1.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(activations [n, D] flattened, pixels [n, P] un-normalised, labels [n]) of the dataset."""
    steps = steps or Steps()
    if node_id not in explainer.design.nodes:
        raise ExplainError(f"no node {node_id!r} in the design")
    model = explainer.tapped((node_id,))
    n = len(dataset) if max_samples is None else min(len(dataset), int(max_samples))
    feats, pixels, labels = [], [], []
    for lo, hi in batches(n, batch):
        steps.check(share * lo / max(n, 1))
        x, y = fetch(dataset, torch.arange(lo, hi))
        with torch.no_grad():
            _, taps = model(explainer.normalize(x))
        feats.append(taps[node_id].flatten(1).numpy())
        pixels.append(x.flatten(1).numpy())
        labels.append(y.numpy())
    return np.concatenate(feats), np.concatenate(pixels), np.concatenate(labels)


def _nearest_cosine(f: np.ndarray, q: int, k: int):
    unit = f / np.maximum(np.linalg.norm(f, axis=1, keepdims=True), 1e-12)
    sim = unit @ unit[q]
    order = np.argsort(-sim, kind="stable")
    order = np.concatenate([[q], order[order != q]])[:k]  # the sample itself first, even on ties
    return order, sim[order]


def _nearest_pixels(p: np.ndarray, q: int, k: int):
    d = np.linalg.norm(p - p[q], axis=1)
    order = np.argsort(d, kind="stable")
    order = np.concatenate([[q], order[order != q]])[:k]
    return order, d[order]


def nearest_neighbours(explainer: Explainer, dataset, sample_index: int, node_id: str | None = None, k: int = 8,
                       max_samples: int | None = 5000, batch: int = 256, progress=None,
                       should_stop=None) -> Neighbours:
    steps = Steps(progress, should_stop, "the nearest neighbours")
    node_id = node_id or last_hidden_node(explainer)
    f, p, y = features(explainer, dataset, node_id, batch, max_samples, steps)
    if not 0 <= sample_index < len(f):
        raise ExplainError(f"sample {sample_index} does not exist: the validation set has {len(f)} (0 to {len(f) - 1})")
    k = max(1, min(int(k), len(f)))
    fi, fs = _nearest_cosine(f, sample_index, k)
    pi, pd = _nearest_pixels(p, sample_index, k)
    shape = explainer.input_shape
    same_f = int(np.sum(y[fi[1:]] == y[sample_index]))
    same_p = int(np.sum(y[pi[1:]] == y[sample_index]))
    caption = (f"Sample {sample_index} ('{explainer.class_name(int(y[sample_index]))}') first, then its {k - 1} "
               f"nearest among {len(f)} validation samples. Top row: by the network's features at {node_id} (cosine): "
               f"{same_f} of {k - 1} share its class. Bottom row: by raw pixels: {same_p} of {k - 1}.")
    steps.done()
    return Neighbours(node_id, sample_index, fi, fs, pi, pd, p[sample_index].reshape(shape),
                      p[fi].reshape(-1, *shape), p[pi].reshape(-1, *shape),
                      {int(i): int(y[i]) for i in np.concatenate([fi, pi])}, caption)


def pca_2d(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(points [n, 2], explained-variance share [2]) of the rows of ``values``."""
    centred = values - values.mean(0, keepdims=True)
    _, s, vt = np.linalg.svd(centred, full_matrices=False)
    comps = vt[:2]
    points = centred @ comps.T
    if points.shape[1] < 2:
        points = np.pad(points, ((0, 0), (0, 2 - points.shape[1])))
    var = s ** 2
    share = var[:2] / max(float(var.sum()), 1e-12)
    return points, np.pad(share, (0, 2 - len(share)))


def projection(explainer: Explainer, dataset, node_id: str | None = None, max_samples: int | None = 2000,
               batch: int = 256, progress=None, should_stop=None) -> Projection:
    steps = Steps(progress, should_stop, "the projection")
    node_id = node_id or last_hidden_node(explainer)
    f, _, y = features(explainer, dataset, node_id, batch, max_samples, steps, share=0.9)
    steps.check(0.9)
    points, share = pca_2d(f.astype(np.float64))
    caption = (f"{len(f)} validation samples at {node_id}, projected on the layer's two main directions (PCA: "
               f"{share[0]:.0%} and {share[1]:.0%} of the variance); colour = true class. Separate clusters "
               "mean the layer already tells the classes apart.")
    steps.done()
    return Projection(node_id, points, y, share, caption)
