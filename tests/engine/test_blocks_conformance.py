"""Every block's arithmetic (``infer``) against the torch module it builds, on a real forward pass.

The cases are keyed by block; ``test_every_block_is_covered`` iterates the live catalog, so a
block added without cases here fails the suite. Each case goes through the real analysis
(a one-block design), then the module is built and run on CPU and its output shape, trainable
parameters and buffers are compared with the report.
"""
from __future__ import annotations

import math

import pytest
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from engine import Design, analyze, blocks
from engine.compile import build_module

# block key -> [(params, [input shapes without batch])]
CASES: dict[str, list[tuple[dict, list[tuple]]]] = {
    "input": [({"shape": [1, 28, 28]}, []), ({"shape": [2, 100]}, []), ({"shape": [3, 4, 5, 6]}, [])],
    "output": [({}, [(10,)]), ({"softmax": True}, [(7,)])],
    "linear": [({"out_features": 10}, [(64,)]), ({"out_features": 5, "bias": False}, [(3, 8)]),
               ({"out_features": 4, "in_features": 12}, [(12,)])],
    "flatten": [({}, [(3, 4, 5)]), ({}, [(7,)]), ({}, [(2, 3, 4, 5)])],
    "concat": [({}, [(3, 8, 8), (5, 8, 8)]), ({}, [(4, 10), (4, 10), (2, 10)]), ({}, [(6,)])],
    "add": [({}, [(3, 8, 8), (3, 8, 8)]), ({}, [(16,), (16,), (16,)])],
    "identity": [({}, [(3, 9, 9)]), ({}, [(12,)])],
    "conv1d": [({"out_channels": 8, "kernel": 5}, [(3, 50)]),
               ({"out_channels": 6, "kernel": 3, "stride": 2, "padding": 1, "dilation": 2, "groups": 3,
                 "bias": False}, [(9, 31)]),
               ({"out_channels": 4, "kernel": 4, "padding": "same"}, [(2, 17)]),
               ({"out_channels": 4, "kernel": 3, "padding": "valid"}, [(2, 17)])],
    "conv2d": [({"out_channels": 16, "kernel": 3, "padding": 1}, [(3, 28, 28)]),
               ({"out_channels": 96, "kernel": 11, "stride": 4}, [(3, 227, 227)]),
               ({"out_channels": 8, "kernel": [3, 5], "stride": [1, 2], "padding": [1, 0], "dilation": [2, 1]},
                [(4, 20, 23)]),
               ({"out_channels": 12, "kernel": 3, "groups": 4, "bias": False}, [(8, 9, 9)]),
               ({"out_channels": 8, "kernel": 3, "groups": 8}, [(8, 9, 9)]),
               ({"out_channels": 5, "kernel": 1}, [(7, 6, 6)]),
               ({"out_channels": 4, "kernel": 4, "padding": "same", "dilation": 2}, [(3, 11, 10)]),
               ({"out_channels": 3, "kernel": 2, "stride": 3}, [(2, 10, 10)])],
    "conv3d": [({"out_channels": 4, "kernel": 3, "padding": 1}, [(2, 6, 8, 8)]),
               ({"out_channels": 4, "kernel": [1, 3, 3], "stride": [1, 2, 2], "groups": 2}, [(2, 5, 9, 9)])],
    "conv_transpose1d": [({"out_channels": 4, "kernel": 3}, [(2, 10)]),
                         ({"out_channels": 6, "kernel": 4, "stride": 2, "padding": 1, "output_padding": 1,
                           "groups": 2, "bias": False}, [(4, 7)])],
    "conv_transpose2d": [({"out_channels": 8, "kernel": 2, "stride": 2}, [(16, 7, 7)]),
                         ({"out_channels": 3, "kernel": [3, 5], "stride": [2, 3], "padding": [1, 2],
                           "output_padding": [1, 0], "dilation": 1}, [(4, 5, 6)]),
                         ({"out_channels": 4, "kernel": 3, "stride": 1, "dilation": 2}, [(2, 5, 5)])],
    "conv_transpose3d": [({"out_channels": 2, "kernel": 2, "stride": 2}, [(3, 3, 4, 5)])],
    "separable_conv2d": [({"out_channels": 32}, [(8, 16, 16)]),
                         ({"out_channels": 10, "kernel": 5, "stride": 2, "padding": 2, "depth_multiplier": 2,
                           "bias": False}, [(3, 15, 15)]),
                         ({"out_channels": 4, "padding": "same", "dilation": 2}, [(6, 9, 9)])],
    "space_to_depth": [({"block_size": 2}, [(3, 8, 8)]), ({"block_size": 3}, [(1, 9, 6)])],
    "maxpool1d": [({"kernel": 3, "stride": 2}, [(4, 21)]), ({"kernel": 3, "padding": 1, "ceil_mode": True}, [(2, 10)])],
    "avgpool1d": [({"kernel": 2}, [(4, 9)]),
                  ({"kernel": 3, "stride": 2, "padding": 1, "ceil_mode": True, "count_include_pad": False},
                   [(2, 10)])],
    "adaptive_avgpool1d": [({"output_size": 4}, [(3, 10)]), ({"output_size": 7}, [(3, 7)])],
    "adaptive_maxpool1d": [({"output_size": 3}, [(3, 11)])],
    "maxpool2d": [({"kernel": 3, "stride": 2}, [(96, 55, 55)]), ({"kernel": 2}, [(64, 224, 224)]),
                  ({"kernel": 3, "stride": 2, "ceil_mode": True}, [(64, 112, 112)]),
                  ({"kernel": 3, "stride": 1, "padding": 1, "ceil_mode": True}, [(8, 14, 14)]),
                  ({"kernel": [2, 3], "stride": [2, 1], "padding": [1, 0]}, [(2, 9, 8)]),
                  ({"kernel": 3, "stride": 2, "padding": 1, "ceil_mode": True}, [(2, 6, 7)])],
    "avgpool2d": [({"kernel": 2, "stride": 2}, [(3, 8, 8)]),
                  ({"kernel": 3, "stride": 2, "padding": 1, "ceil_mode": True}, [(3, 11, 11)]),
                  ({"kernel": 5, "stride": 3}, [(4, 14, 14)])],
    "adaptive_avgpool2d": [({"output_size": 6}, [(256, 13, 13)]), ({"output_size": [2, 3]}, [(3, 7, 5)]),
                           ({"output_size": 1}, [(8, 1, 1)])],
    "adaptive_maxpool2d": [({"output_size": 2}, [(3, 5, 5)])],
    "maxpool3d": [({"kernel": 2}, [(2, 4, 6, 6)]), ({"kernel": [1, 3, 3], "stride": [1, 2, 2], "padding": [0, 1, 1]},
                                                    [(2, 3, 9, 9)])],
    "avgpool3d": [({"kernel": 2, "ceil_mode": True}, [(2, 5, 5, 5)])],
    "adaptive_avgpool3d": [({"output_size": [1, 2, 2]}, [(2, 3, 5, 5)])],
    "adaptive_maxpool3d": [({"output_size": 2}, [(2, 4, 4, 4)])],
    "lppool1d": [({"kernel": 3, "stride": 2}, [(2, 11)])],
    "lppool2d": [({"kernel": 2}, [(3, 8, 8)]), ({"kernel": 3, "stride": 2, "norm_type": 3.0, "ceil_mode": True},
                                                 [(3, 10, 10)])],
    "global_avgpool": [({}, [(16, 7, 7)]), ({}, [(4, 9)]), ({}, [(2, 3, 4, 5)])],
    "global_maxpool": [({}, [(16, 7, 7)]), ({}, [(4, 9)])],
    "relu": [({}, [(3, 4, 4)]), ({}, [(10,)])],
    "leaky_relu": [({"negative_slope": 0.2}, [(3, 4, 4)])],
    "prelu": [({}, [(3, 4, 4)]), ({"per_channel": True}, [(6, 4, 4)]), ({"per_channel": True}, [(5,)])],
    "elu": [({"alpha": 0.5}, [(3, 4)])],
    "sigmoid": [({}, [(3, 4, 4)])],
    "tanh": [({}, [(3, 4, 4)])],
    "silu": [({}, [(3, 4, 4)])],
    "mish": [({}, [(3, 4, 4)])],
    "gelu": [({}, [(3, 4, 4)])],
    "relu6": [({}, [(3, 4, 4)]), ({}, [(10,)])],
    "hardswish": [({}, [(3, 4, 4)])],
    "hardsigmoid": [({}, [(3, 4, 4)]), ({}, [(6,)])],
    "maxout": [({"pieces": 2}, [(8, 5, 5)]), ({"pieces": 3}, [(9,)])],
    "softmax": [({}, [(10,)]), ({}, [(4, 3, 3)])],
    "step": [({"threshold": 0.5}, [(3, 4, 4)])],
    "batchnorm1d": [({}, [(16,)]), ({"affine": False}, [(4, 10)]), ({"track_running_stats": False}, [(6,)])],
    "batchnorm2d": [({}, [(16, 5, 5)]), ({"affine": False, "track_running_stats": False}, [(3, 4, 4)])],
    "batchnorm3d": [({}, [(4, 2, 3, 3)])],
    "lrn": [({"size": 5, "alpha": 1e-4, "beta": 0.75, "k": 2.0}, [(96, 13, 13)]), ({"size": 3}, [(4, 10)])],
    "groupnorm": [({"num_groups": 4}, [(8, 5, 5)]), ({"num_groups": 2, "affine": False}, [(6, 9)])],
    "layernorm": [({}, [(4, 5, 5)]), ({"affine": False}, [(32,)])],
    "instancenorm": [({}, [(3, 8, 8)]), ({"affine": True, "track_running_stats": True}, [(4, 10)]),
                     ({"affine": True}, [(2, 3, 4, 4)])],
    "dropout": [({"p": 0.2}, [(100,)]), ({"p": 0.0}, [(3, 4, 4)])],
    "dropout2d": [({"p": 0.3}, [(3, 4, 4)])],
    "multiply": [({}, [(3, 8, 8), (3, 1, 1)]), ({}, [(4, 5, 5), (4, 5, 5), (1, 5, 5)]), ({}, [(6,), (6,)]),
                 ({}, [(1, 4, 1), (3, 1, 5)])],
    "channel_shuffle": [({"groups": 2}, [(8, 5, 5)]), ({"groups": 3}, [(6, 4)]), ({"groups": 4}, [(8,)]),
                        ({"groups": 1}, [(3, 2, 2, 2)])],
    "channel_chunk": [({"chunks": 2, "index": 0}, [(8, 5, 5)]), ({"chunks": 2, "index": 1}, [(7, 3, 3)]),
                      ({"chunks": 4, "index": 2}, [(5, 6)])],
    "channel_layernorm": [({}, [(8, 5, 5)]), ({"eps": 1e-5, "affine": False}, [(4, 6)]), ({}, [(6,)]),
                          ({}, [(3, 2, 4, 4)])],
    "layer_scale": [({}, [(8, 5, 5)]), ({"init_value": 0.5}, [(6,)]), ({}, [(2, 3, 4, 4)])],
    "stochastic_depth": [({"p": 0.2}, [(8, 5, 5)]), ({"p": 0.5, "mode": "batch"}, [(6,)])],
    "squeeze_excitation": [({"squeeze_channels": 4}, [(16, 7, 7)]),
                           ({"squeeze_channels": 3, "activation": "silu", "gate": "hardsigmoid"}, [(8, 5, 6)])],
    "residual_basic": [({"out_channels": 8}, [(8, 8, 8)]), ({"out_channels": 16, "stride": 2}, [(8, 9, 9)]),
                       ({"out_channels": 12}, [(8, 6, 6)])],
    "residual_bottleneck": [({"width": 4}, [(16, 8, 8)]), ({"width": 4, "stride": 2}, [(8, 8, 8)]),
                            ({"width": 3, "expansion": 2}, [(5, 7, 7)])],
    "separable_block": [({"out_channels": 16}, [(8, 10, 10)]), ({"out_channels": 4, "stride": 2}, [(6, 9, 9)])],
    "inception_naive": [({"c1": 4, "c3": 6, "c5": 2}, [(8, 12, 12)])],
    "inception_v1": [({"c1": 4, "c3_reduce": 3, "c3": 6, "c5_reduce": 2, "c5": 3, "pool_proj": 2}, [(8, 9, 9)]),
                     ({"c1": 4, "c3_reduce": 3, "c3": 6, "c5_reduce": 2, "c5": 3, "pool_proj": 2,
                       "batch_norm": True, "branch3_kernel": 3}, [(8, 10, 10)])],
    "inception_v2a": [({"c1": 4, "c3_reduce": 3, "c3": 6, "c5_reduce": 2, "c5": 3, "pool_proj": 2}, [(8, 9, 9)])],
    "inception_v2b": [({"c1": 4, "c_mid": 3, "c_out": 5, "pool_proj": 2, "n": 3}, [(8, 9, 9)]),
                      ({"c1": 4, "c_mid": 3, "c_out": 5, "pool_proj": 2, "n": 7}, [(6, 17, 17)])],
    "inception_v2c": [({"c1": 4, "c3": 3, "c3dbl_reduce": 5, "pool_proj": 2}, [(8, 8, 8)])],
    "aux_head": [({"num_classes": 10}, [(16, 14, 14)]), ({"num_classes": 5, "batch_norm": False, "dropout": 0.5},
                                                        [(8, 4, 4)])],
}


