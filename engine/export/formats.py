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
from .codegen import generate
from .preprocess import Normalized, Preprocessing
from .render import doc_escape
from .weights import load_bundle, read_pt, save_pt, save_safetensors

FORMATS = ("bundle", "pt", "python", "onnx", "pt2", "script")
# (atol, rtol) per format for float32 outputs; an element passes when
# |exported - in-app| <= max(atol, rtol * |in-app|), as torch.testing.assert_close but with the max of
# the two bounds. The default is torch's for float32 (atol 1e-5, rtol 1.3e-6, about 11 float32 ulps):
# a reload of the same weights through PyTorch runs the same kernels. onnxruntime runs other kernels
# (other summation orders, fused convolutions): its rounding grows with the size of the sums, so
# it gets 10x the absolute bound and ~84 ulps of relative bound, still far below any real error (a
# wrong weight or a wrong layer changes outputs by percents).
TOLERANCE = {"onnx": (1e-4, 1e-5)}
DEFAULT_TOLERANCE = (1e-5, 1.3e-6)
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
    tolerance: float  # the absolute tolerance (atol)
    notes: list[str] = field(default_factory=list)
    weights_origin: str | None = None  # e.g. "freshly initialised from seed 0 — untrained"; None: given weights
    max_rel_diff: float = 0.0  # max |difference| / |in-app output| over the elements where that is not 0
    rtol: float = 0.0
    within_tolerance: bool | None = None  # the elementwise verdict; None: max_abs_diff <= tolerance

    @property
    def verified(self) -> bool:
        if self.within_tolerance is not None:
            return self.within_tolerance
        return self.max_abs_diff <= self.tolerance

    def verification(self) -> str:
        """The verdict with both differences and the tolerances used (CLI, Export dialog, gpu-check)."""
        verdict = "verified" if self.verified else "MISMATCH"
        return (f"{verdict}: max |difference| from the in-app model = {self.max_abs_diff:.3g}, "
                f"max relative difference = {self.max_rel_diff:.3g} "
                f"(tolerance per element: max(atol {self.tolerance:g}, rtol {self.rtol:g} × |in-app output|))")

    def summary(self) -> str:
        origin = f"weights: {self.weights_origin}\n" if self.weights_origin else ""
        return f"{origin}{self.format}: wrote {', '.join(str(f) for f in self.files)}\n{self.verification()}"


@dataclass(frozen=True)
class Comparison:
    max_abs: float
    max_rel: float
    ok: bool

    def __or__(self, other: Comparison) -> Comparison:
        return Comparison(max(self.max_abs, other.max_abs), max(self.max_rel, other.max_rel), self.ok and other.ok)


Progress = Callable[[float, str], None]
Runner = Callable[[tuple], torch.Tensor]


def untrained_note(seed: int) -> str:
    return f"freshly initialised from seed {seed} — untrained"


