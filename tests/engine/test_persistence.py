"""The design file: identical round trips, atomic saves, and one clear DesignFileError naming
the location for every defect of an untrusted file."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from engine import Design, DesignFileError, analyze, persistence
from engine.persistence import dumps, load, loads, save
from engine.user_blocks import define_from_selection

ROOT = Path(__file__).resolve().parents[2]


def rich_design() -> Design:
    """Labels, frozen nodes, positions, list-valued params, a multi-input block, a user block."""
    d = Design("rich ✓", num_classes=10, notes="line one\nline two")
    inp = d.add_node("input", {"shape": [3, 16, 16]}, pos=(-10.5, 3.25)).id
    stem = d.chain(("conv2d", {"out_channels": 8, "kernel": [3, 5], "padding": [1, 2], "bias": False}),
                   "batchnorm2d", "relu", after=inp)
    d.set_label(stem[0], "stem conv")
    d.set_frozen(stem[1], True)
    branch = d.chain(("conv2d", {"out_channels": 8, "padding": "same"}), after=stem[-1])
    add = d.add_node("add").id
    d.connect(branch[0], add)
    d.connect(stem[-1], add)
    d.add_composite(define_from_selection(d, stem, "user:stem", "Stem"))
    user = d.add_node("user:stem").id
    d.connect(inp, user)
    cat = d.add_node("concat").id
    d.connect(add, cat)
    d.connect(user, cat)
    d.chain(("maxpool2d", {"kernel": 2, "stride": None, "ceil_mode": True}), "global_avgpool",
            ("linear", {"out_features": 10}), ("output", {"softmax": True}), after=cat)
    return d


def test_round_trip_is_identical(tmp_path):
    d = rich_design()
    text = dumps(d)
    assert json.loads(text)["version"] == persistence.VERSION
    again = loads(text)
    assert dumps(again) == text
    save(d, tmp_path / "a.json")
    assert (tmp_path / "a.json").read_text(encoding="utf-8") == text
    loaded = load(tmp_path / "a.json")
    assert dumps(loaded) == text
    assert list(loaded.nodes) == list(d.nodes) and loaded.edges == d.edges
    r1, r2 = analyze(d), analyze(loaded)
    assert r1.valid and r2.valid
    assert {k: (n.shape, n.params, n.macs) for k, n in r1.nodes.items()} == \
           {k: (n.shape, n.params, n.macs) for k, n in r2.nodes.items()}
    assert r2.frozen_params == r1.frozen_params > 0
    # Editing the loaded design hands out ids that do not collide with the file's.
    assert loaded.add_node("relu").id not in d.nodes


def test_file_is_diff_friendly():
    text = dumps(rich_design())
    assert text.endswith("\n") and "\n  " in text and "✓" in text  # indented, UTF-8 kept readable


def test_save_is_atomic_when_interrupted(tmp_path, monkeypatch):
    path = tmp_path / "design.json"
    save(rich_design(), path)
    before = path.read_bytes()
    other = Design("other")

    def crash(*args):
        raise OSError("disk unplugged")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError):
        save(other, path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["design.json"]  # the temporary file is cleaned up


def test_save_survives_a_hard_crash_mid_write(tmp_path):
    """A process killed while writing (no cleanup runs) leaves the previous file intact."""
    path = tmp_path / "design.json"
    save(rich_design(), path)
    before = path.read_bytes()
    script = f"""
import os, sys
sys.path.insert(0, {str(ROOT)!r})
from engine import persistence, Design
real_fsync = os.fsync
def die(fd):
    os._exit(9)   # power cut after the data was written but before the rename
os.fsync = die
d = Design("half written")
d.chain(("input", {{"shape": [4]}}), "output")
persistence.save(d, {str(path)!r})
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=60)
    assert result.returncode == 9, result.stderr
    assert path.read_bytes() == before
    assert dumps(load(path)) == before.decode()


def error_of(text: str) -> DesignFileError:
    with pytest.raises(DesignFileError) as info:
        loads(text)
    return info.value


def valid_dict() -> dict:
    d = Design("v", num_classes=10)
    d.chain(("input", {"shape": [1, 28, 28]}), ("conv2d", {"out_channels": 4}), "relu", "flatten",
            ("linear", {"out_features": 10}), "output")
    return json.loads(dumps(d))


def mutated(edit) -> str:
    data = valid_dict()
    edit(data)
    return json.dumps(data)


