"""Weights on disk, read without ever running code from the file.

Safetensors is the default format: a JSON header and raw tensor bytes, nothing executable; the
design travels in its metadata. ``.pt`` files are read with ``torch.load(weights_only=True)``,
which only rebuilds tensors and plain containers; a file that needs anything else (a pickle
that would import and call functions) is refused, never opened the unsafe way.
"""
from __future__ import annotations

import io
import pickle
from pathlib import Path

import torch

from ..errors import DesignFileError, EngineError
from ..graph import Design
from ..persistence import atomic_write_bytes, dumps, load, loads
from ..safetensors_header import SafetensorsHeaderError, check_safetensors_file

METADATA_FORMAT = "network-designer-weights"
WEIGHT_NAMES = ("weights.safetensors", "checkpoints/best.pt", "checkpoints/last.pt", "weights.pt")


class WeightsFileError(EngineError):
    """A weights file that cannot be used; the message says why and what to do."""


def save_safetensors(state_dict: dict, path, design: Design | None = None, origin: str | None = None,
                     extra: dict[str, str] | None = None) -> Path:
    """``origin``, when given, says where untrained weights come from (metadata ``weights``);
    ``extra`` adds metadata entries (the preprocessing)."""
    from safetensors.torch import save
    metadata = {**(extra or {}), "format": METADATA_FORMAT}
    if design is not None:
        metadata["design"] = dumps(design)
    if origin:
        metadata["weights"] = origin
    tensors = {k: v.detach().to("cpu").contiguous().clone() for k, v in state_dict.items()}
    atomic_write_bytes(Path(path), save(tensors, metadata=metadata))
    return Path(path)


def save_pt(state_dict: dict, path) -> Path:
    """A plain ``state_dict`` (tensors only), loadable with ``weights_only=True``."""
    buffer = io.BytesIO()
    torch.save({k: v.detach().to("cpu").clone() for k, v in state_dict.items()}, buffer)
    atomic_write_bytes(Path(path), buffer.getvalue())
    return Path(path)


def check_safetensors_header(path) -> dict:
    """Check the whole header of a safetensors file (see :mod:`engine.safetensors_header`) before
    anything else reads it; ``__metadata__`` (``{}`` if absent). Raises WeightsFileError."""
    try:
        return check_safetensors_file(path).metadata
    except SafetensorsHeaderError as e:
        raise WeightsFileError(str(e)) from None


def read_safetensors(path) -> tuple[dict, dict]:
    """``(state_dict, metadata)``; raises WeightsFileError with the reason."""
    path = Path(path)
    if not path.is_file():
        raise WeightsFileError(f"{path} does not exist")
    metadata = check_safetensors_header(path)
    from safetensors import SafetensorError
    from safetensors.torch import load_file
    try:
        return load_file(str(path)), metadata
    except (SafetensorError, OSError, ValueError, RuntimeError, TypeError, KeyError, OverflowError,
            MemoryError) as e:
        reason = next((line.strip() for line in str(e).splitlines() if line.strip()), type(e).__name__)
        raise WeightsFileError(f"{path.name} is not a readable safetensors file: {reason}") from None


def read_pt(path) -> dict:
    """A state_dict from a ``.pt`` file, with ``weights_only=True`` only. A training checkpoint
    (a dict with a ``model`` or ``state_dict`` entry) gives that entry."""
    path = Path(path)
    if not path.is_file():
        raise WeightsFileError(f"{path} does not exist")
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        if "global" not in str(e).lower():  # not a request to run code: just not a pickle we know
            detail = next((line.strip() for line in str(e).splitlines() if "Unsupported" in line), "")
            raise WeightsFileError(f"{path.name} is not a readable PyTorch weights file ({detail or 'bad data'}); "
                                   "weights are read with weights_only=True and anything needing arbitrary "
                                   "unpickling is refused") from None
        reason = str(e).splitlines()
        detail = next((line.strip() for line in reason if "GLOBAL" in line or "Unsupported" in line), "")
        raise WeightsFileError(
            f"refused to load {path.name}: it is not plain weights. Reading it would need arbitrary "
            "unpickling, which can run any code the file contains (torch.load was called with "
            f"weights_only=True and stopped{': ' + detail if detail else ''}). Export weights as "
            "safetensors or as a state_dict of tensors; only load pickles you created yourself.") from None
    except Exception as e:  # the unpickler fails on junk in many ways (KeyError, IndexError, ...)
        detail = str(e).splitlines()[0][:200] if str(e) else ""
        raise WeightsFileError(f"{path.name} is not a readable PyTorch weights file "
                               f"({type(e).__name__}{': ' + detail if detail else ''})") from None
    if isinstance(data, dict):
        for key in ("model", "state_dict"):
            if isinstance(data.get(key), dict):
                data = data[key]
                break
    if not isinstance(data, dict) or not all(isinstance(v, torch.Tensor) for v in data.values()):
        raise WeightsFileError(f"{path.name} holds a {type(data).__name__}, not a state_dict of tensors")
    return data


