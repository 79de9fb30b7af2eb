"""The input normalisation, input shape and class names travel with every export (issue 16,
item 3): metadata in each format, a ``preprocess`` function in the generated Python that
reproduces the trainer's normalisation exactly, the normalisation optionally inside the model,
and a README that states them — or says plainly that they are unknown."""
from __future__ import annotations

import json
import types

import pytest
import torch

from engine import data as datasets, templates
from engine.cli import main
from engine.compile import compile_design
from engine.export import ExportError, export, read_safetensors
from engine.persistence import save
from engine.training.devices import as_float
from engine.training.loop import Batcher

pytestmark = pytest.mark.usefixtures("one_torch_thread")
SHAPE = (1, 16, 16)


@pytest.fixture(scope="module")
def digits():
    """The real digits dataset at the design's input, as a run records it (data.json)."""
    bundle = datasets.load("digits", SHAPE)
    return bundle, bundle.describe()


@pytest.fixture(scope="module")
def trained():
    design = templates.build("lenet5", SHAPE, 10)
    torch.manual_seed(0)
    return design, compile_design(design).eval()


def module_of(path):
    module = types.ModuleType("exported")
    exec(compile(path.read_text(), str(path), "exec"), module.__dict__)
    return module


def test_preprocess_reproduces_the_trainers_normalisation_exactly(trained, digits, tmp_path):
    design, model = trained
    bundle, data = digits
    assert export(design, model, "python", tmp_path / "net.py", data=data).verified
    module = module_of(tmp_path / "net.py")
    raw, _ = bundle.val.batch(torch.arange(32), raw=True)  # uint8 as stored, as the trainer fetches it
    assert raw.dtype == torch.uint8
    batcher = Batcher(bundle.val, 32, "cpu", bundle.mean, bundle.std)
    expected = batcher.normalize(as_float(raw))
    assert torch.equal(module.preprocess(raw), expected)
    assert torch.equal(module.preprocess(raw[0]), expected[:1])  # one sample gets a batch axis
    assert module.MEAN == bundle.mean and module.STD == bundle.std and module.CLASSES == bundle.classes
    assert module.INPUT_SHAPES == [SHAPE] and module.NORMALISATION_IN_MODEL is False
    # and the un-normalised input the motivating figure warns about is far from it
    assert (expected - as_float(raw)).abs().max() > 0.5


def test_baked_model_on_raw_input_equals_the_model_on_normalised_input(trained, digits, tmp_path):
    design, model = trained
    bundle, data = digits
    plain = export(design, model, "python", tmp_path / "plain.py", data=data)
    baked = export(design, model, "python", tmp_path / "baked.py", data=data, bake_normalisation=True)
    assert plain.verified and baked.verified
    p, b = module_of(tmp_path / "plain.py"), module_of(tmp_path / "baked.py")
    assert b.NORMALISATION_IN_MODEL is True and "x = normalize(x)" in (tmp_path / "baked.py").read_text()
    raw = as_float(bundle.val.batch(torch.arange(16), raw=True)[0])
    with torch.no_grad():
        on_raw = b.build(str(tmp_path / "baked.pt")).eval()(b.preprocess(raw))  # preprocess only scales here
        on_normalised = p.build(str(tmp_path / "plain.pt")).eval()(p.preprocess(raw))
        in_app = model(Batcher(bundle.val, 16, "cpu", bundle.mean, bundle.std).normalize(raw))
    assert torch.equal(on_raw, on_normalised) and torch.equal(on_raw, in_app)
    for fmt, suffix in (("pt2", ".pt2"), ("onnx", ".onnx")):
        if fmt == "onnx":
            pytest.importorskip("onnxruntime")
        result = export(design, model, fmt, tmp_path / f"baked{suffix}", data=data, bake_normalisation=True)
        assert result.verified, result.summary()  # compared on raw [0, 1] input with the in-app model on it normalised
    loaded = torch.export.load(str(tmp_path / "baked.pt2")).module()
    with torch.no_grad():
        assert torch.allclose(loaded(raw), in_app, atol=1e-5)


