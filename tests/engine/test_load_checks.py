"""Loading a design checks it for cycles once per design in the file (issue 13: the loader's
own check names the file's place; the lint after it does not walk the graph again), and a
cycle in a file is still refused, naming it."""
from __future__ import annotations

import json

import pytest

from engine.errors import DesignFileError
from engine.graph import Design
from engine.persistence import dumps, loads, to_dict


def _chain(length: int) -> Design:
    design = Design("chain", num_classes=10)
    design.chain(("input", {"shape": [3, 8, 8]}), *["relu"] * (length - 3), "flatten", "output")
    return design


def test_loading_checks_acyclicity_once(monkeypatch):
    text = dumps(_chain(50))
    calls = []
    original = Design.check_acyclic
    monkeypatch.setattr(Design, "check_acyclic", lambda self: calls.append(self) or original(self))
    loaded = loads(text)
    assert len(calls) == 1 and len(loaded.nodes) == 50
    calls.clear()
    loaded.lint()  # linting on its own still checks (nothing else has)
    assert len(calls) == 1


def test_a_cycle_in_a_file_is_refused_by_name():
    design = Design("loop", num_classes=10)
    design.chain(("input", {"shape": [3, 8, 8]}), "add", "relu", "flatten", "output")
    data = to_dict(design)
    ids = {n["block"]: n["id"] for n in data["nodes"]}
    data["edges"].append({"from": ids["relu"], "to": ids["add"], "from_port": "out", "to_port": "in"})
    with pytest.raises(DesignFileError, match="cycle"):
        loads(json.dumps(data))
