"""Datasets for training: built-in ones that work offline, torchvision downloads, and the
user's own images and tables.

    from engine import data
    data.names()                                  # ['digits', 'shapes', 'signal', 'volumes', 'mnist', ...]
    bundle = data.load("digits", input_shape=(1, 32, 32))   # resized to fit a LeNet-5
    bundle.train, bundle.val, bundle.classes, bundle.mean, bundle.std
    images, labels = bundle.preview(16)
    problems = data.check(bundle, design)         # channels, size, classes vs the design

``load`` also takes a folder in ImageFolder layout, a CSV file of ``path,label`` rows, or a CSV
table of numeric feature columns and a label column (samples of shape ``(F,)``).
"""
from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import torch

from ..analysis import Diagnostic, analyze
from ..dataset_names import describe, names
from .augment import Augment
from .base import (
    DatasetBundle,
    DatasetError,
    TensorSet,
    adapt_tensor,
    channel_stats,
    fetch,
    same_values,
    split_indices,
)
from .builtin import digits, shapes, signal, volumes
from .downloads import SETS as DOWNLOADABLE, cache_dir, load_torchvision
from .files import FileImageSet, image_files, is_image_list, natural_shape, no_image_decoded
from .tabular import read_table

GENERATED: dict[str, Callable[..., tuple[TensorSet, list[str]]]] = {  # procedural: options and a seed
    "shapes": shapes, "signal": signal, "volumes": volumes}

STAT_SAMPLES = 512  # images decoded to estimate normalisation for file datasets
SINGLE_OUTPUT_REFUSED = {"cross_entropy": "cross-entropy", "mse": "the mse loss"}  # losses a 1-output model cannot use


def load(name_or_path: str, input_shape=None, val_fraction: float = 0.2, seed: int = 0,
         options: dict | None = None, root=None, progress=None) -> DatasetBundle:
    """Load a dataset by name (see :func:`names`) or path, split it with ``seed``, and if
    ``input_shape`` is given make its samples that shape (resize, grey ↔ colour; the procedural
    sets are generated at that size). ``options`` go to the generator (e.g. ``{"n": 500}``).
    ``progress(fraction, message)`` hears how a download goes (called from this thread)."""
    options = dict(options or {})
    key = str(name_or_path).lower()
    if key in GENERATED:
        options.setdefault("seed", seed)
        if input_shape:
            options = _generator_shape(key, input_shape, options)
    # everything needed to rebuild the same samples (an exported script calls builtin.<name>(**options))
    source = {"name": name_or_path, "options": dict(options), "val_fraction": val_fraction, "seed": seed,
              "input_shape": list(input_shape) if input_shape else None}
    if key == "digits":
        full, classes = digits()
    elif key in GENERATED:
        full, classes = GENERATED[key](**options)
    elif key in DOWNLOADABLE:
        full, classes = load_torchvision(key, root, progress)
    else:
        path = Path(name_or_path).expanduser()
        if not path.exists() and ("/" in str(name_or_path) or "\\" in str(name_or_path) or path.suffix):
            raise DatasetError(f"the dataset folder or file {path} does not exist")
        if not path.exists():
            raise DatasetError(f"unknown dataset {name_or_path!r}: not one of {', '.join(names())} and no such "
                               "file or folder")
        if path.suffix.lower() == ".csv" and not is_image_list(path):
            return _load_table(path, input_shape, val_fraction, seed, source)
        return _load_files(path, input_shape, val_fraction, seed, source)
    adapted_from = None
    if input_shape and tuple(full.x.shape[1:]) != tuple(input_shape):
        adapted_from = tuple(full.x.shape[1:])
        full = TensorSet(adapt_tensor(full.x, tuple(input_shape)), full.y)
    train_idx, val_idx = split_indices(len(full), val_fraction, seed)
    train, val = full.subset(train_idx), full.subset(val_idx)
    mean, std = channel_stats(train.x)
    return DatasetBundle(key, train, val, tuple(full.x.shape[1:]), list(classes), mean, std, source,
                         adapted_from=adapted_from)


