"""The run folder, a contract with the exporter and the app:

    RUN_DIR/design.json             the design trained (engine.persistence format)
    RUN_DIR/config.json             TrainConfig.to_dict()
    RUN_DIR/data.json               the dataset: name, input shape, classes, mean/std, source
    RUN_DIR/metrics.csv, .json      one row per finished epoch (rewritten every epoch)
    RUN_DIR/checkpoints/last.pt     torch.save of a plain dict (see checkpoint_dict)
    RUN_DIR/checkpoints/best.pt     the same, at the best monitored epoch
    RUN_DIR/weights.safetensors     the final model state_dict, metadata {"design": <design json>}

Checkpoints hold only tensors and plain Python values, so ``torch.load(path,
weights_only=True)`` reads them without executing anything.
"""
from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import torch

from ..persistence import atomic_write, atomic_write_text, dumps

CHECKPOINT_FORMAT = "network-designer-checkpoint"
METRIC_COLUMNS = ["epoch", "train_loss", "train_accuracy", "val_loss", "val_accuracy", "val_top5", "lr", "seconds"]


def prepare(run_dir, design, config, data_description: dict) -> Path:
    run_dir = Path(run_dir)
    (run_dir / "checkpoints").mkdir(parents=True, exist_ok=True)
    atomic_write_text(run_dir / "design.json", dumps(design))
    atomic_write_text(run_dir / "config.json", config.to_json())
    atomic_write_text(run_dir / "data.json", json.dumps(data_description, indent=2, ensure_ascii=False) + "\n")
    return run_dir


def write_metrics(run_dir: Path, history: list[dict]) -> None:
    atomic_write_text(run_dir / "metrics.json", json.dumps(history, indent=2) + "\n")
    out = io.StringIO()
    writer = csv.DictWriter(out, METRIC_COLUMNS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in history:
        writer.writerow({k: ("" if row.get(k) is None else row[k]) for k in METRIC_COLUMNS})
    atomic_write_text(run_dir / "metrics.csv", out.getvalue())


def cpu_state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """A detached, contiguous CPU copy of the state_dict (channels_last and GPU tensors included)."""
    return {k: v.detach().to("cpu", copy=True).contiguous() for k, v in model.state_dict().items()}


def save_checkpoint(path: Path, checkpoint: dict) -> None:
    atomic_write(path, lambda tmp: torch.save(checkpoint, tmp))


def load_checkpoint(path) -> dict:
    """Read a checkpoint safely (no code execution); raises ValueError if it is not one of ours."""
    try:
        checkpoint = torch.load(Path(path), map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise ValueError(f"no checkpoint at {path}") from None
    except Exception as e:  # noqa: BLE001 - unpickling errors have many types
        raise ValueError(f"{path} is not a readable checkpoint: {e}") from None
    if not isinstance(checkpoint, dict) or checkpoint.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{path} is not a Network Designer checkpoint")
    return checkpoint


def write_weights(path: Path, state: dict[str, torch.Tensor], design_json: str) -> None:
    from safetensors.torch import save_file
    atomic_write(path, lambda tmp: save_file(state, tmp, metadata={"design": design_json}))


def load_weights(path) -> dict[str, torch.Tensor]:
    """A state_dict from ``weights.safetensors`` or from a checkpoint's ``model``."""
    path = Path(path)
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file
        return load_file(str(path))
    return load_checkpoint(path)["model"]
