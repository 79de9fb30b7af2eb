"""No text that comes with a design ever becomes code.

Design names, notes, labels, node ids, user-block keys, titles and docs, class names and dataset
names are written by whoever wrote the file. Exported code holds them only as literals (or as
sanitised identifiers), and exporting, which runs the generated file to verify it, runs nothing
they say. Each hostile string below would execute ``open(MARK, "w")`` if it were pasted raw.
"""
from __future__ import annotations

import ast
import keyword
import unicodedata

import pytest
import torch
from hypothesis import HealthCheck, given, settings, strategies as st

from engine import Design
from engine.cli import main
from engine.compile import compile_design
from engine.export import export, save_safetensors
from engine.export.codegen import python_source
from engine.export.formats import fill_template
from engine.export.render import doc_literal
from engine.graph import MAX_TEXT, CompositeDefinition
from engine.names import class_name, module_name
from engine.persistence import dumps, loads

PAYLOAD = '__import__("builtins").open(MARK, "w")'


def corpus(mark: str) -> list[str]:
    call = PAYLOAD.replace("MARK", repr(mark))
    return [
        f'X""";{call};"""',
        f"X''';{call};'''",
        f'X"\n{call}\n"',
        f"X\n{call}\n#",
        f"X\r{call}\r#",
        f"X\u2028{call}\u2028#",
        f"X\\\n{call}",
        "X\\",
        f'\\"""\n{call}\n"""\\',
        "\x00NUL\x00",
        f"\nimport torch\n{call}\n",
        "{{MODEL_CODE}}{{NAME}}{{MODEL_CLASS}}",
        f"</b>&amp;<script>{call}</script>",
        f"x = 1; {call}  # " + "long " * 180,
        "ﬁlter ² ①",
        "class",
    ]


def hostile_design(text: str) -> Design:
    """One design carrying ``text`` in every string field it has (names, labels and titles
    cut to their limit; notes and docs also get it 50 times over)."""
    long_text = text * 50
    text = text[:MAX_TEXT]
    inner = Design(text)
    inner.add_node("input", {"shape": [4, 8, 8]}, node_id="in")
    inner.add_node("conv2d", {"out_channels": 4, "padding": 1}, node_id=text[:100], label=text)
    inner.add_node("relu", node_id=text[:99] + "!", label=text)
    inner.add_node("output", node_id="out")
    inner.connect("in", text[:100])
    inner.connect(text[:100], text[:99] + "!")
    inner.connect(text[:99] + "!", "out")
    d = Design(text, num_classes=3, notes=long_text)
    key = "user:" + text[:95]
    d.add_composite(CompositeDefinition(key, text, inner, doc=long_text))
    ids = d.chain(("input", {"shape": [1, 8, 8]}), ("conv2d", {"out_channels": 4, "padding": 1}), (key, {}),
                  "flatten", ("linear", {"out_features": 3}), "output")
    for node_id in ids[1:-1]:
        d.set_label(node_id, text)
    return d


def data_with(text: str) -> dict:
    return {"name": text, "source": {"name": "digits", "options": {}}, "classes": [text, "b", "c"]}


@pytest.fixture
def mark(tmp_path):
    path = tmp_path / "MARK"
    yield path
    assert not path.exists(), "text from the design was executed"


@pytest.mark.parametrize("index", range(len(corpus(""))))
def test_code_exports_keep_hostile_text_as_literals(index, tmp_path, mark):
    text = corpus(str(mark))[index]
    design = hostile_design(text)
    model = compile_design(design)
    result = export(design, model, "python", tmp_path / "model.py")
    assert result.verified
    tree = ast.parse((tmp_path / "model.py").read_text())
    classes = {c.name: c for c in tree.body if isinstance(c, ast.ClassDef)}
    top = classes[python_source(design)[1]]
    assert ast.get_docstring(top, clean=False) == text[:MAX_TEXT] + "."  # the name, exactly, as a literal
    result = export(design, model, "script", tmp_path / "script", data=data_with(text))
    assert result.verified
    ast.parse((tmp_path / "script" / "train.py").read_text())


def test_every_format_with_all_hostile_text_at_once(tmp_path, mark):
    pytest.importorskip("onnxruntime")
    text = "".join(corpus(str(mark))[:12])
    design = hostile_design(text)
    model = compile_design(design)
    for fmt in ("bundle", "pt", "python", "onnx", "pt2", "script"):
        result = export(design, model, fmt, tmp_path / f"out-{fmt}", data=data_with(text))
        assert result.verified, fmt
    # The bundle's design comes back with every string as it was.
    again = loads(dumps(design))
    assert again.name == design.name and again.notes == design.notes


def test_hostile_design_in_safetensors_metadata_through_the_cli(tmp_path, mark, capsys):
    design = hostile_design(corpus(str(mark))[0])
    weights = save_safetensors(compile_design(design).state_dict(), tmp_path / "w.safetensors", design)
    for fmt, out in (("python", "m.py"), ("script", "script")):
        assert main(["export", str(weights), "-f", fmt, "-o", str(tmp_path / out)]) == 0
    assert "verified" in capsys.readouterr().out


def test_a_slot_value_is_not_searched_for_other_slots():
    template = '"""{{NAME}}"""\n{{MODEL_CODE}}'
    assert fill_template(template, {"NAME": "{{MODEL_CODE}}", "MODEL_CODE": "x = 1"}) == \
        '"""{{MODEL_CODE}}"""\nx = 1'


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_doc_literal_is_a_literal_of_exactly_the_text(text):
    source = doc_literal(text)
    assert ast.literal_eval(source) == text
    tree = ast.parse(f"def f():\n    {source}\n    return 1\n")
    assert len(tree.body[0].body) == 2  # one docstring expression, one return: nothing else


@settings(max_examples=300, deadline=None)
@given(st.text(min_size=0, max_size=60))
def test_names_are_identifiers_python_reads_back_unchanged(text):
    taken: set[str] = set()
    name = module_name(text, taken)
    assert name.isidentifier() and not keyword.iskeyword(name)
    assert unicodedata.normalize("NFKC", name) == name
    tree = ast.parse(f"self.{name} = 1")
    assert tree.body[0].targets[0].attr == name
    assert module_name(text, taken) != name  # unique within ``taken``
    cls = class_name(text)
    assert cls.isascii() and cls.isidentifier() and not keyword.iskeyword(cls)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(min_size=1, max_size=40), st.text(min_size=1, max_size=40))
def test_random_text_in_names_and_labels_exports_runnable_code(tmp_path, name, label):
    torch.manual_seed(0)
    design = Design(name, num_classes=2)
    ids = design.chain(("input", {"shape": [1, 4, 4]}), ("conv2d", {"out_channels": 2}), "relu",
                       "flatten", ("linear", {"out_features": 2}), "output")
    design.set_label(ids[1], label)
    design.set_label(ids[2], label)  # the same label twice: names stay unique
    source, cls = python_source(design)
    namespace: dict = {}
    exec(compile(source, "<export>", "exec"), namespace)
    net = namespace[cls]()
    assert set(net.state_dict()) == set(compile_design(design).state_dict())
