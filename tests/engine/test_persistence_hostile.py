"""Design files that try to break loading, and saves that are killed.

User blocks with the same key twice, blocks that contain themselves, big files that used to
take quadratic time; file modes and the temporary files a killed save leaves.
"""
from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from engine import Design, DesignFileError, analyze
from engine.cli import main
from engine.graph import MAX_TEXT
from engine.persistence import atomic_write_text, dumps, load, loads, save

ROOT = Path(__file__).resolve().parents[2]


def block(key: str, inside: str = "relu") -> dict:
    return {"key": key, "title": key, "nodes": [
        {"id": "i", "block": "input", "params": {"shape": [4]}}, {"id": "a", "block": inside},
        {"id": "o", "block": "output"}],
        "edges": [{"from": "i", "to": "a"}, {"from": "a", "to": "o"}]}


def design_file(composites: list, top_block: str = "relu") -> str:
    return json.dumps({"format": "network-designer", "version": 1, "design": {"name": "d"},
                       "nodes": [{"id": "in", "block": "input", "params": {"shape": [4]}},
                                 {"id": "b", "block": top_block}, {"id": "out", "block": "output"}],
                       "edges": [{"from": "in", "to": "b"}, {"from": "b", "to": "out"}],
                       "composites": composites})


def error_of(text: str) -> DesignFileError:
    with pytest.raises(DesignFileError) as info:
        loads(text)
    return info.value


@pytest.mark.parametrize("top", ["relu", "user:a"])
def test_duplicate_user_block_keys_name_both_entries(top):
    # The second "user:a" refers to itself: it used to recurse until RecursionError, or,
    # unused at the top, to load and then save a file that could not be opened again.
    error = error_of(design_file([block("user:a"), block("user:b"), block("user:a", inside="user:a")], top))
    assert "composites[0] and composites[2]" in str(error) and "'user:a'" in str(error)
    assert error.location == "composites[2].key"


def test_a_block_containing_itself_is_named():
    error = error_of(design_file([block("user:a", inside="user:a")], "user:a"))
    assert "contains itself" in str(error) and error.location == "composites[0].nodes"


def test_blocks_containing_each_other_in_a_circle_are_named():
    comps = [block("user:a", inside="user:b"), block("user:b", inside="user:c"), block("user:c", inside="user:a")]
    error = error_of(design_file(comps, "user:a"))
    assert "circle" in str(error) and "'user:a'" in str(error)


def test_a_long_circle_is_found_without_recursion():
    n = 5_000
    comps = [block(f"user:b{i}", inside=f"user:b{(i + 1) % n}") for i in range(n)]
    assert "circle" in str(error_of(design_file(comps, "user:b0")))


def test_deep_nesting_is_refused_before_analysis_recurses():
    comps = [block("user:b0")] + [block(f"user:b{i}", inside=f"user:b{i - 1}") for i in range(1, 200)]
    error = error_of(design_file(comps, "user:b199"))
    assert "nested" in str(error)


def test_blocks_may_be_listed_in_any_order_and_save_back_the_same():
    comps = [block("user:outer", inside="user:inner"), block("user:inner")]
    design = loads(design_file(comps, "user:outer"))
    assert list(design.composites) == ["user:outer", "user:inner"]
    assert analyze(design).valid
    assert dumps(loads(dumps(design))) == dumps(design)


def test_unknown_block_inside_a_block_is_named():
    error = error_of(design_file([block("user:a", inside="user:nowhere")], "user:a"))
    assert "'user:nowhere'" in str(error) and error.location == "composites[0].nodes"


def test_overlong_names_are_refused_not_cut(tmp_path):
    data = json.loads(design_file([]))
    data["nodes"][1]["label"] = "x" * (MAX_TEXT + 1)
    error = error_of(json.dumps(data))
    assert error.location == "nodes[1].label" and f"{MAX_TEXT:,}" in str(error)
    d = Design("n")
    node = d.add_node("relu")
    with pytest.raises(Exception, match="at most"):
        d.set_label(node.id, "x" * (MAX_TEXT + 1))
    assert d.nodes[node.id].label == ""


def test_a_cycle_in_the_edges_is_named_once_loaded():
    data = json.loads(design_file([]))
    data["nodes"].append({"id": "c", "block": "relu"})
    data["edges"] += [{"from": "b", "to": "c"}, {"from": "c", "to": "b", "to_port": "in"}]
    data["edges"][0]["to"] = "out"  # b's input now comes from c only
    data["edges"] = [e for e in data["edges"] if e != {"from": "b", "to": "out"}]
    error = error_of(json.dumps(data))
    assert "cycle" in str(error)


