"""The export formats. Each writer puts its files on disk and returns a function that reloads
them the way a user would and runs the reloaded model; :func:`export` compares that with the
in-app model on the same input, so every export is verified before it is reported done."""
from __future__ import annotations

import json
import re
import types
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import torch
from torch import nn

from ..compile import compile_design
from ..errors import EngineError
from ..graph import Design
from ..persistence import atomic_write_text, save
from .codegen import python_source
from .render import doc_escape
from .weights import load_bundle, read_pt, save_pt, save_safetensors

FORMATS = ("bundle", "pt", "python", "onnx", "pt2", "script")
TOLERANCE = {"onnx": 1e-4}
DEFAULT_TOLERANCE = 1e-5
TEMPLATE = Path(__file__).resolve().parents[2] / "resources" / "export" / "train_script.py.in"
BUILTIN_DATA = ("digits", "shapes", "signal")
MAX_SAMPLES = 1_000_000  # of a generated dataset embedded in a training script
DYNAMIC_NOTE = "dynamic batch axis"


class ExportError(EngineError):
    pass


class MissingDependencyError(ExportError):
    """An optional package the format needs is not installed; the message says how to add it."""


@dataclass
class ExportResult:
    path: Path
    format: str
    files: list[Path]
    max_abs_diff: float
    tolerance: float
    notes: list[str] = field(default_factory=list)

    @property
    def verified(self) -> bool:
        return self.max_abs_diff <= self.tolerance

    def summary(self) -> str:
        verdict = "verified" if self.verified else "MISMATCH"
        return (f"{self.format}: wrote {', '.join(str(f) for f in self.files)}\n"
                f"{verdict}: max |difference| from the in-app model = {self.max_abs_diff:.3g} "
                f"(tolerance {self.tolerance:g})")


Progress = Callable[[float, str], None]
Runner = Callable[[tuple], torch.Tensor]


def export(design: Design, model_or_state_dict, fmt: str, out, progress: Progress | None = None,
           data: dict | None = None, train_config: dict | None = None) -> ExportResult:
    """Write ``design`` with its weights in format ``fmt`` at ``out`` and verify it.

    ``model_or_state_dict`` is the trained module (compiled from ``design``) or its state_dict.
    ``progress(fraction, message)`` is called along the way (from the calling thread). ``data``
    (a run's data.json) and ``train_config`` are used by the training-script format.
    """
    if fmt not in FORMATS:
        raise ExportError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    report = progress or (lambda fraction, message: None)
    report(0.0, "compiling the design")
    model = compile_design(design)
    state = model_or_state_dict.state_dict() if isinstance(model_or_state_dict, nn.Module) else model_or_state_dict
    model.load_state_dict(state)
    model.eval()
    example = _example(design, batch=2)
    with torch.no_grad():
        reference = model(*example)
    out = Path(out)
    writer = WRITERS[fmt]
    report(0.1, f"writing {fmt}")
    if fmt == "script":
        files, rerun, notes = writer(design, model, out, example, data=data, train_config=train_config)
    else:
        files, rerun, notes = writer(design, model, out, example)
    report(0.7, "reloading what was written to verify it")
    diff = _max_diff(reference, rerun(example))
    if fmt in ("onnx", "pt2") and DYNAMIC_NOTE in notes:
        # The batch axis is dynamic: check another batch size too.
        other = _example(design, batch=3, seed=1)
        with torch.no_grad():
            diff = max(diff, _max_diff(model(*other), rerun(other)))
    report(1.0, "done")
    return ExportResult(out, fmt, files, diff, TOLERANCE.get(fmt, DEFAULT_TOLERANCE), notes)


def _example(design: Design, batch: int, seed: int = 0) -> tuple[torch.Tensor, ...]:
    gen = torch.Generator().manual_seed(seed)
    return tuple(torch.randn(batch, *n.params["shape"], generator=gen) for n in design.input_nodes())


def _max_diff(a, b) -> float:
    a = a if isinstance(a, (tuple, list)) else (a,)
    b = b if isinstance(b, (tuple, list)) else (b,)
    if len(a) != len(b):
        return float("inf")
    diffs = []
    for x, y in zip(a, b):
        y = torch.as_tensor(y)
        if tuple(x.shape) != tuple(y.shape):
            return float("inf")
        diffs.append((x.detach().float() - y.detach().float()).abs().max().item() if x.numel() else 0.0)
    return max(diffs, default=0.0)


def _state(model: nn.Module) -> dict:
    return model.state_dict()


# -- writers -----------------------------------------------------------------------------

