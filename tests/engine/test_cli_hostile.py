"""Every command of the CLI, fed each hostile input, exits 2 with one line and no traceback.

The inputs are what an attacker or an accident hands the program: missing paths, folders,
empty and binary files, JSON nested 100,000 deep, designs with self-referencing user blocks,
pickles that run code, safetensors headers that lie. Each goes into every slot of every
command that reads a file (the design, --config, --init-weights, --resume, --dataset,
--design, --data, the export/import source, the output path).
"""
from __future__ import annotations

import json
import os
import struct
from pathlib import Path

import pytest
import torch

from engine import Design
from engine.cli import main
from engine.compile import compile_design
from engine.export import save_safetensors
from engine.persistence import save

pytestmark = pytest.mark.usefixtures("one_torch_thread")


class Hostile:
    """Unpickling this would create the marker file."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def tiny() -> Design:
    d = Design("tiny", num_classes=3)
    d.chain(("input", {"shape": [1, 8, 8]}), ("conv2d", {"out_channels": 2, "padding": 1}), "relu",
            "flatten", ("linear", {"out_features": 3}), "output")
    return d


def safetensors_with_header(header) -> bytes:
    raw = header if isinstance(header, bytes) else json.dumps(header).encode()
    return struct.pack("<Q", len(raw)) + raw + b"\0" * 64


def self_referencing_design() -> str:
    block = {"key": "user:a", "title": "a", "nodes": [
        {"id": "i", "block": "input", "params": {"shape": [4]}}, {"id": "x", "block": "user:a"},
        {"id": "o", "block": "output"}], "edges": [{"from": "i", "to": "x"}, {"from": "x", "to": "o"}]}
    plain = dict(block, nodes=[block["nodes"][0], {"id": "x", "block": "relu"}, block["nodes"][2]])
    return json.dumps({"format": "network-designer", "version": 1,
                       "nodes": [{"id": "in", "block": "input", "params": {"shape": [4]}},
                                 {"id": "b", "block": "user:a"}, {"id": "out", "block": "output"}],
                       "edges": [{"from": "in", "to": "b"}, {"from": "b", "to": "out"}],
                       "composites": [plain, block]})


def make_hostile(folder, marker) -> dict:
    """name -> path of one hostile input."""
    folder.mkdir()
    files = {
        "empty": b"",
        "binary": bytes(range(256)) * 8,
        "nul-text": b'{"format": "network-designer"\0}',
        "utf16": '{"format": "network-designer"}'.encode("utf-16"),
        "deep-json": b"[" * 100_000 + b"]" * 100_000,
        "json-list": b"[1, 2, 3]",
        "text.pt": b"hello world, not a pickle\n",
        "huge-int": b'{"format": "network-designer", "version": ' + b"9" * 5000 + b"}",
        "lone-surrogate": b'{"format": "network-designer", "version": 1, "design": {"name": "\\ud800"}}',
        "self-referencing-blocks.json": self_referencing_design().encode(),
        "offsets-empty.safetensors": safetensors_with_header({"w": {"dtype": "F32", "shape": [2], "data_offsets": []}}),
        "offsets-null.safetensors": safetensors_with_header({"w": {"dtype": "F32", "shape": [2], "data_offsets": None}}),
        "offsets-text.safetensors": safetensors_with_header({"w": {"dtype": "F32", "shape": [2],
                                                                   "data_offsets": ["a", "b"]}}),
        "nested.safetensors": safetensors_with_header(b"[" * 100_000),
        "long-header.safetensors": struct.pack("<Q", 2 ** 62) + b"{}",
    }
    paths = {}
    for name, data in files.items():
        paths[name] = folder / name
        paths[name].write_bytes(data)
    evil = folder / "evil.pt"
    torch.save({"model": {"w": torch.zeros(1)}, "payload": Hostile(marker)}, evil)
    paths["evil.pt"] = evil
    paths["missing"] = folder / "does-not-exist.json"
    paths["folder"] = folder / "a-folder"
    paths["folder"].mkdir()
    return paths


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    marker = root / "MARK"
    design = tiny()
    save(design, root / "design.json")
    bundle = root / "bundle"
    bundle.mkdir()
    save(design, bundle / "design.json")
    save_safetensors(compile_design(design).state_dict(), bundle / "weights.safetensors", design)
    return {"root": root, "marker": marker, "design": root / "design.json", "bundle": bundle,
            "hostile": make_hostile(root / "hostile", marker)}


def commands(w, h, out):
    """Every command line with the hostile path ``h`` in one slot."""
    design, bundle = str(w["design"]), Path(w["bundle"])
    train = ["train", design, "--dataset", "digits", "--epochs", "1", "--batch-size", "8", "--quiet",
             "--out", str(out / "run")]
    return {
        "validate": ["validate", h],
        "validate --json": ["validate", h, "--json"],
        "train DESIGN": ["train", h, "--dataset", "digits", "--epochs", "1", "--out", str(out / "run")],
        "train --config": train + ["--config", h],
        "train --init-weights": train + ["--init-weights", h],
        "train --resume": train + ["--resume", h],
        "train --dataset": ["train", design, "--dataset", h, "--epochs", "1", "--out", str(out / "run")],
        "export SOURCE": ["export", h, "-f", "pt", "-o", str(out / "x.pt")],
        "export --design": ["export", str(bundle / "weights.safetensors"), "--design", h, "-f", "pt",
                            "-o", str(out / "y.pt")],
        "export --data": ["export", str(bundle), "--data", h, "-f", "script", "-o", str(out / "script")],
        "import SOURCE": ["import", h, "--out", str(out / "imported.json")],
        "template --out": ["template", "lenet5", "--out", os.path.join(h, "sub", "x.json")],
    }


HOSTILE_NAMES = ["empty", "binary", "text.pt", "nul-text", "utf16", "deep-json", "json-list", "huge-int", "lone-surrogate",
                 "self-referencing-blocks.json", "offsets-empty.safetensors", "offsets-null.safetensors",
                 "offsets-text.safetensors", "nested.safetensors", "long-header.safetensors", "evil.pt",
                 "missing", "folder"]
SLOTS = list(commands({"design": "d", "bundle": "b"}, "h", Path("o")))


@pytest.mark.parametrize("slot", SLOTS)
@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_hostile_input_exits_2_with_one_line(world, slot, name, tmp_path, capsys):
    hostile = world["hostile"][name]
    argv = commands(world, str(hostile), tmp_path)[slot]
    code = main(argv)  # an exception here is the traceback a user would see
    err = capsys.readouterr().err.strip()
    assert code == 2, f"{slot} with {name}: exit {code}; stderr: {err[:500]}"
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, f"{slot} with {name}: {len(lines)} lines on stderr: {err[:800]}"
    assert "Traceback" not in err and len(lines[0]) < 1000
    assert not world["marker"].exists(), "a hostile pickle ran"


@pytest.mark.parametrize("data", [
    {"source": "digits"},
    {"name": ["a"], "source": {}},
    {"source": {"name": "shapes", "options": {"n": 10 ** 12}}},
    {"source": {"name": "shapes", "options": {"bogus": 1}}},
    {"source": {"name": "shapes", "options": "n=5"}},
    {"source": {"name": "digits"}, "mean": "zero"},
    {"source": {"name": "nothing-we-know"}},
])
def test_damaged_data_json_exits_2_with_one_line(world, data, tmp_path, capsys):
    path = tmp_path / "data.json"
    path.write_text(json.dumps(data))
    code = main(["export", str(world["bundle"]), "--data", str(path), "-f", "script", "-o", str(tmp_path / "s")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and "Traceback" not in err, err