def _generator_shape(key, input_shape, options):
    shape = tuple(input_shape)
    if key == "shapes" and len(shape) == 3:
        options.setdefault("channels", shape[0])
        options.setdefault("size", [shape[1], shape[2]])
    elif key == "signal" and len(shape) == 2 and shape[0] == 1:
        options.setdefault("length", shape[1])
    elif key == "volumes" and len(shape) == 4 and shape[0] == 1:
        options.setdefault("size", list(shape[1:]))
    return options


def _load_table(path, input_shape, val_fraction, seed, source) -> DatasetBundle:
    """A CSV of numeric features and a label: samples (F,), reshaped to (1, F) for a Conv1d."""
    source = {**source, "path": str(Path(path).resolve()), "kind": "table"}
    full, classes, features = read_table(path)
    have = tuple(full.x.shape[1:])
    if input_shape and same_values(have, input_shape):
        full = TensorSet(adapt_tensor(full.x, tuple(input_shape)), full.y)
    train_idx, val_idx = split_indices(len(full), val_fraction, seed)
    train, val = full.subset(train_idx), full.subset(val_idx)
    mean, std = channel_stats(train.x)  # (F,): per feature; (1, F): one channel, as a signal's
    return DatasetBundle(path.name, train, val, tuple(full.x.shape[1:]), classes, mean, std, source,
                         feature_names=features)


def _load_files(path, input_shape, val_fraction, seed, source) -> DatasetBundle:
    source = {**source, "path": str(Path(path).resolve())}
    train, val, classes, shape, skipped = image_files(path, input_shape)
    if val is None:
        train_idx, val_idx = split_indices(len(train), val_fraction, seed)
        val = torch.utils.data.Subset(train, val_idx.tolist())
        train = torch.utils.data.Subset(train, train_idx.tolist())
    n = min(STAT_SAMPLES, len(train))
    sample, _ = fetch(train, torch.randperm(len(train), generator=torch.Generator().manual_seed(seed))[:n])
    if len(sample) == 0:
        files = getattr(train, "dataset", train)
        raise DatasetError(no_image_decoded(n, path, getattr(files, "first_failure", None), "sampled image(s)"))
    mean, std = channel_stats(sample)
    first = getattr(train, "dataset", train).paths[0]
    own = natural_shape(first) if input_shape else None
    return DatasetBundle(path.name, train, val, shape, classes, mean, std, source, skipped,
                         adapted_from=own if own and own != tuple(shape) else None)


def adapt(bundle: DatasetBundle, input_shape) -> DatasetBundle:
    """The same data made to fit ``input_shape`` (the fix offered by :func:`check`)."""
    input_shape = tuple(input_shape)
    if bundle.input_shape == input_shape:
        return bundle
    if bundle.feature_names and not same_values(bundle.input_shape, input_shape):
        raise DatasetError(_table_mismatch(bundle.input_shape, input_shape).message)
    if isinstance(bundle.train, TensorSet):
        train = TensorSet(adapt_tensor(bundle.train.x, input_shape), bundle.train.y)
        val = TensorSet(adapt_tensor(bundle.val.x, input_shape), bundle.val.y)
        mean, std = channel_stats(train.x)
        return dataclasses.replace(bundle, train=train, val=val, input_shape=input_shape, mean=mean, std=std,
                                   source={**bundle.source, "input_shape": list(input_shape)},
                                   adapted_from=bundle.adapted_from or bundle.input_shape)
    src = bundle.source
    return _load_files(Path(src["name"]).expanduser(), input_shape, src["val_fraction"], src["seed"],
                       {**src, "input_shape": list(input_shape)})


