"""Weights files are read without running code from them, and every defect is explained."""
from __future__ import annotations

import os
import pickle
import sys

import pytest
import torch

from engine import Design
from engine.cli import main
from engine.compile import compile_design
from engine.export import WeightsFileError, export, load_bundle, read_pt, read_safetensors, save_safetensors
from engine.persistence import save


def tiny():
    d = Design("tiny", num_classes=3)
    d.chain(("input", {"shape": [1, 8, 8]}), ("conv2d", {"out_channels": 4, "padding": 1}), "relu",
            "flatten", ("linear", {"out_features": 3}), "output")
    return d


class Hostile:
    """Unpickling this calls os.system: what a malicious checkpoint does."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def test_hostile_pt_is_refused_and_never_runs(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pt"
    torch.save({"model": {"w": torch.zeros(1)}, "payload": Hostile(marker)}, path)
    with pytest.raises(WeightsFileError, match="arbitrary unpickling"):
        read_pt(path)
    assert not marker.exists()
    # The same through the CLI: exit code 2, an explanation, and still nothing ran.
    save(tiny(), tmp_path / "design.json")
    assert main(["export", str(path), "--design", str(tmp_path / "design.json"), "-f", "pt",
                 "-o", str(tmp_path / "out.pt")]) == 2
    assert not marker.exists()


def test_plain_pickle_with_a_global_is_refused(tmp_path):
    path = tmp_path / "raw.pt"
    marker = tmp_path / "ran"
    path.write_bytes(pickle.dumps(Hostile(marker), protocol=2))  # protocol 2: what torch.load expects
    with pytest.raises(WeightsFileError, match="refused"):
        read_pt(path)
    assert not marker.exists()


def test_truncated_safetensors_gives_a_clear_error(tmp_path):
    design = tiny()
    path = save_safetensors(compile_design(design).state_dict(), tmp_path / "w.safetensors", design)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 50])
    with pytest.raises(WeightsFileError, match="truncated"):
        read_safetensors(path)
    path.write_bytes(data[:5])
    with pytest.raises(WeightsFileError, match="too short"):
        read_safetensors(path)
    path.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00not json at all!")
    with pytest.raises(WeightsFileError, match="not a safetensors file"):
        read_safetensors(path)


def test_garbage_pt_is_a_clear_error(tmp_path):
    path = tmp_path / "junk.pt"
    path.write_bytes(b"\x00garbage" * 10)
    with pytest.raises(WeightsFileError, match="not a readable PyTorch weights file"):
        read_pt(path)


def test_weights_of_another_design_are_refused(tmp_path):
    design = tiny()
    other = tiny()
    other.set_param(next(n for n in other.nodes if n.startswith("conv")), "out_channels", 5)
    save_safetensors(compile_design(other).state_dict(), tmp_path / "w.safetensors")
    save(design, tmp_path / "design.json")
    with pytest.raises(WeightsFileError, match="do not fit the design.*shape differs"):
        load_bundle(tmp_path / "w.safetensors")


def test_checkpoint_dict_and_run_folder(tmp_path):
    """A run folder with only checkpoints/last.pt (trainer layout) opens as a bundle."""
    design = tiny()
    model = compile_design(design)
    (tmp_path / "checkpoints").mkdir()
    torch.save({"model": model.state_dict(), "epoch": 3}, tmp_path / "checkpoints" / "last.pt")
    save(design, tmp_path / "design.json")
    loaded, state = load_bundle(tmp_path)
    assert set(state) == set(model.state_dict())


def test_export_cli_reports_the_difference(tmp_path, capsys):
    design = tiny()
    result = export(design, compile_design(design), "bundle", tmp_path / "run")
    assert result.verified
    assert main(["export", str(tmp_path / "run"), "-f", "pt", "-o", str(tmp_path / "m.pt")]) == 0
    out = capsys.readouterr().out
    assert "verified: max |difference|" in out
    assert main(["export", str(tmp_path / "nothing"), "-f", "pt", "-o", str(tmp_path / "m.pt")]) == 2


def test_missing_onnx_packages_say_how_to_install(tmp_path, monkeypatch, capsys):
    design = tiny()
    export(design, compile_design(design), "bundle", tmp_path / "run")
    monkeypatch.setitem(sys.modules, "onnxscript", None)  # as if it were not installed
    assert main(["export", str(tmp_path / "run"), "-f", "onnx", "-o", str(tmp_path / "m.onnx")]) == 2
    err = capsys.readouterr().err
    assert "pip install" in err and "onnxscript" in err
    assert not (tmp_path / "m.onnx").exists()


def test_progress_reaches_one_in_order(tmp_path):
    design = tiny()
    seen = []
    result = export(design, compile_design(design).state_dict(), "python", tmp_path / "m.py",
                    progress=lambda fraction, message: seen.append((fraction, message)))
    fractions = [f for f, _ in seen]
    assert fractions == sorted(fractions) and fractions[0] == 0.0 and fractions[-1] == 1.0
    assert all(isinstance(m, str) and m for _, m in seen)
    assert result.verified and result.path == tmp_path / "m.py"


def test_cli_offers_every_format():
    from engine.commands import export as command
    from engine.export import FORMATS
    assert command.FORMATS == FORMATS


def test_cli_exit_code_1_when_the_reload_differs(tmp_path, monkeypatch, capsys):
    from engine.export import formats
    design = tiny()
    export(design, compile_design(design), "bundle", tmp_path / "run")
    monkeypatch.setattr(formats, "_compare",  # a writer that lost precision
                        lambda a, b, atol, rtol: formats.Comparison(0.5, 0.01, False))
    assert main(["export", str(tmp_path / "run"), "-f", "pt", "-o", str(tmp_path / "m.pt")]) == 1
    assert "MISMATCH" in capsys.readouterr().out