def write_bundle(design, model, out: Path, example):
    """A folder with design.json and weights.safetensors (design also in its metadata); a path
    ending in .safetensors writes just that self-contained file."""
    if out.suffix == ".safetensors":
        out.parent.mkdir(parents=True, exist_ok=True)
        files = [save_safetensors(_state(model), out, design)]
    else:
        out.mkdir(parents=True, exist_ok=True)
        save(design, out / "design.json")
        files = [out / "design.json", save_safetensors(_state(model), out / "weights.safetensors", design)]

    def rerun(x):
        loaded_design, state = load_bundle(out)
        return _run_compiled(loaded_design, state, x)
    return files, rerun, []


def write_pt(design, model, out: Path, example):
    """A plain state_dict (tensors only, loads with weights_only=True) plus the design beside it."""
    out.parent.mkdir(parents=True, exist_ok=True)
    design_file = out.with_suffix(".design.json")
    save(design, design_file)
    files = [save_pt(_state(model), out), design_file]
    return files, lambda x: _run_compiled(design, read_pt(out), x), []


def _run_compiled(design: Design, state: dict, x) -> torch.Tensor:
    model = compile_design(design)
    model.load_state_dict(state)
    with torch.no_grad():
        return model.eval()(*x)


def write_python(design, model, out: Path, example):
    """One standalone .py file and the weights it loads (``<name>.pt`` beside it)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    weights = out.with_suffix(".pt")
    source, class_name = python_source(design, weights.name)
    atomic_write_text(out, source)
    save_pt(_state(model), weights)

    def rerun(x):
        module = _exec_module(out.read_text(), "exported_model", out)
        net = module.build(str(weights)).eval()
        with torch.no_grad():
            return net(*x)
    return [out, weights], rerun, [f"class {class_name}; load with build('{weights.name}')"]


def _exec_module(source: str, name: str, path: Path) -> types.ModuleType:
    module = types.ModuleType(name)
    module.__file__ = str(path)
    exec(compile(source, str(path), "exec"), module.__dict__)
    return module


def write_onnx(design, model, out: Path, example):
    try:
        import onnx  # noqa: F401
        import onnxruntime
        import onnxscript  # noqa: F401
    except ImportError as e:
        raise MissingDependencyError(
            f"ONNX export needs optional packages ({e.name} is missing). Install them with "
            "`pip install 'network-designer[onnx]'` or `pip install onnx onnxscript onnxruntime`.") from None
    out.parent.mkdir(parents=True, exist_ok=True)
    names = [f"input_{i}" if len(example) > 1 else "input" for i in range(len(example))]

    def make(dynamic):
        return torch.onnx.export(model, example, None, dynamo=True, input_names=names, output_names=["output"],
                                 dynamic_shapes=_batch_axes(example) if dynamic else None, verbose=False)
    program, note = _dynamic_or_fixed(make, example)
    program.save(str(out))
    session = onnxruntime.InferenceSession(str(out), providers=["CPUExecutionProvider"])

    def rerun(x):
        feeds = {i.name: t.numpy() for i, t in zip(session.get_inputs(), x)}
        outs = session.run(None, feeds)
        return torch.from_numpy(outs[0]) if len(outs) == 1 else tuple(torch.from_numpy(o) for o in outs)
    return [out], rerun, [note]


def _batch_axes(example):
    batch = torch.export.Dim("batch", min=1, max=65536)
    return tuple({0: batch} for _ in example)


def _dynamic_or_fixed(make, example):
    """Export with a dynamic batch axis; when the graph pins the batch size (a reshape that
    uses it, say) fall back to the example's batch and say so."""
    try:
        return make(True), DYNAMIC_NOTE
    except Exception as e:  # torch.export raises several kinds of constraint errors
        first = str(e).splitlines()[0][:200] if str(e) else type(e).__name__
        try:
            return make(False), f"batch size fixed at {len(example[0])}: a dynamic batch failed ({first})"
        except Exception as e2:
            raise ExportError(f"torch.export cannot capture this model: {e2}") from None


def write_pt2(design, model, out: Path, example):
    out.parent.mkdir(parents=True, exist_ok=True)
    program, note = _dynamic_or_fixed(
        lambda dynamic: torch.export.export(model, example, dynamic_shapes=_batch_axes(example) if dynamic else None),
        example)
    torch.export.save(program, str(out))

    def rerun(x):
        loaded = torch.export.load(str(out)).module()
        with torch.no_grad():
            return loaded(*x)
    return [out], rerun, [note, "load with torch.export.load(path).module()"]