def check(bundle: DatasetBundle, design, loss: str | None = None, report=None) -> list[Diagnostic]:
    """Does the dataset fit the design (and the training ``loss``, when given)? Errors say what
    to change; a size or channel mismatch that :func:`adapt` can fix has code ``input_shape``
    (the caller offers the resize). A single output is a binary classifier that only the bce
    loss can train: with ``cross_entropy`` or ``mse`` it is an error. ``report``: the design's
    analysis when the caller has it (the app does; analysing 20,000 nodes again takes a second)."""
    problems = []
    want = design.input_shape
    have = tuple(bundle.input_shape)
    if want is None:
        problems.append(Diagnostic("error", "no_input", "the design has no Input block", "add an Input block"))
    elif bundle.feature_names and tuple(want) != have:
        problems.append(_table_mismatch(have, tuple(want)))
    elif tuple(want) != have:
        if len(want) != len(have):
            problems.append(Diagnostic("error", "input_rank", f"the dataset's samples are {_fmt(have)} but the "
                                       f"design's Input is {_fmt(want)}", "use a design with a "
                                       f"{len(have) - 1}-D input of shape {_fmt(have)}", want, have))
        elif want[0] != have[0] and 1 not in (want[0], have[0]):
            problems.append(Diagnostic("error", "input_channels", f"the dataset has {have[0]} channels but the "
                                       f"design's Input takes {want[0]}", f"set the Input shape to {_fmt(have)}",
                                       want, have))
        else:
            problems.append(Diagnostic("warning", "input_shape", f"the dataset's samples are {_fmt(have)} but the "
                                       f"design's Input is {_fmt(want)}", f"resize the samples to {_fmt(want)} "
                                       f"(or set the Input shape to {_fmt(have)})", want, have))
    problems += _check_classes(bundle, design, loss, report)
    if bundle.skipped:
        problems.append(Diagnostic("warning", "undecodable", f"{bundle.skipped} image file(s) could not be "
                                   "decoded and are skipped"))
    return problems


def _table_mismatch(have, want) -> Diagnostic:
    """A table's F features against the design's Input: a reshape for (F,) ↔ (1, F), else no fix
    but the Input's shape (features cannot be resized like pixels)."""
    features = have[-1]
    if same_values(have, want):
        return Diagnostic("warning", "input_shape", f"the table's samples are {_fmt(have)} but the design's Input "
                          f"is {_fmt(want)}", f"reshape the samples to {_fmt(want)} (the same {features} values)",
                          want, have)
    return Diagnostic("error", "input_features", f"the table has {features} feature column(s) but the design's "
                      f"Input is {_fmt(want)}", f"set the Input shape to {features} (a Linear first) or 1×{features} "
                      "(a Conv1d first)", want, have)


def _check_classes(bundle, design, loss=None, report=None) -> list[Diagnostic]:
    report = report if report is not None else analyze(design)
    outs = [report.nodes[n.id].shape for n in design.output_nodes()]
    if not outs or outs[0] is None:
        return []  # the analysis report already says what is wrong
    out = tuple(outs[0])
    if len(out) != 1:
        return [Diagnostic("error", "output_shape", f"the design's output is {_fmt(out)}; a classifier "
                           "outputs one score per class", "end with Flatten → Linear → Output", None, out)]
    n = bundle.num_classes
    if out[0] == 1 and n == 2 and loss in SINGLE_OUTPUT_REFUSED:
        # cross_entropy over one score is always 0 and "target 1 is out of bounds"; mse wants one per class
        return [Diagnostic("error", "num_classes", f"a single output with {SINGLE_OUTPUT_REFUSED[loss]}: the loss "
                           f"needs one score per class ({n} here)", f"use the bce loss, or give the last layer {n} "
                           "outputs", n, out[0])]
    if out[0] == n or (out[0] == 1 and n == 2):
        return []
    severity = "warning" if out[0] > n else "error"
    return [Diagnostic(severity, "num_classes", f"the design outputs {out[0]} score(s) but the dataset has "
                       f"{n} classes", f"set the last Linear's out_features to {n}", n, out[0])]


def _fmt(shape) -> str:
    return "×".join(str(s) for s in shape)


__all__ = ["names", "describe", "load", "adapt", "check", "DatasetBundle", "DatasetError", "TensorSet",
           "FileImageSet", "Augment", "fetch", "cache_dir", "digits", "shapes", "signal", "volumes", "read_table"]