def test_big_chains_load_whatever_the_edge_order():
    """20,000 layers with the edges listed backwards: quadratic code took minutes here."""
    n = 20_000
    nodes = [{"id": "in", "block": "input", "params": {"shape": [4]}}]
    nodes += [{"id": f"r{i}", "block": "relu"} for i in range(n - 2)] + [{"id": "out", "block": "output"}]
    ids = [node["id"] for node in nodes]
    edges = [{"from": a, "to": b} for a, b in zip(ids, ids[1:])][::-1]
    design = loads(json.dumps({"format": "network-designer", "version": 1, "nodes": nodes, "edges": edges}))
    report = analyze(design)
    assert report.valid and report.order[0] == "in" and report.order[-1] == "out"


def test_thousands_of_user_blocks_load():
    comps = [block(f"user:b{i}") for i in range(5_000)]
    design = loads(design_file(comps, "user:b7"))
    assert len(design.composites) == 5_000 and analyze(design).valid
    inner = design.composites["user:b0"].design
    assert inner.composites is design.composites  # one shared table, not 5,000 copies


def test_cli_validate_refuses_duplicate_keys_with_one_line(tmp_path, capsys):
    path = tmp_path / "dup.json"
    path.write_text(design_file([block("user:a"), block("user:a", inside="user:a")], "user:a"))
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert "both define" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


# -- saving -------------------------------------------------------------------------------

def tiny() -> Design:
    d = Design("tiny")
    d.chain(("input", {"shape": [4]}), "relu", "output")
    return d


@pytest.fixture
def umask():
    def set_mask(mask):
        os.umask(mask)
    old = os.umask(0o022)
    yield set_mask
    os.umask(old)


@pytest.mark.skipif(os.name == "nt", reason="POSIX modes")
def test_new_files_get_the_umask_mode(tmp_path, umask):
    umask(0o022)
    save(tiny(), tmp_path / "a.json")
    assert stat.S_IMODE((tmp_path / "a.json").stat().st_mode) == 0o644
    umask(0o077)
    save(tiny(), tmp_path / "b.json")
    assert stat.S_IMODE((tmp_path / "b.json").stat().st_mode) == 0o600


@pytest.mark.skipif(os.name == "nt", reason="POSIX modes")
def test_saving_over_a_file_keeps_its_mode(tmp_path, umask):
    umask(0o077)
    path = tmp_path / "shared.json"
    path.write_text("{}")
    path.chmod(0o664)
    save(tiny(), path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o664
    assert load(path).name == "tiny"


def test_a_killed_save_leaves_a_recognisable_file_the_next_save_removes(tmp_path):
    path = tmp_path / "design.json"
    save(tiny(), path)
    killed = ("import os, sys; from pathlib import Path; from engine.persistence import atomic_write\n"
              "def write(tmp):\n    Path(tmp).write_text('half a fi')\n    os._exit(9)  # killed mid-save\n"
              "atomic_write(Path(sys.argv[1]), write)\n")
    result = subprocess.run([sys.executable, "-c", killed, str(path)], cwd=ROOT, timeout=120)
    assert result.returncode == 9
    leftovers = list(tmp_path.glob(".design.json.~*.tmp"))
    assert len(leftovers) == 1
    assert load(path).name == "tiny"  # the file itself is whole
    other = tmp_path / "other.json"
    save(tiny(), other)
    assert leftovers[0].exists()  # another file's save leaves it alone
    save(tiny(), path)
    assert not leftovers[0].exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["design.json", "other.json"]


def test_a_save_in_progress_in_a_live_process_keeps_its_file(tmp_path):
    path = tmp_path / "design.json"
    mine = tmp_path / f".design.json.~{os.getpid()}-0123abcd.tmp"
    mine.write_text("")
    parent = tmp_path / f".design.json.~{os.getppid()}-0123abcd.tmp"
    parent.write_text("")
    atomic_write_text(path, "{}")
    assert mine.exists() and parent.exists()


def test_the_collector_is_paused_only_for_the_block():
    import gc

    from engine.collector import collector_paused
    was_enabled = gc.isenabled()  # (off in the app, where the UI thread collects: designer/ui_collector.py)
    gc.enable()
    try:
        with collector_paused():
            assert not gc.isenabled()
        assert gc.isenabled()
        gc.disable()
        with collector_paused():
            pass
        assert not gc.isenabled()  # a caller that had it off keeps it off
    finally:
        (gc.enable if was_enabled else gc.disable)()