def read_weights(path) -> tuple[dict, Design | None]:
    """Any weights file: ``(state_dict, design embedded in it or None)``."""
    path = Path(path)
    if path.suffix == ".safetensors":
        state, metadata = read_safetensors(path)
        design = None
        if "design" in metadata:
            try:
                design = loads(metadata["design"])
            except DesignFileError as e:
                raise WeightsFileError(f"{path.name}: the design in its metadata cannot be read: {e}") from None
        return state, design
    return read_pt(path), None


def _design_beside(path: Path) -> Design | None:
    for candidate in (path.with_suffix(".design.json"), path.with_suffix(".json"), path.parent / "design.json",
                      path.parent.parent / "design.json"):
        if candidate.is_file() and candidate != path:
            try:
                return load(candidate)
            except DesignFileError as e:
                raise WeightsFileError(f"{candidate}: {e}") from None
    return None


def load_bundle(path, design: Design | None = None) -> tuple[Design, dict]:
    """``(design, state_dict)`` from a bundle or run folder, a ``.safetensors`` file with the design
    in its metadata, or a ``.pt`` with ``design.json`` beside it (or ``design`` given)."""
    path = Path(path)
    if path.is_dir():
        weights = next((path / n for n in WEIGHT_NAMES if (path / n).is_file()), None)
        weights = weights or next(iter(sorted(path.glob("*.safetensors"))), None)
        if weights is None:
            raise WeightsFileError(f"{path} holds no weights (looked for {', '.join(WEIGHT_NAMES)})")
        if design is None and (path / "design.json").is_file():
            try:
                design = load(path / "design.json")
            except DesignFileError as e:
                raise WeightsFileError(f"{path / 'design.json'}: {e}") from None
        path = weights
    if not path.exists():
        raise WeightsFileError(f"{path} does not exist")
    state, embedded = read_weights(path)
    design = design or embedded or _design_beside(path)
    if design is None:
        raise WeightsFileError(f"{path.name} has weights but no design: put the design file beside it "
                               "(design.json) or pass it explicitly")
    state = design_keys(design, state)
    check_state_dict(design, state)
    return design, state


def design_keys(design: Design, state: dict) -> dict:
    """``state`` under the compiled model's keys. Weights written beside exported code (a
    training script's ``weights.pt`` and checkpoints) use the code's torchvision-style names
    (``layer1.0.conv1.weight``); the compiled model has ``layer1_0.conv1.weight``."""
    from ..compile import compile_design
    from ..errors import CompileError
    from .codegen import generate
    ours = compile_design(design).state_dict()
    if set(state) == set(ours):
        return state
    try:
        to_code = generate(design).code_key
    except CompileError:
        return state  # a design with no code (an opaque layer): the keys are what they are
    back = {to_code(k): k for k in ours}
    if len(back) != len(ours) or not set(state) <= set(back):
        return state  # not the code's keys either: check_state_dict says what does not fit
    return {back[k]: v for k, v in state.items()}


def some_design_keys(design: Design, state: dict) -> dict:
    """Like :func:`design_keys`, for weights that fit only in part (transfer learning from another
    design): each key written in the generated code's names that the compiled model has under
    another name is renamed; every other key is left as it is."""
    from ..compile import compile_design
    from ..errors import CompileError
    from .codegen import generate
    ours = set(compile_design(design).state_dict())
    if set(state) <= ours:
        return state  # the compiled model's names already
    try:
        to_code = generate(design).code_key
    except CompileError:
        return state
    back = {to_code(k): k for k in ours}
    return {k if k in ours else back.get(k, k): v for k, v in state.items()}


def check_state_dict(design: Design, state: dict) -> None:
    """Raise WeightsFileError unless ``state`` fits the compiled design exactly."""
    from ..compile import compile_design
    expected = compile_design(design).state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    wrong = [f"{k}: file {tuple(state[k].shape)}, design {tuple(v.shape)}" for k, v in expected.items()
             if k in state and tuple(state[k].shape) != tuple(v.shape)]
    problems = []
    if missing:
        problems.append(f"missing {len(missing)} ({', '.join(missing[:5])}{', …' if len(missing) > 5 else ''})")
    if unexpected:
        problems.append(f"unexpected {len(unexpected)} ({', '.join(unexpected[:5])}"
                        f"{', …' if len(unexpected) > 5 else ''})")
    if wrong:
        problems.append("shape differs: " + "; ".join(wrong[:5]))
    if problems:
        raise WeightsFileError("the weights do not fit the design: " + "; ".join(problems)
                               + ". Were they saved from another version of the design?")
