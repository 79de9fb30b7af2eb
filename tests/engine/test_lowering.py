"""The lowering is the one walk behind the compiled module and the exported code: its names and
orders are the compiled submodules' and the exported attributes', and its shapes the analysis'."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, given, settings

from engine import Design, analyze, templates
from engine.compile import compile_design
from engine.errors import CompileError
from engine.export.codegen import generate
from engine.lowering import lower

from .test_export_codegen import composite_design
from .test_properties import networks

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def check_compiled(lowered, gm) -> None:
    """Submodules, placeholders and every call's arguments, recursively into composites."""
    assert [n for n, _ in gm.named_children()] == [s.name for s in lowered.steps if s.kind != "input"]
    placeholders = [n.target for n in gm.graph.nodes if n.op == "placeholder"]
    assert placeholders == lowered.inputs == [s.name for s in lowered.steps if s.kind == "input"]
    by_name = {s.name: s for s in lowered.steps}
    for node in gm.graph.nodes:
        if node.op == "call_module":
            assert tuple(a.target for a in node.args) == by_name[node.target].sources
    for s in lowered.steps:
        if s.inner is not None:
            check_compiled(s.inner, gm.get_submodule(s.name))


def check_code(lowered, source: str, class_name: str, to_code) -> None:
    """The attributes each generated class assigns are the lowering's module steps, at the
    places ``to_code`` (the generator's layout: torchvision's nesting) puts them."""
    classes = {c.name: c for c in ast.parse(source).body if isinstance(c, ast.ClassDef)}

    def expand(value, name, leaves):
        func = getattr(value, "func", None)
        if isinstance(func, ast.Attribute) and func.attr == "Sequential":
            for i, arg in enumerate(value.args):
                expand(arg, f"{name}.{i}", leaves)
        elif isinstance(func, ast.Attribute) and func.attr == "ModuleDict":
            for k, v in zip(value.args[0].keys, value.args[0].values):
                expand(v, f"{name}.{k.value}", leaves)
        else:
            leaves[name] = value

    def visit(low, cls: ast.ClassDef, prefix: str):
        init = next(f for f in cls.body if isinstance(f, ast.FunctionDef) and f.name == "__init__")
        assigned: dict = {}
        for stmt in init.body:
            if isinstance(stmt, ast.Assign) and isinstance(stmt.targets[0], ast.Attribute):
                expand(stmt.value, stmt.targets[0].attr, assigned)
        base = len(to_code(prefix[:-1])) + 1 if prefix else 0
        expected = {to_code(prefix + s.name)[base:]: s for s in low.modules}
        assert set(assigned) == set(expected)
        for path, s in expected.items():
            if s.inner is not None:
                visit(s.inner, classes[assigned[path].func.id], prefix + s.name + ".")
    visit(lowered, classes[class_name], "")


def check_shapes(lowered, report) -> None:
    for s in lowered.steps:
        node = report.nodes[s.node_id]
        assert (s.shape, s.input_shapes) == (node.shape, node.input_shapes), s.node_id
        if s.inner is not None:
            check_inner_shapes(s.inner, s.input_shapes, s.shape)


def check_inner_shapes(inner, in_shapes, shape) -> None:
    assert [s.shape for s in inner.steps if s.kind == "input"] == list(in_shapes)
    by_name = {s.name: s for s in inner.steps}
    assert by_name[inner.outputs[0]].shape == shape
    for s in inner.steps:
        assert list(s.input_shapes) == [by_name[n].shape for n in s.sources]
        if s.inner is not None:
            check_inner_shapes(s.inner, s.input_shapes, s.shape)


def check_design(design: Design) -> None:
    report = analyze(design)
    lowered = lower(design, report)
    check_shapes(lowered, report)
    with torch.device("meta"):  # names and structure only: no weights are allocated
        gm = compile_design(design, report)
        code = generate(design)
    assert gm.node_names == lowered.names
    check_compiled(lowered, gm)
    check_code(lowered, code.source, code.class_name, code.code_key)


@pytest.mark.parametrize("name", templates.names())
def test_templates_lower_as_they_compile_and_export(name):
    check_design(templates.build(name, (1, 32, 32) if "lenet" in name else (3, 64, 64), 10))


def test_composites_and_user_blocks_lower_as_they_compile_and_export():
    check_design(composite_design()[0])


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(networks())
def test_random_networks_lower_as_they_compile_and_export(design):
    check_design(design)


def test_only_what_leads_to_an_output_or_is_kept():
    d = Design("dead end")
    inp, conv, _flat, out = d.chain(("input", {"shape": [1, 8, 8]}), ("conv2d", {"out_channels": 2}), "flatten",
                                    "output")
    side = d.add_node("relu").id
    d.connect(conv, side)
    assert side not in lower(d).names
    kept = lower(d, keep=[side])
    assert kept.names[side] in [s.name for s in kept.steps]
    assert [kept.names[i] for i in (inp, out)] == [kept.inputs[0], kept.outputs[0]]


def test_invalid_designs_raise_the_error_asked_for():
    d = Design("no output")
    d.chain(("input", {"shape": [1, 8, 8]}), "flatten")
    with pytest.raises(CompileError, match="no Output block"):
        lower(d)
    d.chain(("linear", {"out_features": 2}), "output", after=list(d.nodes)[-1])
    d.set_params(next(n for n in d.nodes.values() if n.block == "input").id, {"shape": [1, 8]})
    d.add_node("conv2d")  # unconnected: an error
    with pytest.raises(ValueError, match="design has errors"):
        lower(d, error=ValueError)


def test_lowering_imports_no_torch():
    code = "import sys, engine.lowering; assert 'torch' not in sys.modules, 'torch imported'"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parents[2])