def case_ids():
    return [pytest.param(key, i, params, ins, id=f"{key}-{i}")
            for key, cases in CASES.items() for i, (params, ins) in enumerate(cases)]


def test_every_block_is_covered():
    # The opaque block (imported layers) has no torch builder by design; see test_import_module.py.
    catalog_keys = {spec.key for spec in blocks.catalog()} - {"opaque"}
    missing = catalog_keys - set(CASES)
    assert not missing, f"blocks without conformance cases: {sorted(missing)}"
    assert not set(CASES) - catalog_keys, "cases for blocks that no longer exist"


def one_block_design(key: str, params: dict, in_shapes: list[tuple]) -> tuple[Design, str]:
    """Input(s) → block (→ Output unless the block is one): the analysis sees the block in context."""
    d = Design("case")
    if key == "input":
        node = d.add_node("input", params)
        return d, node.id
    sources = [d.add_node("input", {"shape": list(s)}).id for s in in_shapes]
    node = d.add_node(key, params)
    for src in sources:
        d.connect(src, node.id)
    if key != "output":
        d.connect(node.id, d.add_node("output").id)
    return d, node.id


def run_module(module: nn.Module, in_shapes, batch=2):
    module.eval()  # batch-norm statistics of a batch of 2 are fine, but dropout must be off
    xs = [torch.randn(batch, *s) for s in in_shapes]
    with torch.no_grad():
        return module(*xs)


