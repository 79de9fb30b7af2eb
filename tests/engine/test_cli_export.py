"""`export DESIGN.json` with no weights (issue 16 item 4): the weights are initialised from
``--seed`` (default 0), and the output and the exported metadata say they are untrained."""
from __future__ import annotations

import json

import pytest
import torch

from engine import templates
from engine.cli import main
from engine.compile import compile_design
from engine.export import read_pt, read_safetensors
from engine.persistence import save

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture
def design_file(tmp_path):
    path = tmp_path / "lenet.json"
    save(templates.build("lenet5", (1, 28, 28), 10), path)
    return path


def _seeded_state(design_file, seed):
    from engine.persistence import load
    torch.manual_seed(seed)
    return compile_design(load(design_file)).state_dict()


def test_python_export_of_a_bare_design(design_file, tmp_path, capsys):
    out = tmp_path / "model.py"
    assert main(["export", str(design_file), "--format", "python", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "weights: freshly initialised from seed 0 — untrained" in printed
    assert "verified" in printed
    assert out.read_text().startswith("# weights: freshly initialised from seed 0 — untrained\n")
    expected = _seeded_state(design_file, 0)
    written = read_pt(tmp_path / "model.pt")
    assert written.keys() == expected.keys()
    assert all(torch.equal(written[k], expected[k]) for k in expected)


def test_seed_changes_the_weights_and_bundle_metadata_says_so(design_file, tmp_path, capsys):
    assert main(["export", str(design_file), "--out", str(tmp_path / "b"), "--seed", "7"]) == 0
    assert "seed 7 — untrained" in capsys.readouterr().out
    state, metadata = read_safetensors(tmp_path / "b" / "weights.safetensors")
    assert metadata["weights"] == "freshly initialised from seed 7 — untrained"
    expected = _seeded_state(design_file, 7)
    assert all(torch.equal(state[k], expected[k]) for k in expected)
    assert not all(torch.equal(state[k], _seeded_state(design_file, 0)[k]) for k in expected)


def test_pt_and_pt2_say_untrained(design_file, tmp_path):
    assert main(["export", str(design_file), "-f", "pt", "-o", str(tmp_path / "m.pt")]) == 0
    assert "untrained" in (tmp_path / "m.weights.txt").read_text()
    assert main(["export", str(design_file), "-f", "pt2", "-o", str(tmp_path / "m.pt2")]) == 0
    extra = {"weights.txt": ""}
    torch.export.load(str(tmp_path / "m.pt2"), extra_files=extra)
    assert extra["weights.txt"] == "freshly initialised from seed 0 — untrained"


def test_onnx_metadata_says_untrained(design_file, tmp_path):
    onnx = pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    assert main(["export", str(design_file), "-f", "onnx", "-o", str(tmp_path / "m.onnx")]) == 0
    props = {p.key: p.value for p in onnx.load(str(tmp_path / "m.onnx")).metadata_props}
    assert props["weights"] == "freshly initialised from seed 0 — untrained"


def test_trained_weights_say_nothing_about_seeds(design_file, tmp_path, capsys):
    assert main(["export", str(design_file), "-o", str(tmp_path / "b")]) == 0
    capsys.readouterr()
    assert main(["export", str(tmp_path / "b"), "-f", "python", "-o", str(tmp_path / "m.py")]) == 0
    assert "untrained" not in capsys.readouterr().out
    assert not (tmp_path / "m.py").read_text().startswith("# weights")


def test_a_damaged_design_file_exits_2(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"nodes": 3}))
    assert main(["export", str(bad), "-f", "python", "-o", str(tmp_path / "m.py")]) == 2
    assert capsys.readouterr().err.startswith("cannot export:")


def test_fresh_weights_leave_the_global_random_state_alone(design_file):
    from engine.export import fresh_weights
    from engine.persistence import load
    before = torch.random.get_rng_state()
    fresh_weights(load(design_file), 3)
    assert torch.equal(torch.random.get_rng_state(), before)
