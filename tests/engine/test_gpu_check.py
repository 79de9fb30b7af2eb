"""`make gpu-check` on a machine without a GPU: it says so, runs the CPU smoke test and exits 0
(the checks that need a GPU are listed as skipped, never as passed)."""
from __future__ import annotations

import pytest
import torch

from engine.training import gpu_check

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture
def no_gpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 0)
    if getattr(torch.backends, "mps", None) is not None:
        def not_available():
            return False
        # torch._dynamo (imported by ONNX export) reads the original through ``__wrapped__``
        not_available.__wrapped__ = getattr(torch.backends.mps.is_available, "__wrapped__", not_available)
        monkeypatch.setattr(torch.backends.mps, "is_available", not_available)


def test_without_a_gpu_it_says_so_runs_the_cpu_smoke_test_and_exits_0(no_gpu, monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(gpu_check, "EXPORTS", gpu_check.EXPORTS[:1])  # ONNX export is slow; bundle only here
    code = gpu_check.main(["--epochs", "1", "--keep", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "no GPU on this machine" in out and "CUDA: not available" in out
    lines = {line.split(":")[0].strip(): line for line in out.splitlines() if line.startswith("  ")}
    assert lines["ok    training"].split(": ", 1)[1].startswith("1 epoch on cpu")
    assert lines["ok    stop and resume"] and lines["ok    export"]
    for needs_gpu in ("mixed precision (AMP)", "channels_last", "DDP, 2 processes"):
        assert f"skip  {needs_gpu}" in lines, out
    assert "0 failed" in out.splitlines()[-1]
    assert (tmp_path / "resume" / "metrics.jsonl").read_text().count("\n") == 2
    # the export check reports as the CLI does: both differences and the tolerances used (issue 16)
    export_line = next(line for line in out.splitlines() if "export: safetensors bundle" in line)
    for part in ("max |difference|", "max relative difference", "atol 1e-05", "rtol 1.3e-06"):
        assert part in export_line, export_line
    # and the export carries the run's normalisation (issue 16 item 3)
    import json

    from engine.export import read_safetensors
    data = json.loads((tmp_path / "run" / "data.json").read_text())
    meta = json.loads(read_safetensors(tmp_path / "export-bundle" / "weights.safetensors")[1]["preprocessing"])
    assert meta["mean"] == data["mean"] and meta["classes"] == data["classes"]


def test_a_failed_check_makes_it_exit_1(no_gpu, monkeypatch, tmp_path, capsys):
    def broken(*args, **kwargs):
        raise RuntimeError("the export broke")
    monkeypatch.setattr(gpu_check, "check_export", broken)
    monkeypatch.setattr(gpu_check, "check_resume", lambda *a, **k: None)
    assert gpu_check.main(["--epochs", "1", "--keep", str(tmp_path)]) == 1
    assert "FAIL  export: RuntimeError: the export broke" in capsys.readouterr().out


def test_the_device_is_the_first_gpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda i=0: "Fake GPU")
    device, kind, seen = gpu_check.pick_device("auto")
    assert (device, kind) == ("cuda", "cuda") and "2 GPU(s) (Fake GPU)" in seen
    assert gpu_check.pick_device("cpu")[:2] == ("cpu", "cpu")