def fresh_weights(design: Design, seed: int) -> tuple[Design, dict]:
    """``(design, state_dict)`` with the weights a fresh compile gives under ``torch.manual_seed(seed)``
    (the global random state is left as it was)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return design, compile_design(design).state_dict()


BAKE_FORMATS = ("python", "onnx", "pt2")  # formats that can carry the normalisation inside the model


def export(design: Design, model_or_state_dict, fmt: str, out, progress: Progress | None = None,
           data: dict | None = None, train_config: dict | None = None,
           weights_origin: str | None = None, bake_normalisation: bool = False) -> ExportResult:
    """Write ``design`` with its weights in format ``fmt`` at ``out`` and verify it.

    ``model_or_state_dict`` is the trained module (compiled from ``design``) or its state_dict.
    ``progress(fraction, message)`` is called along the way (from the calling thread). ``data``
    (a run's data.json) and ``train_config`` are used by the training-script format.
    ``weights_origin`` says where the weights come from when they are not trained ones (see
    :func:`untrained_note`); it is written into the export's metadata and its summary.

    The input shape, normalisation and class names (from ``data``, see
    :mod:`engine.export.preprocess`) go into every format. ``bake_normalisation`` puts the
    normalisation inside the exported model (python, onnx, pt2), which then takes raw [0, 1]
    input; it is verified on such input against the in-app model on normalised input.
    """
    if fmt not in FORMATS:
        raise ExportError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    pre = Preprocessing.of(design, data, train_config, untrained=weights_origin is not None, baked=bake_normalisation)
    if bake_normalisation and fmt not in BAKE_FORMATS:
        raise ExportError(f"the normalisation can be put inside the model for {', '.join(BAKE_FORMATS)} exports, "
                          f"not {fmt} (its metadata and README say how to normalise)")
    if bake_normalisation and not pre.normalises:
        raise ExportError("there is no normalisation to put inside the model: " + pre.sentence())
    report = progress or (lambda fraction, message: None)
    report(0.0, "compiling the design")
    model = compile_design(design)
    state = model_or_state_dict.state_dict() if isinstance(model_or_state_dict, nn.Module) else model_or_state_dict
    model.load_state_dict(state)
    model.eval()
    # baked: the exported model takes raw [0, 1] input and must equal the in-app model on that
    # input normalised as the trainer did
    reference_model = Normalized(model, pre.mean, pre.std).eval() if pre.baked else model
    example = _example(design, batch=2, raw=pre.baked)
    with torch.no_grad():
        reference = reference_model(*example)
    out = Path(out)
    writer = WRITERS[fmt]
    report(0.1, f"writing {fmt}")
    if fmt == "script":
        files, rerun, notes = writer(design, model, out, example, data=data, train_config=train_config,
                                     origin=weights_origin, pre=pre)
    else:
        files, rerun, notes = writer(design, model, out, example, origin=weights_origin, pre=pre)
    files.append(_readme(design, fmt, out, files, pre, weights_origin))
    report(0.7, "reloading what was written to verify it")
    atol, rtol = TOLERANCE.get(fmt, DEFAULT_TOLERANCE)
    found = _compare(reference, rerun(example), atol, rtol)
    if fmt in ("onnx", "pt2") and DYNAMIC_NOTE in notes:
        # The batch axis is dynamic: check another batch size too.
        other = _example(design, batch=3, seed=1, raw=pre.baked)
        with torch.no_grad():
            found = found | _compare(reference_model(*other), rerun(other), atol, rtol)
    report(1.0, "done")
    notes = [*notes, pre.sentence()]
    return ExportResult(out, fmt, files, found.max_abs, atol, notes, weights_origin, found.max_rel, rtol, found.ok)


def _example(design: Design, batch: int, seed: int = 0, raw: bool = False) -> tuple[torch.Tensor, ...]:
    """Inputs to compare on: normal samples, or uniform in [0, 1] (``raw``, for a model that normalises)."""
    gen = torch.Generator().manual_seed(seed)
    draw = torch.rand if raw else torch.randn
    return tuple(draw(batch, *n.params["shape"], generator=gen) for n in design.input_nodes())


def _readme(design: Design, fmt: str, out: Path, files: list[Path], pre: Preprocessing, origin) -> Path:
    """README.md in a folder export, ``<name>.README.md`` beside a file: the input the model
    takes (shape, normalisation), its classes, and how to load it."""
    path = out / "README.md" if fmt in ("script",) or (fmt == "bundle" and out.suffix != ".safetensors") \
        else out.with_suffix(".README.md")
    names = [f.name for f in files] + [path.name]
    atomic_write_text(path, pre.readme(design.name, fmt, names, _usage(fmt, out, pre), origin))
    return path


def _usage(fmt: str, out: Path, pre: Preprocessing) -> str:
    x = "x"
    what = ("# x: a batch of raw [0, 1] input (the model normalises)\n" if pre.baked else
            "# x: a batch normalised as above\n" if pre.normalises else "")
    name = out.name
    return {
        "bundle": f"from safetensors.torch import load_file\nstate = load_file({str(out / 'weights.safetensors') if out.suffix != '.safetensors' else name!r})"
                  "\n# or, in Network Designer: engine.export.load_bundle(path) -> (design, state)",
        "pt": f"import torch\nstate = torch.load({name!r}, weights_only=True)  # the state_dict of {out.with_suffix('.design.json').name}",
        "python": f"from {out.stem if out.stem.isidentifier() else 'model'} import build, preprocess, CLASSES\n"
                  f"model = build({out.with_suffix('.pt').name!r}).eval()\nscores = model(preprocess(images))",
        "onnx": f"{what}import onnxruntime\nsession = onnxruntime.InferenceSession({name!r})\n"
                f"scores = session.run(None, {{session.get_inputs()[0].name: {x}.numpy()}})[0]",
        "pt2": f"{what}import torch\nmodel = torch.export.load({name!r}).module()\nscores = model({x})",
        "script": "# torchrun --standalone --nproc_per_node=N train.py   (train.py normalises with data.json)",
    }[fmt]


def _compare(reference, got, atol: float, rtol: float) -> Comparison:
    """Elementwise ``|got - reference| <= max(atol, rtol * |reference|)`` over every output, with
    the largest absolute and relative differences. Another structure or shape, or a NaN or
    infinity that is not in the reference at the same place, fails."""
    a = reference if isinstance(reference, (tuple, list)) else (reference,)
    b = got if isinstance(got, (tuple, list)) else (got,)
    if len(a) != len(b):
        return Comparison(float("inf"), float("inf"), False)
    result = Comparison(0.0, 0.0, True)
    for x, y in zip(a, b):
        y = torch.as_tensor(y)
        if tuple(x.shape) != tuple(y.shape):
            return Comparison(float("inf"), float("inf"), False)
        if not x.numel():
            continue
        x, y = x.detach().double(), y.detach().double()
        same_special = (x == y) | (torch.isnan(x) & torch.isnan(y))  # equal infinities, NaN where NaN
        diff = torch.where(same_special, torch.zeros_like(x), (x - y).abs())
        diff = torch.nan_to_num(diff, nan=float("inf"))
        bound = torch.maximum(torch.full_like(x, atol), rtol * x.abs())
        bound = torch.where(torch.isfinite(x), bound, torch.zeros_like(x))  # an infinity must be matched
        nonzero = x != 0
        relative = (diff[nonzero] / x[nonzero].abs()).max().item() if nonzero.any() else 0.0
        result = result | Comparison(diff.max().item(), relative, bool((diff <= bound).all()))
    return result


def _state(model: nn.Module) -> dict:
    return model.state_dict()


# -- writers -----------------------------------------------------------------------------

def write_bundle(design, model, out: Path, example, origin=None, pre: Preprocessing | None = None):
    """A folder with design.json and weights.safetensors (design also in its metadata); a path
    ending in .safetensors writes just that self-contained file."""
    if out.suffix == ".safetensors":
        out.parent.mkdir(parents=True, exist_ok=True)
        files = [save_safetensors(_state(model), out, design, origin, _meta(pre))]
    else:
        out.mkdir(parents=True, exist_ok=True)
        save(design, out / "design.json")
        files = [out / "design.json",
                 save_safetensors(_state(model), out / "weights.safetensors", design, origin, _meta(pre))]

    def rerun(x):
        loaded_design, state = load_bundle(out)
        return _run_compiled(loaded_design, state, x)
    return files, rerun, []


def _meta(pre: Preprocessing | None) -> dict[str, str]:
    return pre.metadata() if pre else {}


def write_pt(design, model, out: Path, example, origin=None, pre: Preprocessing | None = None):
    """A plain state_dict (tensors only, loads with weights_only=True) plus the design beside it,
    ``<name>.preprocessing.json`` (a state_dict has no metadata) and, for untrained weights, a
    ``<name>.weights.txt`` saying so."""
    out.parent.mkdir(parents=True, exist_ok=True)
    design_file = out.with_suffix(".design.json")
    save(design, design_file)
    files = [save_pt(_state(model), out), design_file]
    if pre:
        files.append(out.with_suffix(".preprocessing.json"))
        atomic_write_text(files[-1], json.dumps(pre.as_dict(), indent=2, ensure_ascii=False) + "\n")
    if origin:
        files.append(_origin_file(out, origin))
    return files, lambda x: _run_compiled(design, read_pt(out), x), []


def _origin_file(weights: Path, origin: str) -> Path:
    path = weights.with_suffix(".weights.txt")
    atomic_write_text(path, f"weights: {origin}\n")
    return path


def _origin_comment(source: str, origin: str | None) -> str:
    """The generated source with a first comment saying the weights are untrained."""
    if not origin:
        return source
    return f"# weights: {_one_line(origin)}\n" + source


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _run_compiled(design: Design, state: dict, x) -> torch.Tensor:
    model = compile_design(design)
    model.load_state_dict(state)
    with torch.no_grad():
        return model.eval()(*x)


def write_python(design, model, out: Path, example, origin=None, pre: Preprocessing | None = None):
    """One standalone .py file (with ``preprocess`` and the input's facts) and the weights it
    loads (``<name>.pt`` beside it)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    weights = out.with_suffix(".pt")
    code = generate(design, weights.name, extra=pre.python() if pre else "", normalise_input=bool(pre and pre.baked))
    source, class_name = code.source, code.class_name
    atomic_write_text(out, _origin_comment(source, origin))
    save_pt(code.state_dict(_state(model)), weights)  # under the code's (torchvision's) names

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


def write_onnx(design, model, out: Path, example, origin=None, pre: Preprocessing | None = None):
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
    if pre and pre.baked:
        model = Normalized(model, pre.mean, pre.std).eval()

    def make(dynamic):
        return torch.onnx.export(model, example, None, dynamo=True, input_names=names, output_names=["output"],
                                 dynamic_shapes=_batch_axes(example) if dynamic else None, verbose=False)
    program, note = _dynamic_or_fixed(make, example)
    program.save(str(out))
    _onnx_metadata(out, {**_meta(pre), **({"weights": origin} if origin else {})})
    session = onnxruntime.InferenceSession(str(out), providers=["CPUExecutionProvider"])

    def rerun(x):
        feeds = {i.name: t.numpy() for i, t in zip(session.get_inputs(), x)}
        outs = session.run(None, feeds)
        return torch.from_numpy(outs[0]) if len(outs) == 1 else tuple(torch.from_numpy(o) for o in outs)
    return [out], rerun, [note]


def _onnx_metadata(path: Path, values: dict[str, str]) -> None:
    import onnx
    proto = onnx.load(str(path))
    for key, value in values.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.save(proto, str(path))


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


def write_pt2(design, model, out: Path, example, origin=None, pre: Preprocessing | None = None):
    out.parent.mkdir(parents=True, exist_ok=True)
    if pre and pre.baked:
        model = Normalized(model, pre.mean, pre.std).eval()
    extra = {"preprocessing.json": json.dumps(pre.as_dict(), ensure_ascii=False)} if pre else {}
    if origin:
        extra["weights.txt"] = origin
    program, note = _dynamic_or_fixed(
        lambda dynamic: torch.export.export(model, example, dynamic_shapes=_batch_axes(example) if dynamic else None),
        example)
    torch.export.save(program, str(out), extra_files=extra or None)

    def rerun(x):
        loaded = torch.export.load(str(out)).module()
        with torch.no_grad():
            return loaded(*x)
    return [out], rerun, [note, "load with torch.export.load(path).module()"]


def write_script(design, model, out: Path, example, data: dict | None = None, train_config: dict | None = None,
                 origin=None, pre: Preprocessing | None = None):
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
    code = generate(design, "weights.pt", standalone=False)
    model_code, class_name = code.source, code.class_name
    source = fill_template(TEMPLATE.read_text(), {
        "NAME": doc_escape(design.name),  # it sits in the docstring: escaped, never raw
        "MODEL_CLASS": class_name,
        "MODEL_CODE": model_code.rstrip() + "\n"})
    atomic_write_text(out / "train.py", _origin_comment(source, origin))
    save(design, out / "design.json")
    atomic_write_text(out / "data.json", json.dumps(data, indent=2) + "\n")
    config = {k: v for k, v in (train_config or {}).items()
              if k in ("epochs", "batch_size", "optimizer", "lr", "momentum", "weight_decay", "seed", "max_steps")}
    atomic_write_text(out / "train_config.json", json.dumps(config, indent=2) + "\n")
    save_pt(code.state_dict(_state(model)), out / "weights.pt")  # the keys train.py's model has
    if origin:
        files.append(_origin_file(out / "weights.pt", origin))

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


WRITERS: dict[str, Callable[..., tuple]] = {"bundle": write_bundle, "pt": write_pt, "python": write_python, "onnx": write_onnx,
           "pt2": write_pt2, "script": write_script}

__all__ = ["FORMATS", "BAKE_FORMATS", "ExportResult", "ExportError", "MissingDependencyError", "export", "fresh_weights",
           "untrained_note"]
