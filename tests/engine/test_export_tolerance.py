"""Export verification that cannot cry wolf (issue 16 item 5): outputs are compared elementwise
with max(atol, rtol·|in-app output|), as torch.testing.assert_close does per dtype, and both the
largest absolute and the largest relative difference are reported. Outputs in the hundreds pass
with float32 rounding; weights that differ from the in-app model still fail."""
from __future__ import annotations

import pytest
import torch

from engine import Design
from engine.cli import main
from engine.compile import compile_design
from engine.export import export, formats

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def big_outputs():
    """A design whose outputs are about ±300, with weights to match."""
    d = Design("big outputs", num_classes=4)
    d.chain(("input", {"shape": [2, 6, 6]}), ("conv2d", {"out_channels": 8, "padding": 1}), "relu",
            "flatten", ("linear", {"out_features": 4}), "output")
    torch.manual_seed(0)
    model = compile_design(d)
    linear = next(m for m in model.modules() if isinstance(m, torch.nn.Linear))
    with torch.no_grad():
        linear.weight.mul_(1000.0)
        linear.bias.fill_(300.0)
    return d, model


def test_compare_is_relative_for_large_values():
    reference = torch.full((2, 4), 300.0)
    close = reference + 3e-4  # relative 1e-6: float32 rounding of sums in the hundreds
    found = formats._compare(reference, close, *formats.DEFAULT_TOLERANCE)
    assert found.ok and found.max_abs == pytest.approx(3e-4, rel=0.05) and found.max_rel == pytest.approx(1e-6, rel=0.05)
    assert not formats._compare(reference, reference * 1.001, *formats.DEFAULT_TOLERANCE).ok


def test_compare_is_absolute_near_zero():
    reference = torch.tensor([0.0, 1e-7, -2.0])
    assert formats._compare(reference, reference + 5e-6, *formats.DEFAULT_TOLERANCE).ok
    assert not formats._compare(reference, reference + 5e-5, *formats.DEFAULT_TOLERANCE).ok


def test_compare_fails_on_shape_nan_and_infinity():
    ok = formats.DEFAULT_TOLERANCE
    assert not formats._compare(torch.zeros(2, 3), torch.zeros(3, 2), *ok).ok
    assert not formats._compare(torch.zeros(2), torch.tensor([0.0, float("nan")]), *ok).ok
    assert not formats._compare(torch.tensor([float("inf")]), torch.tensor([1e30]), *ok).ok
    assert formats._compare(torch.tensor([float("inf"), 1.0]), torch.tensor([float("inf"), 1.0]), *ok).ok
    assert not formats._compare((torch.zeros(1),), (torch.zeros(1), torch.zeros(1)), *ok).ok


@pytest.mark.parametrize("fmt", ["python", "pt2", "onnx"])
def test_outputs_in_the_hundreds_pass(fmt, tmp_path):
    if fmt == "onnx":
        for name in ("onnx", "onnxruntime", "onnxscript"):
            pytest.importorskip(name)
    design, model = big_outputs()
    with torch.no_grad():
        assert model.eval()(torch.randn(2, 2, 6, 6)).abs().mean() > 100
    suffix = {"python": ".py", "pt2": ".pt2", "onnx": ".onnx"}[fmt]
    result = export(design, model, fmt, tmp_path / f"m{suffix}")
    assert result.verified, result.summary()
    assert 0 < result.rtol and 0 < result.tolerance


def test_perturbed_weights_still_fail(tmp_path, monkeypatch, capsys):
    design, model = big_outputs()
    real_state = formats._state

    def perturbed(m):  # a writer that saves slightly wrong weights
        state = dict(real_state(m))
        key = next(k for k in state if k.endswith("weight") and state[k].dim() == 2)
        state[key] = state[key] * 1.001
        return state
    monkeypatch.setattr(formats, "_state", perturbed)
    result = export(design, model, "python", tmp_path / "m.py")
    assert not result.verified
    assert result.max_rel_diff > 1e-4 and result.max_abs_diff > 1e-3
    summary = result.summary()
    assert summary.count("MISMATCH") == 1 and "max relative difference" in summary and "max |difference|" in summary


def test_cli_prints_absolute_and_relative_difference(tmp_path, capsys):
    design, model = big_outputs()
    export(design, model, "bundle", tmp_path / "run")
    capsys.readouterr()
    assert main(["export", str(tmp_path / "run"), "-f", "pt", "-o", str(tmp_path / "m.pt")]) == 0
    out = capsys.readouterr().out
    assert "verified: max |difference|" in out and "max relative difference" in out and "rtol" in out