@pytest.mark.parametrize("key,index,params,in_shapes", case_ids())
def test_analysis_matches_torch(key, index, params, in_shapes):
    d, node_id = one_block_design(key, params, in_shapes)
    report = analyze(d)
    nrep = report.nodes[node_id]
    assert not nrep.has_error, nrep.diagnostics
    spec = blocks.get(key)
    values = spec.validate_params(params)
    if key == "input":
        assert nrep.shape == tuple(params["shape"])
        return
    module = build_module(spec, values, list(in_shapes), blocks.get)
    out = run_module(module, in_shapes)
    assert tuple(out.shape[1:]) == nrep.shape, f"{key}: analysis {nrep.shape}, torch {tuple(out.shape)}"
    assert out.shape[0] == 2
    torch_params = sum(p.numel() for p in module.parameters())
    assert nrep.params == torch_params
    if spec.trainable:
        assert nrep.trainable_params == torch_params and nrep.frozen_params == 0
    else:
        assert nrep.trainable_params == 0
    assert nrep.buffers == sum(b.numel() for b in module.buffers())
    assert nrep.activation_bytes >= 4 * math.prod(nrep.shape)


# Compute: MACs of the layers that do it, against torch's own FLOP counter (2 FLOPs per MAC;
# the counter ignores bias additions, as MAC counts conventionally do).
MAC_BLOCKS = ("conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d",
              "separable_conv2d", "linear")