DEFECTS = [
    ("bad json", lambda: '{"format": "network-designer", "version": 1,\n "nodes": [,]}', "line 2, column 12"),
    ("not an object", lambda: "[1, 2]", "file"),
    ("wrong format", lambda: mutated(lambda d: d.update(format="keras")), "format"),
    ("newer version", lambda: mutated(lambda d: d.update(version=99)), "version"),
    ("version is text", lambda: mutated(lambda d: d.update(version="1")), "version"),
    ("nodes not a list", lambda: mutated(lambda d: d.update(nodes={"a": 1})), "nodes"),
    ("node not an object", lambda: mutated(lambda d: d["nodes"].__setitem__(2, "relu")), "nodes[2]"),
    ("id is a number", lambda: mutated(lambda d: d["nodes"][1].update(id=7)), "nodes[1].id"),
    ("params is a list", lambda: mutated(lambda d: d["nodes"][1].update(params=[4])), "nodes[1].params"),
    ("param wrong type", lambda: mutated(lambda d: d["nodes"][1]["params"].update(kernel="3")),
     "nodes[1].params.kernel"),
    ("unknown param", lambda: mutated(lambda d: d["nodes"][1]["params"].update(colour=1)),
     "nodes[1].params.colour"),
    ("pos wrong", lambda: mutated(lambda d: d["nodes"][0].update(pos=[1])), "nodes[0].pos"),
    ("frozen wrong", lambda: mutated(lambda d: d["nodes"][1].update(frozen="yes")), "nodes[1].frozen"),
    ("classes wrong", lambda: mutated(lambda d: d["design"].update(num_classes="ten")), "design.num_classes"),
    ("unknown block", lambda: mutated(lambda d: d["nodes"][2].update(block="relu9")), "nodes[2]"),
    ("huge block name", lambda: mutated(lambda d: d["nodes"][2].update(block="x" * 10 ** 6)), "nodes[2].block"),
    ("dangling edge", lambda: mutated(lambda d: d["edges"][1].update(to="ghost")), "edges[1].to"),
    ("edge not text", lambda: mutated(lambda d: d["edges"][0].update({"from": None})), "edges[0].from"),
    ("cycle", lambda: mutated(lambda d: d["edges"].append({"from": d["nodes"][2]["id"], "to": d["nodes"][1]["id"]})),
     "edges[5]"),
    ("duplicate id", lambda: mutated(lambda d: d["nodes"][3].update(id=d["nodes"][1]["id"])), "nodes[3].id"),
    ("1e9 channels", lambda: mutated(lambda d: d["nodes"][1]["params"].update(out_channels=10 ** 9)),
     "nodes[1].params.out_channels"),
    ("1e9 input", lambda: mutated(lambda d: d["nodes"][0]["params"].update(shape=[1, 10 ** 9, 10 ** 9])),
     "nodes[0].params.shape"),
    ("10**400", lambda: mutated(lambda d: d["nodes"][1]["params"].update(out_channels=10 ** 400)),
     "nodes[1].params.out_channels"),
    ("5000 digits", lambda: json.dumps(valid_dict()).replace('"out_channels": 4', '"out_channels": 1' + "0" * 5000),
     ""),
    ("NaN", lambda: json.dumps(valid_dict()).replace('"out_channels": 4', '"out_channels": NaN'),
     "nodes[1].params.out_channels"),
    ("deep nesting", lambda: "[" * 200_000 + "]" * 200_000, ""),
    ("lone surrogate", lambda: mutated(lambda d: d["nodes"][1].update(label="\ud800")), "nodes[1].label"),
]


@pytest.mark.parametrize("name,make,location", DEFECTS, ids=[d[0] for d in DEFECTS])
def test_each_defect_is_one_clear_error(name, make, location):
    error = error_of(make())
    assert error.location == location, str(error)
    assert str(error).strip() and len(str(error)) < 1000


def test_50_megabytes_of_junk(tmp_path):
    junk = tmp_path / "junk.json"
    junk.write_bytes(os.urandom(1 << 20) * 50)
    with pytest.raises(DesignFileError, match="MB"):
        load(junk)
    with pytest.raises(DesignFileError, match="too large"):
        loads("x" * (50 << 20))


def test_unreadable_files(tmp_path):
    with pytest.raises(DesignFileError, match="cannot open"):
        load(tmp_path / "missing.json")
    binary = tmp_path / "b.json"
    binary.write_bytes(b"\xff\xfe\x00junk")
    with pytest.raises(DesignFileError, match="UTF-8"):
        load(binary)
    with pytest.raises(DesignFileError):
        load(tmp_path)  # a folder


def test_exploding_nested_user_blocks_are_refused():
    """Each user block holds two of the previous one: 2**40 layers if analysed."""
    data = valid_dict()
    comps = []
    prev = "relu"
    for level in range(40):
        key = f"user:b{level}"
        comps.append({"key": key, "title": key, "nodes": [
            {"id": "i", "block": "input", "params": {"shape": [4]}},
            {"id": "a", "block": prev}, {"id": "b", "block": prev}, {"id": "o", "block": "output"}],
            "edges": [{"from": "i", "to": "a"}, {"from": "a", "to": "b"}, {"from": "b", "to": "o"}]})
        prev = key
    data["composites"] = comps
    error = error_of(json.dumps(data))
    assert "expands to" in str(error) and error.location.startswith("composites[")


def test_user_block_keys_are_checked():
    data = valid_dict()
    data["composites"] = [{"key": "conv2d", "title": "t", "nodes": [], "edges": []}]
    assert error_of(json.dumps(data)).location == "composites[0].key"


def test_older_fields_default_sensibly():
    """Optional fields may be left out by hand-written files."""
    text = json.dumps({"format": "network-designer", "version": 1,
                       "nodes": [{"id": "in", "block": "input"}, {"id": "out", "block": "output"}],
                       "edges": [{"from": "in", "to": "out"}]})
    d = loads(text)
    assert d.name == "Untitled" and d.nodes["in"].params["shape"] == [1, 28, 28]


def test_loading_checks_for_cycles_once_in_one_pass(monkeypatch):
    """No search per edge (that cost 1.1-1.6 s at 2,000 nodes): edges are connected unchecked
    and the topological order (Kahn) finds a cycle once, naming it."""
    d = Design("long")
    ids = d.chain(("input", {"shape": [3, 8, 8]}), *["relu"] * 1998, "output")
    text = dumps(d)
    searches = []
    monkeypatch.setattr(Design, "_reaches", lambda self, a, b: searches.append((a, b)) or False)
    loaded = loads(text)
    assert len(loaded.nodes) == 2000 and len(loaded.edges) == 1999 and not searches
    data = json.loads(text)
    data["nodes"][1]["block"] = "add"  # takes several inputs: a second edge into it is allowed
    data["edges"].append({"from": ids[5], "to": ids[1]})
    with pytest.raises(DesignFileError, match=r"cycle \(.*relu_2.*\); a network must flow one way"):
        loads(json.dumps(data))
