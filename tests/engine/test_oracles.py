"""Every worked example of the course material (``tests/data/oracles.json``, copied from the
spec) reproduced by the engine: layer shapes and parameter counts, the uneven-stride warning,
receptive fields (and torch's gradients agree), pooling values, the inception 1×1 reduction
arithmetic, and whole networks (LeNet-5, AlexNet with and without groups)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from torch import nn

from engine import Design, analyze, blocks
from engine.compile import build_module

from .test_blocks_conformance import one_block_design

ORACLES = json.loads((Path(__file__).parent.parent / "data" / "oracles.json").read_text())


def _layer_cases(kind):
    return [pytest.param(c, id=c["case"][:50]) for c in ORACLES["layers"] if kind in c]


@pytest.mark.parametrize("case", _layer_cases("in"))
def test_oracle_layers(case):
    d, node_id = one_block_design(case["block"], case["params"], [tuple(case["in"])])
    nrep = analyze(d).nodes[node_id]
    assert nrep.shape == tuple(case["out"])
    if "param_count" in case:
        assert nrep.trainable_params == case["param_count"]
    warnings = [diag.message for diag in nrep.diagnostics if diag.severity == "warning"]
    if "warn" in case:
        assert any(case["warn"] in m for m in warnings), warnings
    else:
        assert not any("stride does not divide evenly" in m for m in warnings), warnings


@pytest.mark.parametrize("case", _layer_cases("receptive_field"))
def test_oracle_receptive_fields(case):
    stack = case.get("stack") or [case["params"]]
    d = Design("rf")
    ids = d.chain(("input", {"shape": [1, 64, 64]}),
                  *[("conv2d", {"out_channels": 1, "padding": "same", **layer}) for layer in stack], "output")
    rf = analyze(d).nodes[ids[-2]].receptive_field
    assert rf == ((case["receptive_field"], 1), (case["receptive_field"], 1))
    # ... and torch agrees: the gradient of the centre output reaches exactly that window.
    model = nn.Sequential(*[nn.Conv2d(1, 1, layer["kernel"], padding="same", dilation=layer.get("dilation", 1))
                            for layer in stack])
    for m in model:
        nn.init.constant_(m.weight, 1.0)
    x = torch.zeros(1, 1, 64, 64, requires_grad=True)
    model(x)[0, 0, 32, 32].backward()
    rows = torch.nonzero(x.grad[0, 0].abs().sum(1)).flatten()
    assert rows.max() - rows.min() + 1 == case["receptive_field"]


@pytest.mark.parametrize("case", [pytest.param(c, id=c["case"]) for c in ORACLES["values"]])
def test_oracle_pool_values(case):
    kind, k, s = case["op"].split()
    key = kind
    params = {"kernel": int(k[1:]), "stride": int(s[1:])}
    matrix = torch.tensor(case["input"], dtype=torch.float32)[None, None]
    module = build_module(blocks.get(key), blocks.get(key).validate_params(params), [(1, *matrix.shape[2:])],
                          blocks.get)
    out = module(matrix)[0, 0]
    assert out.tolist() == case["output"]
    d, node_id = one_block_design(key, params, [(1, *matrix.shape[2:])])
    assert analyze(d).nodes[node_id].shape == (1, *out.shape)


def _conv_macs(c_in, c_out, kernel, padding):
    spec = blocks.get("conv2d")
    return spec.infer(spec.validate_params({"out_channels": c_out, "kernel": kernel, "padding": padding}),
                      [(c_in, 28, 28)]).macs


def test_oracle_inception_1x1_reduction():
    oracle = ORACLES["inception_1x1_reduction"]
    assert _conv_macs(190, 48, 5, "same") == oracle["direct_multiplies"]
    assert _conv_macs(190, 48, 5, 2) == oracle["direct_multiplies"]
    reduce_, conv5 = _conv_macs(190, 16, 1, 0), _conv_macs(16, 48, 5, 2)
    assert reduce_ == oracle["reduced_breakdown"]["1x1 layer"]
    assert conv5 == oracle["reduced_breakdown"]["5x5 layer"]
    # The same through a design: the report's total is the sum of the two layers.
    d = Design("reduction")
    d.chain(("input", {"shape": [190, 28, 28]}), ("conv2d", {"out_channels": 16, "kernel": 1}),
            ("conv2d", {"out_channels": 48, "kernel": 5, "padding": "same"}), "output")
    assert analyze(d).macs == oracle["reduced_multiplies"]


def test_oracle_lenet5():
    oracle = ORACLES["networks"]["lenet5 (6-16-120-84-10, 32x32x1 input, or 28x28x1 with pad 2 on conv1)"]
    for side, pad in ((32, 0), (28, 2)):
        d = Design("LeNet-5", num_classes=10)
        ids = d.chain(("input", {"shape": [1, side, side]}), ("conv2d", {"out_channels": 6, "kernel": 5, "padding": pad}),
                      "tanh", ("avgpool2d", {"kernel": 2}), ("conv2d", {"out_channels": 16, "kernel": 5}), "tanh",
                      ("avgpool2d", {"kernel": 2}), "flatten", ("linear", {"out_features": 120}), "tanh",
                      ("linear", {"out_features": 84}), "tanh", ("linear", {"out_features": 10}), "output")
        report = analyze(d)
        assert report.valid and report.warnings == []
        assert report.total_params == oracle["param_count"]
        assert [report.nodes[i].params for i in ids if report.nodes[i].params] == oracle["per_layer"]
        assert report.nodes[ids[-1]].shape == tuple(oracle["out"])


def alexnet(groups: int) -> tuple[Design, dict]:
    d = Design("AlexNet", num_classes=1000)
    names = {}

    def add(name, block, params=None):
        (names[name],) = d.chain((block, params or {}), after=names.get("_last"))
        names["_last"] = names[name]

    add("input", "input", {"shape": [3, 227, 227]})
    add("conv1", "conv2d", {"out_channels": 96, "kernel": 11, "stride": 4})
    add("relu1", "relu")
    add("norm1", "lrn", {"size": 5, "alpha": 1e-4, "beta": 0.75, "k": 2.0})
    add("pool1", "maxpool2d", {"kernel": 3, "stride": 2})
    add("conv2", "conv2d", {"out_channels": 256, "kernel": 5, "padding": 2, "groups": groups})
    add("relu2", "relu")
    add("norm2", "lrn", {"size": 5, "alpha": 1e-4, "beta": 0.75, "k": 2.0})
    add("pool2", "maxpool2d", {"kernel": 3, "stride": 2})
    add("conv3", "conv2d", {"out_channels": 384, "kernel": 3, "padding": 1})
    add("relu3", "relu")
    add("conv4", "conv2d", {"out_channels": 384, "kernel": 3, "padding": 1, "groups": groups})
    add("relu4", "relu")
    add("conv5", "conv2d", {"out_channels": 256, "kernel": 3, "padding": 1, "groups": groups})
    add("relu5", "relu")
    add("pool3", "maxpool2d", {"kernel": 3, "stride": 2})
    add("flatten", "flatten")
    for i, width in ((6, 4096), (7, 4096)):
        add(f"fc{i}", "linear", {"out_features": width})
        add(f"relu{i}", "relu")
        add(f"drop{i}", "dropout", {"p": 0.5})
    add("fc8", "linear", {"out_features": 1000})
    add("output", "output")
    return d, names


def test_oracle_alexnet():
    oracle = ORACLES["networks"]["alexnet original, ungrouped, 227x227x3, LRN, 1000 classes"]
    d, names = alexnet(groups=1)
    report = analyze(d)
    assert report.valid and report.warnings == []
    assert report.total_params == oracle["param_count"]
    for layer, count in oracle["per_layer"].items():
        assert report.nodes[names[layer]].params == count, layer
    for layer, shape in oracle["shapes"].items():
        assert report.nodes[names[layer]].shape == tuple(shape), layer
    grouped, _ = alexnet(groups=2)
    assert analyze(grouped).total_params == \
        ORACLES["networks"]["alexnet original with two groups in conv2, conv4, conv5"]["param_count"]