def write_script(design, model, out: Path, example, data: dict | None = None, train_config: dict | None = None):
    """A folder: train.py (model code + DDP training loop), design.json, data.json, train_config.json,
    weights.pt and, for built-in data, the samples as dataset.pt."""
    if len(design.input_nodes()) != 1:
        raise ExportError("the training script supports designs with one Input")
    out.mkdir(parents=True, exist_ok=True)
    data = dict(data or {"name": "digits", "source": {"name": "digits", "options": {}}})
    data["input_shape"] = list(design.input_shape)  # the design's, whatever a data.json says
    data.setdefault("val_fraction", (train_config or {}).get("val_fraction", 0.2))
    data.setdefault("split_seed", (train_config or {}).get("seed", 0))
    files = [out / "train.py", out / "design.json", out / "data.json", out / "train_config.json", out / "weights.pt"]
    data_file = _write_data(data, out)
    if data_file:
        files.append(data_file)
    model_code, class_name = python_source(design, "weights.pt", standalone=False)
    source = fill_template(TEMPLATE.read_text(), {
        "NAME": doc_escape(design.name),  # it sits in the docstring: escaped, never raw
        "MODEL_CLASS": class_name,
        "MODEL_CODE": model_code.rstrip() + "\n"})
    atomic_write_text(out / "train.py", source)
    save(design, out / "design.json")
    atomic_write_text(out / "data.json", json.dumps(data, indent=2) + "\n")
    config = {k: v for k, v in (train_config or {}).items()
              if k in ("epochs", "batch_size", "optimizer", "lr", "momentum", "weight_decay", "seed", "max_steps")}
    atomic_write_text(out / "train_config.json", json.dumps(config, indent=2) + "\n")
    save_pt(_state(model), out / "weights.pt")

    def rerun(x):
        module = _exec_module((out / "train.py").read_text(), "exported_train", out / "train.py")
        net = module.build(str(out / "weights.pt")).eval()
        with torch.no_grad():
            return net(*x)
    return files, rerun, ["run: torchrun --standalone --nproc_per_node=N train.py"]


def fill_template(template: str, values: dict[str, str]) -> str:
    """Put ``values`` into the ``{{KEY}}`` slots in one pass, so text put in one slot is never
    searched for another slot's marker (a design named "{{MODEL_CODE}}" stays a name)."""
    return re.sub(r"\{\{([A-Z_]+)\}\}", lambda m: values[m.group(1)], template)


def _write_data(data: dict, out: Path) -> Path | None:
    """Copy the samples of a built-in dataset next to the script (it cannot import the app)."""
    source = data.get("source") or {}
    if not isinstance(source, dict) or not isinstance(source.get("options") or {}, dict):
        raise ExportError("data.json is damaged: 'source' must be an object with a name and options")
    name = source.get("name") or data.get("name")
    if not isinstance(name, str):
        raise ExportError(f"data.json is damaged: the dataset's name must be a text, not {name!r:.100}")
    for key in ("mean", "std"):
        if key in data and not (isinstance(data[key], list) and all(
                isinstance(v, (int, float)) and not isinstance(v, bool) for v in data[key])):
            raise ExportError(f"data.json is damaged: {key!r} must be a list of numbers")
    if data.get("folder") or source.get("path"):
        data.setdefault("folder", source.get("path"))
        return None
    from ..data.downloads import SETS
    if name in SETS:  # downloadable sets: the script fetches them with torchvision (rank 0 first)
        data["torchvision"], classes = SETS[name]
        data.setdefault("classes", list(classes))
        return None
    if name not in BUILTIN_DATA:
        raise ExportError(f"the training script can embed the built-in datasets ({', '.join(BUILTIN_DATA)}), "
                          f"download {', '.join(SETS)} or read an image folder; {name!r} is none of these")
    from ..data import builtin
    options = source.get("options") or {}
    if not all(isinstance(v, (int, float, list)) and not isinstance(v, bool) for v in options.values()) \
            or not 0 < options.get("n", 1) <= MAX_SAMPLES:
        raise ExportError(f"data.json is damaged: the options of {name} are not plain sizes ({options!r:.200})")
    try:
        samples, classes = getattr(builtin, name)(**options)
    except (TypeError, ValueError) as e:
        raise ExportError(f"data.json is damaged: {name} cannot be made with {options!r:.200} ({e})") from None
    path = out / "dataset.pt"
    buffer_state = {"x": samples.x.contiguous(), "y": samples.y.contiguous()}
    save_pt(buffer_state, path)
    data["file"] = path.name
    data.setdefault("classes", list(classes))
    if "mean" not in data:
        from ..data.base import adapt_tensor, channel_stats
        mean, std = channel_stats(adapt_tensor(samples.x, tuple(data["input_shape"])))
        data["mean"], data["std"] = mean, std
    return path


WRITERS = {"bundle": write_bundle, "pt": write_pt, "python": write_python, "onnx": write_onnx,
           "pt2": write_pt2, "script": write_script}

__all__ = ["FORMATS", "ExportResult", "ExportError", "MissingDependencyError", "export"]
