"""A model that cannot go stale: node params, ``Design.nodes`` and ``Design.edges`` are
read-only outside the mutation methods, and ``Design.lint`` names any broken invariant."""
from __future__ import annotations

import copy
import json
import pickle
from types import MappingProxyType

import pytest

from engine import Design, analyze, templates
from engine.errors import DesignFileError
from engine.graph import CompositeDefinition, Edge, LintError, Node
from engine.persistence import dumps, loads, to_dict
from engine.user_blocks import define_from_selection


def small() -> tuple[Design, list[str]]:
    d = Design("small", num_classes=4)
    ids = d.chain(("input", {"shape": [1, 8, 8]}), ("conv2d", {"out_channels": 4, "padding": 1}), "relu",
                  "flatten", ("linear", {"out_features": 4}), "output")
    return d, ids


# -- params are read-only ----------------------------------------------------------------------

def test_writing_params_in_place_raises_and_analysis_follows_set_params():
    d, (inp, conv, relu, *_rest) = small()
    assert analyze(d).nodes[conv].shape == (4, 8, 8)
    with pytest.raises(TypeError):
        d.nodes[conv].params["out_channels"] = 8
    with pytest.raises(TypeError):
        del d.nodes[conv].params["out_channels"]
    with pytest.raises(AttributeError):
        d.nodes[conv].params.update(out_channels=8)
    with pytest.raises(AttributeError):
        d.nodes[conv].params = {"out_channels": 8}
    assert analyze(d).nodes[conv].shape == (4, 8, 8)  # nothing changed, nothing is stale

    d.set_params(conv, {"out_channels": 8})
    report = analyze(d)
    assert report.nodes[conv].shape == (8, 8, 8) and report.nodes[relu].shape == (8, 8, 8)
    d.set_param(inp, "shape", [1, 6, 6])
    assert analyze(d).nodes[relu].shape == (8, 6, 6)
    d.lint()


@pytest.mark.parametrize("change", [
    lambda v: v.append(4), lambda v: v.extend([4]), lambda v: v.insert(0, 4), lambda v: v.pop(),
    lambda v: v.remove(1), lambda v: v.clear(), lambda v: v.sort(), lambda v: v.reverse(),
    lambda v: v.__setitem__(0, 3), lambda v: v.__delitem__(0), lambda v: v.__iadd__([4]), lambda v: v.__imul__(2),
])
def test_list_values_cannot_be_changed_in_place_either(change):
    d, (inp, conv, relu, *_rest) = small()
    shape = d.nodes[inp].params["shape"]
    before = list(shape)
    with pytest.raises(TypeError, match="set_params"):
        change(shape)
    assert shape == before and analyze(d).nodes[relu].shape == (4, 8, 8)


def test_list_values_are_still_lists_that_copy_pickle_and_save_plainly():
    d, (inp, *_rest) = small()
    given = [1, 8, 8]
    d.set_param(inp, "shape", given)
    given.append(99)  # the caller's list is theirs: the node kept a frozen copy
    shape = d.nodes[inp].params["shape"]
    assert isinstance(shape, list) and shape == [1, 8, 8] and hash(shape) == hash((1, 8, 8))
    assert copy.deepcopy(d.nodes[inp]).params["shape"] == [1, 8, 8]
    assert pickle.loads(pickle.dumps(d.nodes[inp])).params["shape"] == [1, 8, 8]
    plain = to_dict(d)["nodes"][0]["params"]["shape"]
    assert type(plain) is list and plain == [1, 8, 8]
    plain.append(5)  # a saved dict is the caller's to edit
    assert json.loads(dumps(d))["nodes"][0]["params"]["shape"] == [1, 8, 8]


def test_params_still_read_as_a_mapping():
    d, (_inp, conv, *_rest) = small()
    node = d.nodes[conv]
    params = node.params
    assert params is d.nodes[conv].params  # one object until the next edit (analysis caches on it)
    assert params["out_channels"] == 4 and params.get("missing") is None
    assert type(dict(params)) is dict and {**params} == dict(params)
    assert d.spec("conv2d").validate_params(params) == dict(params)
    assert type(d.spec("conv2d").validate_params(params)) is dict
    # the node keeps its own copy: the dict given to add_node is not a back door
    given = {"out_channels": 3}
    other = d.add_node("conv2d", given)
    given["out_channels"] = 99
    assert other.params["out_channels"] == 3


def test_nodes_copy_pickle_and_save_as_plain_data():
    d, (_inp, conv, *_rest) = small()
    node = d.nodes[conv]
    for clone in (copy.deepcopy(node), copy.copy(node), pickle.loads(pickle.dumps(node))):
        assert clone == node and clone is not node
        assert type(clone.params) is MappingProxyType
    snapshot = d.copy()
    assert snapshot.nodes == d.nodes and snapshot.nodes[conv] is not node
    snapshot.lint()
    data = to_dict(d)
    saved = next(n for n in data["nodes"] if n["id"] == conv)["params"]
    assert type(saved) is dict
    saved["out_channels"] = 99  # editing the dict written out does not touch the design
    assert node.params["out_channels"] == 4
    json.dumps(data)
    assert loads(dumps(d)).nodes == d.nodes


# -- nodes and edges are read-only ---------------------------------------------------------------

