"""What the training panel shows of a dataset: some validation samples, their labels and the
class balance of the training set. Made in a background thread together with the dataset
(decoding a folder's images takes a while, and the samples are torch tensors), so the UI thread
only draws numpy arrays."""
from __future__ import annotations

from dataclasses import dataclass

from engine.blocks.lazy import LazyModule

np = LazyModule("numpy")  # the controller imports this module at start-up, before any dataset
SAMPLES = 16


@dataclass(frozen=True)
class DatasetPreview:
    images: np.ndarray  # N×C×… validation samples, un-normalised
    labels: np.ndarray  # N class indices
    class_counts: np.ndarray  # training samples per class


def preview_of(bundle, n: int = SAMPLES) -> DatasetPreview:
    """Background thread only: reads samples through torch."""
    images, labels = bundle.preview(n)
    return DatasetPreview(np.asarray(images), np.asarray(labels), class_counts(bundle))


def with_preview(bundle) -> tuple:
    """Background thread: a dataset and what the panel shows of it."""
    return bundle, preview_of(bundle)


def fit_preview(preview: DatasetPreview, input_shape) -> DatasetPreview:
    """Background thread only: the preview's few samples resized to ``input_shape`` (what the
    design will see; the feature maps and probes need that shape). Only these samples: the
    dataset itself is resized by the run that trains on it, in its own thread."""
    import torch

    from engine.data import adapt_tensor
    images = adapt_tensor(torch.as_tensor(preview.images), tuple(input_shape)).numpy()
    return DatasetPreview(images, preview.labels, preview.class_counts)


def class_counts(bundle) -> np.ndarray:
    """Training samples per class, from the labels alone (a folder's images are not decoded)."""
    y = getattr(bundle.train, "y", None)
    if y is None:
        y = _file_labels(bundle.train)
    if y is None:
        return np.zeros(bundle.num_classes)
    return np.bincount(np.asarray(y, dtype=np.int64), minlength=bundle.num_classes)


def _file_labels(dataset):
    """The labels of a file set (FileImageSet.labels) through any Subset wrappers, or None."""
    index = None
    while hasattr(dataset, "indices") and hasattr(dataset, "dataset"):  # torch Subset
        inner = np.asarray(dataset.indices, dtype=np.int64)
        index = inner if index is None else inner[index]
        dataset = dataset.dataset
    labels = getattr(dataset, "labels", None)
    if labels is None:
        return None
    labels = np.asarray(labels, dtype=np.int64)
    return labels if index is None else labels[index]


__all__ = ["DatasetPreview", "preview_of", "with_preview", "fit_preview", "class_counts"]