@pytest.mark.parametrize("key,index,params,in_shapes", [c for c in case_ids() if c.values[0] in MAC_BLOCKS])
def test_macs_match_torch_flop_counter(key, index, params, in_shapes):
    spec = blocks.get(key)
    values = spec.validate_params(params)
    inf = spec.infer(values, list(in_shapes))
    module = build_module(spec, values, list(in_shapes), blocks.get)
    counter = FlopCounterMode(display=False)
    with counter:
        run_module(module, in_shapes, batch=1)
    assert inf.macs * 2 == counter.get_total_flops()


def conv_macs(out_spatial, c_out, c_in, groups, kernel):
    return math.prod(out_spatial) * c_out * (c_in // groups) * math.prod(kernel)


@pytest.mark.parametrize("c_in,c_out,k,s,p,groups,size", [
    (3, 96, 11, 4, 0, 1, 227), (190, 48, 5, 1, 2, 1, 28), (64, 64, 3, 1, 1, 64, 56), (32, 64, 1, 2, 0, 2, 15)])
def test_conv2d_macs_formula(c_in, c_out, k, s, p, groups, size):
    inf = blocks.get("conv2d").infer(
        blocks.get("conv2d").validate_params({"out_channels": c_out, "kernel": k, "stride": s, "padding": p,
                                              "groups": groups}), [(c_in, size, size)])
    out = (size + 2 * p - k) // s + 1
    assert inf.shape == (c_out, out, out)
    assert inf.macs == conv_macs((out, out), c_out, c_in, groups, (k, k))
    assert inf.params == k * k * (c_in // groups) * c_out + c_out


def test_linear_macs_formula():
    inf = blocks.get("linear").infer(blocks.get("linear").validate_params({"out_features": 4096}), [(9216,)])
    assert inf.macs == 9216 * 4096 and inf.params == 9216 * 4096 + 4096
