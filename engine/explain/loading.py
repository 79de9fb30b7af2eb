"""Trained weights and the data they were trained on, from a run folder or a weights file.

A run folder (see engine.training.rundir) names its dataset, split and normalisation in
data.json and config.json, so explaining it needs nothing else; a bare weights file needs the
dataset to be named (the normalisation is then computed from it, as the trainer does).
"""
from __future__ import annotations

import json
from pathlib import Path

from ..graph import Design
from ..run_table import WEIGHT_FILES
from .common import Explainer, ExplainError


def run_folder_of(path: Path) -> Path | None:
    """The run folder a weights path belongs to (itself, or the folder above checkpoints/)."""
    for folder in (path, path.parent, path.parent.parent):
        if (folder / "data.json").is_file() or (folder / "config.json").is_file():
            return folder
    return None


def weights_file(path) -> Path:
    """The weights to use: a file as given; in a run folder the best checkpoint (the weights the
    run validated best with), else the final weights, else the last checkpoint."""
    path = Path(path)
    if path.is_file():
        return path
    if path.is_dir():
        for name in WEIGHT_FILES:
            if (path / name).is_file():
                return path / name
        raise ExplainError(f"{path} holds no weights (looked for {', '.join(WEIGHT_FILES)}): train the design "
                           "first, or give a .safetensors/.pt file")
    raise ExplainError(f"no run folder or weights file at {path}")


def _read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def load_explainer(design: Design | None, weights, dataset: str | None = None, design_from_run: bool = True):
    """(Explainer, DatasetBundle) for ``weights`` (a run folder or a weights file).

    ``design`` may be None for a run folder (its design.json is used). ``dataset`` overrides the
    run's dataset (a name or path, as `train --dataset`)."""
    from .. import data as datasets
    from ..persistence import load as load_design
    from ..training.rundir import load_weights

    path = weights_file(weights)
    run = run_folder_of(path if Path(weights).is_file() else Path(weights))
    if design is None:
        if run is None or not (run / "design.json").is_file() or not design_from_run:
            raise ExplainError("give the design file: the weights are not in a run folder with a design.json")
        design = load_design(run / "design.json")
    from ..export.weights import design_keys
    try:
        state = design_keys(design, load_weights(path))  # the exported script's names, if they are
    except ValueError as e:
        raise ExplainError(str(e)) from None
    info = _read_json(run / "data.json") if run else {}
    config = _read_json(run / "config.json") if run else {}
    source = info.get("source") or {}
    name = dataset or source.get("name") or config.get("dataset")
    if not name:
        raise ExplainError(f"{path} is not in a run folder, so its dataset is unknown: name it with --dataset "
                           "(e.g. --dataset digits)")
    same = dataset is None
    options = source.get("options") if same else None
    shape = tuple(design.input_shape or ())
    try:
        bundle = datasets.load(name, shape, float(source.get("val_fraction", config.get("val_fraction", 0.2))),
                               int(source.get("seed", config.get("seed", 0))), options)
        if tuple(bundle.input_shape) != shape:
            bundle = datasets.adapt(bundle, shape)
    except datasets.DatasetError as e:
        raise ExplainError(f"cannot load the dataset {name!r}: {e}") from None
    normalize = config.get("normalize", True)
    mean = info.get("mean") if same and info.get("mean") else bundle.mean
    std = info.get("std") if same and info.get("std") else bundle.std
    classes = info.get("classes") or bundle.classes
    explainer = Explainer(design, state, list(mean or []) if normalize else [], list(std or []) if normalize else [],
                          list(classes))
    return explainer, bundle
