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


def class_counts(bundle) -> np.ndarray:
    y = getattr(bundle.train, "y", None)
    if y is None:  # a folder of files: counting would decode every image
        return np.zeros(bundle.num_classes)
    return np.bincount(np.asarray(y), minlength=bundle.num_classes)


__all__ = ["DatasetPreview", "preview_of", "with_preview", "class_counts"]