def test_metadata_in_every_format(trained, digits, tmp_path):
    design, model = trained
    bundle, data = digits
    expected = {"mean": bundle.mean, "std": bundle.std, "classes": bundle.classes, "input_shapes": [list(SHAPE)],
                "normalisation": "normalised", "normalisation_in_model": False, "dataset": "digits"}

    def check(d):
        assert {k: d[k] for k in expected} == expected

    export(design, model, "bundle", tmp_path / "bundle", data=data)
    _state, metadata = read_safetensors(tmp_path / "bundle" / "weights.safetensors")
    check(json.loads(metadata["preprocessing"]))
    assert json.loads(metadata["mean"]) == bundle.mean and json.loads(metadata["input_shape"]) == list(SHAPE)
    export(design, model, "pt", tmp_path / "m.pt", data=data)
    check(json.loads((tmp_path / "m.preprocessing.json").read_text()))
    export(design, model, "pt2", tmp_path / "m.pt2", data=data)
    extra = {"preprocessing.json": ""}
    torch.export.load(str(tmp_path / "m.pt2"), extra_files=extra)
    check(json.loads(extra["preprocessing.json"]))
    export(design, model, "script", tmp_path / "script", data=data)
    readmes = [tmp_path / "bundle" / "README.md", tmp_path / "m.README.md", tmp_path / "m.README.md",
               tmp_path / "script" / "README.md"]
    try:
        import onnx
    except ImportError:
        onnx = None
    if onnx is not None and export(design, model, "onnx", tmp_path / "m.onnx", data=data).verified:
        props = {p.key: p.value for p in onnx.load(str(tmp_path / "m.onnx")).metadata_props}
        check(json.loads(props["preprocessing"]))
        assert json.loads(props["classes"]) == bundle.classes and json.loads(props["std"]) == bundle.std
        assert props["normalisation_in_model"] == "false"
    for readme in readmes:
        text = readme.read_text()
        assert f"mean {bundle.mean}, std {bundle.std}" in text and "1×16×16" in text, readme
        assert "predictions are wrong" in text and "other numbers than it learned on" in text
        assert "\n0. " + bundle.classes[0] in text and f"\n9. {bundle.classes[9]}" in text


def test_untrained_export_says_there_is_no_normalisation(tmp_path, capsys):
    design_file = tmp_path / "lenet.json"
    save(templates.build("lenet5", SHAPE, 10), design_file)
    assert main(["export", str(design_file), "-f", "python", "-o", str(tmp_path / "m.py")]) == 0
    assert "untrained: there is no training data, so no normalisation" in capsys.readouterr().out
    module = module_of(tmp_path / "m.py")
    assert module.MEAN is None and module.CLASSES is None
    assert "no normalisation and no class names" in (tmp_path / "m.README.md").read_text()
    assert main(["export", str(design_file), "-o", str(tmp_path / "b")]) == 0
    meta = json.loads(read_safetensors(tmp_path / "b" / "weights.safetensors")[1]["preprocessing"])
    assert meta["normalisation"] == "untrained" and meta["mean"] is None and meta["classes"] is None
    # nothing to bake: a clear refusal, exit 2
    assert main(["export", str(design_file), "-f", "python", "-o", str(tmp_path / "x.py"),
                 "--bake-normalisation"]) == 2
    assert "no normalisation to put inside the model" in capsys.readouterr().err


def test_weights_without_their_run_say_unknown_and_bake_is_refused_for_bundles(trained, digits, tmp_path):
    design, model = trained
    result = export(design, model, "pt", tmp_path / "m.pt")
    assert "unknown" in (tmp_path / "m.README.md").read_text()
    assert json.loads((tmp_path / "m.preprocessing.json").read_text())["normalisation"] == "unknown"
    assert any("Normalisation: unknown" in n for n in result.notes)
    with pytest.raises(ExportError, match="python, onnx, pt2"):
        export(design, model, "bundle", tmp_path / "b", data=digits[1], bake_normalisation=True)
    # trained without normalisation (config normalize: false): no numbers, and it says so
    export(design, model, "python", tmp_path / "raw.py", data=digits[1], train_config={"normalize": False})
    assert module_of(tmp_path / "raw.py").MEAN is None
    assert "without normalisation: do not normalise" in (tmp_path / "raw.README.md").read_text()


def test_cli_bakes_the_normalisation_from_the_runs_data(trained, digits, tmp_path, capsys):
    design, model = trained
    run = tmp_path / "run"
    export(design, model, "bundle", run)
    (run / "data.json").write_text(json.dumps(digits[1]))
    assert main(["export", str(run), "-f", "python", "-o", str(tmp_path / "m.py"), "--bake-normalisation"]) == 0
    out = capsys.readouterr().out
    assert "is inside the model: do not normalise again" in out and "max relative difference" in out
    assert module_of(tmp_path / "m.py").NORMALISATION_IN_MODEL is True
