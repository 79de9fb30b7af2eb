"""Property-based tests (hypothesis).

1. Random valid chains and DAGs (branches merged by Add and Concat), built through the
   mutation API, agree with torch: every node's analysed shape equals the shape of its
   activation in the compiled module (``taps``).
2. Random garbage and mutated design files never raise anything but DesignFileError, and a
   file that does load can be analysed without an exception and saved and loaded again to an
   equal design. The suite runs a few hundred files; ``make fuzz`` runs 10,000
   (``ND_FUZZ_FILES``).
"""
from __future__ import annotations

import copy
import json
import os

import torch
from hypothesis import HealthCheck, given, settings, strategies as st

from engine import Design, DesignFileError, analyze, compile_design
from engine.graph import CompositeDefinition
from engine.persistence import dumps, loads

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FUZZ_FILES = int(os.environ.get("ND_FUZZ_FILES", "300"))
FILE_SETTINGS = settings(max_examples=FUZZ_FILES, deadline=None,
                         suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


# -- random networks --------------------------------------------------------------------

def _try_add(d: Design, block: str, params: dict, sources: list[str]) -> str | None:
    """Add a node fed by ``sources``; keep it only if the analysis accepts it."""
    node = d.add_node(block, params).id
    d.lint()
    for src in sources:
        d.connect(src, node)
        d.lint()
    if analyze(d).nodes[node].shape is None:
        d.remove_node(node)
        d.lint()
        return None
    return node


def _layer(draw, rank: int):
    """A random single-input layer for a rank-``rank`` input (channels + spatial axes)."""
    nd = rank - 1
    if nd == 0:
        return draw(st.sampled_from([("linear", {"out_features": draw(st.integers(1, 12))}), ("relu", {}),
                                     ("dropout", {"p": 0.3}), ("batchnorm1d", {}), ("layernorm", {}),
                                     ("prelu", {"per_channel": True}), ("softmax", {})]))
    kind = draw(st.sampled_from(["conv", "conv", "pool", "act", "norm", "convT", "adaptive"]))
    if kind == "conv":
        k = draw(st.integers(1, 4))
        return f"conv{nd}d", {"out_channels": draw(st.integers(1, 6)), "kernel": k,
                              "stride": draw(st.integers(1, 2)),
                              "padding": draw(st.sampled_from([0, k // 2, "valid"])),
                              "dilation": draw(st.integers(1, 2)), "bias": draw(st.booleans())}
    if kind == "convT" and nd <= 2:
        s = draw(st.integers(1, 2))
        return f"conv_transpose{nd}d", {"out_channels": draw(st.integers(1, 4)), "kernel": draw(st.integers(1, 3)),
                                        "stride": s, "output_padding": draw(st.integers(0, s - 1))}
    if kind == "pool":
        k = draw(st.integers(1, 3))
        return draw(st.sampled_from([f"maxpool{nd}d", f"avgpool{nd}d"])), {
            "kernel": k, "stride": draw(st.sampled_from([None, 1, 2])), "padding": draw(st.integers(0, k // 2)),
            "ceil_mode": draw(st.booleans())}
    if kind == "adaptive":
        return f"adaptive_avgpool{nd}d", {"output_size": draw(st.integers(1, 4))}
    if kind == "norm":
        return draw(st.sampled_from([(f"batchnorm{nd}d", {}), ("instancenorm", {"affine": True}),
                                     ("groupnorm", {"num_groups": 1})]))
    return draw(st.sampled_from([("relu", {}), ("leaky_relu", {"negative_slope": 0.1}), ("gelu", {}),
                                 ("tanh", {}), ("identity", {})]))


@st.composite
def networks(draw):
    """A design built step by step through the mutation API; every node has a known shape."""
    nd = draw(st.sampled_from([1, 2, 2, 3]))
    spatial = [draw(st.integers(5, 14)) for _ in range(nd)] if nd < 3 else [draw(st.integers(4, 7))] * 3
    d = Design("random")
    inp = d.add_node("input", {"shape": [draw(st.integers(1, 4)), *spatial]}).id
    d.lint()
    frontier = [inp]
    shapes = {inp: tuple(d.nodes[inp].params["shape"])}
    for _ in range(draw(st.integers(1, 9))):
        src = draw(st.sampled_from(frontier))
        shape = shapes[src]
        move = draw(st.sampled_from(["layer", "layer", "layer", "residual", "concat", "flatten"]))
        node = None
        if move == "residual" and len(shape) > 1:
            # A shape-keeping branch added back onto its source.
            branch = _try_add(d, f"conv{len(shape) - 1}d", {"out_channels": shape[0], "kernel": 3,
                                                            "padding": "same"}, [src])
            if branch:
                node = _try_add(d, "add", {}, [branch, src])
        elif move == "concat" and len(shape) > 1:
            a = _try_add(d, f"conv{len(shape) - 1}d", {"out_channels": draw(st.integers(1, 4)), "kernel": 1}, [src])
            b = _try_add(d, f"maxpool{len(shape) - 1}d", {"kernel": 3, "stride": 1, "padding": 1}, [src])
            if a and b:
                node = _try_add(d, "concat", {}, [a, src, b] if draw(st.booleans()) else [b, a])
        elif move == "flatten":
            node = _try_add(d, "flatten", {}, [src])
        else:
            block, params = _layer(draw, len(shape))
            node = _try_add(d, block, params, [src])
        if node:
            shapes[node] = analyze(d).nodes[node].shape
            frontier.append(node)
    out = d.add_node("output").id
    d.connect(frontier[-1], out)
    d.lint()  # every step above is linted too (the mutation API keeps the invariants)
    return d


@SETTINGS
@given(networks())
def test_random_networks_agree_with_torch(d):
    report = analyze(d)
    assert report.valid, report.errors
    taps = [n for n in report.order if d.nodes[n].block not in ("input", "output")
            and not any(x.code == "unused" for x in report.nodes[n].diagnostics)]
    model = compile_design(d, report, taps=taps).eval()
    x = torch.randn(2, *d.input_shape)
    with torch.no_grad():
        out, acts = model(x)
    out_id = d.output_nodes()[0].id
    assert tuple(out.shape[1:]) == report.nodes[out_id].shape
    for node_id in taps:
        assert tuple(acts[node_id].shape[1:]) == report.nodes[node_id].shape, d.nodes[node_id]
    trainable = sum(p.numel() for p in model.parameters())
    used = {n for n in taps} | {out_id}
    assert trainable == sum(report.nodes[n].params for n in used)


# -- hostile files --------------------------------------------------------------------------

def _valid_text() -> str:
    d = Design("valid", num_classes=10)
    inp = d.add_node("input", {"shape": [3, 16, 16]}).id
    conv, relu = d.chain(("conv2d", {"out_channels": 8, "kernel": [3, 3], "padding": "same"}), "relu", after=inp)
    add = d.add_node("add").id
    d.connect(relu, add)
    d.connect(conv, add)
    # Two user blocks, the second using the first: mutations reach keys, titles and nesting.
    pair = Design("pair")
    pair.chain(("input", {"shape": [8, 16, 16]}), ("conv2d", {"out_channels": 8, "padding": 1}), "relu", "output")
    d.add_composite(CompositeDefinition("user:pair", "Conv pair", pair, "A convolution and its ReLU."))
    twice = Design("twice")
    twice.composites = d.composites  # as loading does: inner designs share the block table
    twice.chain(("input", {"shape": [8, 16, 16]}), "user:pair", "user:pair", "output")
    d.add_composite(CompositeDefinition("user:twice", "Two pairs", twice))
    d.chain("user:twice", ("residual_basic", {"out_channels": 8}), "global_avgpool",
            ("linear", {"out_features": 10}), "output", after=add)
    d.set_label(conv, "stem")
    return dumps(d)


VALID = _valid_text()
VALID_DATA = json.loads(VALID)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10 ** 12, 10 ** 12) | st.sampled_from([10 ** 9, -1, 0, 2 ** 63, 1e308])
    | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=12)
    | st.sampled_from(["input", "conv2d", "add", "same", "user:x", "out", "in", "in2"]),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12)


def _paths(value, prefix=()):
    yield prefix
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _paths(v, prefix + (i,))


ALL_PATHS = list(_paths(VALID_DATA))[1:]


@st.composite
def mutated_files(draw):
    data = copy.deepcopy(VALID_DATA)
    for _ in range(draw(st.integers(1, 4))):
        path = draw(st.sampled_from(ALL_PATHS))
        parent = data
        try:
            for key in path[:-1]:
                parent = parent[key]
            action = draw(st.sampled_from(["replace", "delete", "wrap", "duplicate"]))
            last = path[-1]
            if action == "replace":
                parent[last] = draw(json_values)
            elif action == "delete":
                del parent[last]
            elif action == "wrap":
                parent[last] = [parent[last]] if draw(st.booleans()) else {"value": parent[last]}
            elif isinstance(parent, list):
                parent.append(copy.deepcopy(parent[last]))
            else:
                parent[str(last) + "_"] = parent[last]
        except (KeyError, IndexError, TypeError):
            pass  # an earlier mutation removed this path
    text = json.dumps(data, allow_nan=True)
    if draw(st.booleans()):
        return text
    cut = draw(st.integers(0, len(text)))
    return text[:cut] if draw(st.booleans()) else text[:cut] + draw(st.text(max_size=20)) + text[cut:]


def _load_never_crashes(text: str) -> None:
    try:
        design = loads(text)
    except DesignFileError as e:
        assert str(e)
        return
    report = analyze(design)  # diagnostics, never exceptions
    assert isinstance(report.valid, bool)
    saved = dumps(design)
    assert dumps(loads(saved)) == saved  # what loads can be saved and loaded again, unchanged


@FILE_SETTINGS
@given(mutated_files())
def test_mutated_files_raise_only_design_file_error(text):
    _load_never_crashes(text)


@settings(max_examples=min(FUZZ_FILES, 150), deadline=None)
@given(st.text(max_size=200) | st.binary(max_size=200).map(lambda b: b.decode("latin-1")))
def test_random_text_raises_only_design_file_error(text):
    _load_never_crashes(text)


@settings(max_examples=150, deadline=None)
@given(json_values)
def test_random_json_raises_only_design_file_error(value):
    _load_never_crashes(json.dumps(value))
    # ... also dressed up as a design file, so the checks past the header are reached.
    for key in ("nodes", "edges", "composites", "design"):
        _load_never_crashes(json.dumps({"format": "network-designer", "version": 1, key: value}))


@settings(max_examples=60, deadline=None)
@given(st.integers(), st.sampled_from(["out_channels", "kernel", "stride", "padding", "dilation", "groups"]),
       st.sampled_from([1, 2, 3]))
def test_huge_or_negative_numbers_in_valid_files(number, param, node_index):
    data = copy.deepcopy(VALID_DATA)
    conv = data["nodes"][1]
    conv["params"][param] = number if node_index == 1 else [number] * node_index
    _load_never_crashes(json.dumps(data))


def test_deep_nesting_and_size():
    _load_never_crashes('{"format": "network-designer", "version": 1, "nodes": ' + "[" * 100_000 + "]" * 100_000 + "}")
    _load_never_crashes(VALID[: len(VALID) // 2])
    _load_never_crashes(VALID.replace("[", "{", 3))
