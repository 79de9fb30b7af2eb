"""`main.py validate DESIGN.json [--json]`: exit codes 0/1/2, the JSON keys, the readable table."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from engine import Design
from engine.cli import main
from engine.persistence import save

ROOT = Path(__file__).resolve().parents[2]
NODE_KEYS = {"id", "block", "output_shape", "params", "macs", "diagnostics"}


def lenet(path: Path, broken: bool = False) -> Path:
    d = Design("LeNet-5", num_classes=10)
    d.chain(("input", {"shape": [1, 32, 32]}), ("conv2d", {"out_channels": 6, "kernel": 5}), "tanh",
            ("avgpool2d", {"kernel": 2}), ("conv2d", {"out_channels": 16, "kernel": 5}), "tanh",
            ("avgpool2d", {"kernel": 2}), "flatten",
            ("linear", {"out_features": 120, "in_features": 999 if broken else 400}), "tanh",
            ("linear", {"out_features": 84}), "tanh", ("linear", {"out_features": 10}), "output")
    save(d, path)
    return path


def run(capsys, *args):
    code = main(["validate", *map(str, args)])
    out, err = capsys.readouterr()
    return code, out, err


def test_valid_design_json(tmp_path, capsys):
    code, out, _ = run(capsys, lenet(tmp_path / "lenet.json"), "--json")
    assert code == 0
    data = json.loads(out)
    assert data["valid"] is True
    assert data["total_params"] == data["trainable_params"] == 61706  # the LeNet-5 oracle
    assert data["macs"] == 28 * 28 * 6 * 25 + 10 * 10 * 16 * 150 + 400 * 120 + 120 * 84 + 84 * 10
    assert data["diagnostics"] == []
    assert len(data["nodes"]) == 14
    for node in data["nodes"]:
        assert NODE_KEYS <= set(node)
    conv1 = data["nodes"][1]
    assert conv1["block"] == "conv2d" and conv1["output_shape"] == [6, 28, 28] and conv1["params"] == 156
    assert data["nodes"][-1]["output_shape"] == [10]


def test_design_with_errors(tmp_path, capsys):
    code, out, _ = run(capsys, lenet(tmp_path / "bad.json", broken=True), "--json")
    assert code == 1
    data = json.loads(out)
    assert data["valid"] is False
    (error,) = [d for d in data["diagnostics"] if d["severity"] == "error"]
    assert "999" in error["message"] and "400" in error["message"] and error["fix"]
    fc = next(n for n in data["nodes"] if n["id"] == error["node"])
    assert fc["diagnostics"] == [error] and fc["output_shape"] is None


@pytest.mark.parametrize("content", [None, "{not json", '{"format": "x"}'])
def test_unreadable_file(tmp_path, capsys, content):
    path = tmp_path / "d.json"
    if content is not None:
        path.write_text(content)
    code, out, err = run(capsys, path)
    assert code == 2 and "Cannot read" in err and out == ""
    code, out, _ = run(capsys, path, "--json")
    data = json.loads(out)
    assert code == 2 and data["valid"] is False and data["error"]
    if content == "{not json":
        assert data["location"].startswith("line 1")


def test_readable_table(tmp_path, capsys):
    code, out, _ = run(capsys, lenet(tmp_path / "lenet.json"))
    assert code == 0
    lines = out.splitlines()
    header = next(line for line in lines if line.startswith("Layer"))
    for column in ("Block", "Output shape", "Params", "MACs"):
        assert column in header
    conv = next(line for line in lines if line.startswith("conv2d_2"))
    assert "Conv2d" in conv and "6×28×28" in conv and "156" in conv and "117,600" in conv
    assert "Total parameters:     61,706" in out and out.rstrip().endswith("valid")
    code, out, _ = run(capsys, lenet(tmp_path / "bad.json", broken=True))
    assert code == 1 and "error: [linear_9] Linear expects 999 inputs but receives 400" in out
    assert "1 error(s)" in out and " ?" in out  # unknown shapes shown as ?


def test_main_py_entry_point(tmp_path):
    """The real command line, as a user types it."""
    path = lenet(tmp_path / "lenet.json", broken=True)
    result = subprocess.run([sys.executable, "main.py", "validate", str(path), "--json"], cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 1, result.stderr
    assert json.loads(result.stdout)["valid"] is False