def test_nodes_and_edges_cannot_be_changed_from_outside():
    d, (inp, conv, relu, *_rest) = small()
    with pytest.raises(TypeError):
        d.nodes["ghost"] = Node("ghost", "relu", {})
    with pytest.raises(TypeError):
        del d.nodes[relu]
    with pytest.raises(AttributeError):
        d.nodes.pop(relu)
    with pytest.raises(AttributeError):
        d.nodes = {}
    with pytest.raises(AttributeError):
        d.edges.append(Edge(inp, relu))
    with pytest.raises(TypeError):
        d.edges[0] = Edge(inp, relu)
    with pytest.raises(AttributeError):
        d.edges = ()
    assert isinstance(d.edges, tuple) and len(d.edges) == 5
    d.lint()


def test_the_views_follow_every_edit():
    d, (inp, conv, relu, *_rest) = small()
    view = d.nodes
    edge = d.incoming(relu)[0]
    index = d.disconnect(edge)
    assert edge not in d.edges and len(d.edges) == 4
    d.connect(edge.src, edge.dst, index=index)
    assert d.edges[index] == edge
    node, removed = d.remove_node(conv)
    assert conv not in view and conv not in d.nodes
    d.restore_node(node, index=1)
    assert list(view)[1] == conv and d.nodes is view  # reordered in place: the view stays live
    for _, e in removed:
        d.connect(*e)
    d.lint()
    other = Design("other")
    other.chain(("input", {"shape": [2, 4, 4]}), "relu", "output")
    d.replace_with(other)
    assert list(view) == list(other.nodes) and d.edges == other.edges
    d.lint()


# -- lint ------------------------------------------------------------------------------------------

def test_lint_passes_on_every_template():
    for info in templates.catalog():
        templates.build(info.name).lint()


def _broken_edge(d: Design, edge: Edge) -> None:
    d._edges.append(edge)
    d._edges_changed()
    d._index = None


@pytest.mark.parametrize("breakage, message", [
    (lambda d, ids: _broken_edge(d, Edge(ids[1], "ghost")), "'ghost', which does not exist"),
    (lambda d, ids: _broken_edge(d, Edge(ids[1], ids[3], "side")), "no output port 'side'"),
    (lambda d, ids: _broken_edge(d, Edge(ids[1], ids[3], "out", "in2")), "no input port 'in2'"),
    (lambda d, ids: _broken_edge(d, d.edges[0]), "appears twice"),
    (lambda d, ids: _broken_edge(d, Edge(ids[0], ids[2])), "takes one input and has several"),
    (lambda d, ids: (d.disconnect(d.edges[0]), _broken_edge(d, Edge(ids[4], ids[1]))), "cycle"),
    (lambda d, ids: _broken_edge(d, ("x", "y", "out", "in")), "not an Edge"),
    (lambda d, ids: setattr(d._nodes[ids[2]], "id", ids[1]), "must equal its key"),
    (lambda d, ids: setattr(d._nodes[ids[2]], "id", ""), "non-empty text"),
    (lambda d, ids: d._nodes.__setitem__("stray", "not a node"), "not a Node"),
    (lambda d, ids: setattr(d._nodes[ids[2]], "block", "no_such_block"), "no_such_block"),
    (lambda d, ids: setattr(d._nodes[ids[1]], "_params", {**d.nodes[ids[1]].params}), "not a read-only mapping"),
    (lambda d, ids: setattr(d._nodes[ids[1]], "_params", MappingProxyType({**d.nodes[ids[1]].params,
                                                                          "out_channels": -3})), "out_channels"),
    (lambda d, ids: setattr(d._nodes[ids[1]], "_params", MappingProxyType({"out_channels": 4})), "not what its spec"),
    (lambda d, ids: (d._edges.pop(), d._edges_changed()), "edge index"),
    (lambda d, ids: (d._edges.pop(), setattr(d, "_index", None)), "edges tuple"),
])
def test_lint_names_each_broken_invariant(breakage, message):
    d, ids = small()
    d.lint()
    d.incoming(ids[1]), d.edges  # the private index and the edges tuple are built
    breakage(d, ids)
    with pytest.raises(LintError) as caught:
        d.lint()
    assert message in str(caught.value)


def test_lint_checks_the_inside_of_user_blocks():
    d, ids = small()
    definition = define_from_selection(d, [ids[1], ids[2]], "user:stem", "Stem")
    u = Design("user", num_classes=4)
    u.add_composite(definition)
    u.chain(("input", {"shape": [1, 8, 8]}), "user:stem", "flatten", ("linear", {"out_features": 4}), "output")
    u.lint()
    inner = definition.design
    inner._edges.append(inner._edges[-1])
    inner._edges_changed()
    inner._index = None
    with pytest.raises(LintError, match="in the user block 'user:stem'.*appears twice"):
        u.lint()
    u.composites["user:other"] = CompositeDefinition("user:misfiled", "Other", Design("other"))
    with pytest.raises(LintError):
        u.lint()


def test_loading_runs_lint(monkeypatch):
    d, _ids = small()
    text = dumps(d)
    loads(text)

    def broken(self):
        raise LintError("planted")

    monkeypatch.setattr(Design, "_lint_own", broken)
    with pytest.raises(DesignFileError, match="inconsistent: planted"):
        loads(text)


@pytest.mark.parametrize("name", ["out_channels", "padding"])
def test_lint_does_not_take_true_for_a_valid_twins_1(name):
    """Lint validates equal (block, values) once: True equals 1 but is not a valid 1."""
    d, ids = small()
    first = d.add_node("conv2d", {"out_channels": 1, "padding": 1}).id
    twin = d.add_node("conv2d", {"out_channels": 1, "padding": 1}).id
    d.lint()
    params = {**d.nodes[first].params, name: True}
    d._nodes[twin]._params = MappingProxyType(params)
    d._nodes[twin]._values = tuple(params.values())
    with pytest.raises(LintError, match=f"node {twin!r}"):
        d.lint()
