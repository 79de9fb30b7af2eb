"""Composite blocks: inception modules, residual blocks, MobileNet's separable block, GoogLeNet's
auxiliary head. Each is a parameterised sub-graph of primitive blocks (``expand``); its
inference is the inference of that sub-graph, so there is one source of truth for the arithmetic.
"""
from __future__ import annotations

import math

from .base import BlockSpec, Inference, Param, ShapeProblem, SubGraph, Warn
from .common import expect_rank
from .receptive_field import compose_rf

COMPOSITE = "Composite"


class Builder:
    """Tiny helper to write sub-graphs: ``b.add(id, block, source, **params)``."""

    def __init__(self):
        self.nodes: list[tuple[str, str, dict]] = []
        self.edges: list[tuple[str, str, str]] = []

    def add(self, node_id: str, block: str, *sources: str, **params) -> str:
        self.nodes.append((node_id, block, params))
        for src in sources:
            self.edges.append((src, node_id, "in"))
        return node_id

    def conv_unit(self, name, src, channels, kernel, stride=1, padding=0, bn=True, relu=True, eps=1e-5):
        """conv (no bias when batch-normalised) → [BN] → [ReLU]; returns the last id."""
        last = self.add(f"{name}_conv" if bn or relu else name, "conv2d", src, out_channels=channels,
                        kernel=kernel, stride=stride, padding=padding, bias=not bn)
        if bn:
            last = self.add(f"{name}_bn", "batchnorm2d", last, eps=eps)
        if relu:
            last = self.add(f"{name}_relu", "relu", last)
        return last

    def done(self, output: str) -> SubGraph:
        return SubGraph(self.nodes, self.edges, output)


def infer_subgraph(sub: SubGraph, ins: list[tuple], resolve) -> Inference:
    """Run the primitive inferences of a sub-graph; totals and the composed receptive field.
    Its diagnostics are exactly those of its inner blocks (opening the block shows the same)."""
    shapes: dict[str, tuple] = {f"$in{i}": s for i, s in enumerate(ins)}
    rfs: dict[str, tuple | None] = {f"$in{i}": tuple((1, 1) for _ in s[1:]) for i, s in enumerate(ins)}
    incoming: dict[str, list[str]] = {}
    fed_ports: dict[str, set[str]] = {}
    for src, dst, port in sub.edges:
        incoming.setdefault(dst, []).append(src)
        fed_ports.setdefault(dst, set()).add(port)
    params = buffers = macs = activations = 0
    warnings: list[Warn] = []
    for node_id, key, p in sub.nodes:
        spec = resolve(key)
        srcs = incoming.get(node_id, [])
        unfed = [port.name for port in spec.inputs if port.name not in fed_ports.get(node_id, ())]
        if unfed:
            raise ShapeProblem(f"inside '{node_id}': nothing is connected to its input '{unfed[0]}'",
                               fix="open the block and connect that input")
        try:
            inf = spec.infer(spec.validate_params(p), [shapes[s] for s in srcs])
        except ShapeProblem as e:
            raise ShapeProblem(f"inside '{node_id}': {e.message}", e.fix, e.expected, e.received) from None
        shapes[node_id] = inf.shape
        rfs[node_id] = compose_rf([rfs[s] for s in srcs], inf.rf, inf.shape)
        params, buffers, macs = params + inf.params, buffers + inf.buffers, macs + inf.macs
        activations += inf.activations if inf.activations is not None else math.prod(inf.shape)
        warnings += [w._replace(message=f"inside '{node_id}': {w.message}") for w in inf.warnings]
    return Inference(shapes[sub.output], params, buffers, macs, rfs[sub.output], tuple(warnings), activations)


def make_infer(expand, resolve=None):
    def infer(p, ins):
        from . import get  # the registry imports this module
        return infer_subgraph(expand(p, ins), ins, resolve or get)
    return infer


def composite(key, title, params, expand, doc):
    return BlockSpec(key, title, COMPOSITE, doc.split(". ")[0], params, make_infer(expand, None),
                     None, expand=expand, doc=doc)


# Residual blocks ------------------------------------------------------------------------

def _shortcut(b: Builder, ins, out_channels, stride):
    """Identity, or the 1×1 projection (conv + BN) when the shape changes."""
    if stride == 1 and ins[0][0] == out_channels:
        return "$in0"
    b.add("downsample_0", "conv2d", "$in0", out_channels=out_channels, kernel=1, stride=stride, bias=False)
    return b.add("downsample_1", "batchnorm2d", "downsample_0")


def residual_basic(p, ins):
    expect_rank(ins[0], 3, "Residual block")
    c, s = p["out_channels"], p["stride"]
    b = Builder()
    b.add("conv1", "conv2d", "$in0", out_channels=c, kernel=3, stride=s, padding=1, bias=False)
    b.add("bn1", "batchnorm2d", "conv1")
    b.add("relu1", "relu", "bn1")
    b.add("conv2", "conv2d", "relu1", out_channels=c, kernel=3, padding=1, bias=False)
    b.add("bn2", "batchnorm2d", "conv2")
    b.add("add", "add", "bn2", _shortcut(b, ins, c, s))
    return b.done(b.add("relu", "relu", "add"))


def residual_bottleneck(p, ins):
    expect_rank(ins[0], 3, "Bottleneck block")
    w, s = p["width"], p["stride"]
    out = w * p["expansion"]
    b = Builder()
    b.add("conv1", "conv2d", "$in0", out_channels=w, kernel=1, bias=False)
    b.add("bn1", "batchnorm2d", "conv1")
    b.add("relu1", "relu", "bn1")
    b.add("conv2", "conv2d", "relu1", out_channels=w, kernel=3, stride=s, padding=1, bias=False)
    b.add("bn2", "batchnorm2d", "conv2")
    b.add("relu2", "relu", "bn2")
    b.add("conv3", "conv2d", "relu2", out_channels=out, kernel=1, bias=False)
    b.add("bn3", "batchnorm2d", "conv3")
    b.add("add", "add", "bn3", _shortcut(b, ins, out, s))
    return b.done(b.add("relu", "relu", "add"))


def separable_block(p, ins):
    expect_rank(ins[0], 3, "Separable block")
    b = Builder()
    b.add("depthwise", "conv2d", "$in0", out_channels=ins[0][0], kernel=3, stride=p["stride"], padding=1,
          groups=ins[0][0], bias=False)
    b.add("bn1", "batchnorm2d", "depthwise")
    b.add("relu1", "relu", "bn1")
    b.add("pointwise", "conv2d", "relu1", out_channels=p["out_channels"], kernel=1, bias=False)
    b.add("bn2", "batchnorm2d", "pointwise")
    return b.done(b.add("relu2", "relu", "bn2"))


# Inception modules ----------------------------------------------------------------------

def inception_naive(p, ins):
    expect_rank(ins[0], 3, "Inception")
    b = Builder()
    branches = [b.conv_unit("branch1", "$in0", p["c1"], 1, bn=False),
                b.conv_unit("branch3", "$in0", p["c3"], 3, padding=1, bn=False),
                b.conv_unit("branch5", "$in0", p["c5"], 5, padding=2, bn=False),
                b.add("pool", "maxpool2d", "$in0", kernel=3, stride=1, padding=1)]
    return b.done(b.add("concat", "concat", *branches))


def inception_v1(p, ins):
    expect_rank(ins[0], 3, "Inception")
    bn, eps, k3 = p["batch_norm"], 1e-3, p["branch3_kernel"]
    b = Builder()
    br1 = b.conv_unit("branch1", "$in0", p["c1"], 1, bn=bn, eps=eps)
    br2 = b.conv_unit("branch2_1", b.conv_unit("branch2_0", "$in0", p["c3_reduce"], 1, bn=bn, eps=eps),
                      p["c3"], 3, padding=1, bn=bn, eps=eps)
    br3 = b.conv_unit("branch3_1", b.conv_unit("branch3_0", "$in0", p["c5_reduce"], 1, bn=bn, eps=eps),
                      p["c5"], k3, padding=k3 // 2, bn=bn, eps=eps)
    b.add("branch4_0", "maxpool2d", "$in0", kernel=3, stride=1, padding=1, ceil_mode=True)
    br4 = b.conv_unit("branch4_1", "branch4_0", p["pool_proj"], 1, bn=bn, eps=eps)
    return b.done(b.add("concat", "concat", br1, br2, br3, br4))


def _pool_branch(b, p):
    b.add("branch_pool_0", "avgpool2d", "$in0", kernel=3, stride=1, padding=1)
    return b.conv_unit("branch_pool", "branch_pool_0", p["pool_proj"], 1)


def inception_v2a(p, ins):
    expect_rank(ins[0], 3, "Inception")
    b = Builder()
    br1 = b.conv_unit("branch1", "$in0", p["c1"], 1)
    br2 = b.conv_unit("branch3_1", b.conv_unit("branch3_0", "$in0", p["c3_reduce"], 1), p["c3"], 3, padding=1)
    d = b.conv_unit("branch5_0", "$in0", p["c5_reduce"], 1)
    d = b.conv_unit("branch5_1", d, p["c5"], 3, padding=1)
    br3 = b.conv_unit("branch5_2", d, p["c5"], 3, padding=1)
    return b.done(b.add("concat", "concat", br1, br2, br3, _pool_branch(b, p)))


def _factorised(b, name, src, channels, out, n, steps):
    """1×1 reduce, then ``steps`` pairs of 1×n → n×1 (the last conv gives ``out`` channels)."""
    last = b.conv_unit(f"{name}_0", src, channels, 1)
    for i in range(steps):
        last = b.conv_unit(f"{name}_{2 * i + 1}", last, channels, [1, n], padding=[0, n // 2])
        last = b.conv_unit(f"{name}_{2 * i + 2}", last, out if i == steps - 1 else channels, [n, 1],
                           padding=[n // 2, 0])
    return last


def inception_v2b(p, ins):
    expect_rank(ins[0], 3, "Inception")
    b = Builder()
    n, mid = p["n"], p["c_mid"]
    br1 = b.conv_unit("branch1", "$in0", p["c1"], 1)
    br2 = _factorised(b, "branch_nxn", "$in0", mid, p["c_out"], n, 1)
    br3 = _factorised(b, "branch_nxn_dbl", "$in0", mid, p["c_out"], n, 2)
    return b.done(b.add("concat", "concat", br1, br2, br3, _pool_branch(b, p)))


def inception_v2c(p, ins):
    expect_rank(ins[0], 3, "Inception")
    b = Builder()
    br1 = b.conv_unit("branch1", "$in0", p["c1"], 1)
    r = b.conv_unit("branch3_0", "$in0", p["c3"], 1)
    br2a = b.conv_unit("branch3_1a", r, p["c3"], [1, 3], padding=[0, 1])
    br2b = b.conv_unit("branch3_1b", r, p["c3"], [3, 1], padding=[1, 0])
    d = b.conv_unit("branch3dbl_0", "$in0", p["c3dbl_reduce"], 1)
    d = b.conv_unit("branch3dbl_1", d, p["c3"], 3, padding=1)
    br3a = b.conv_unit("branch3dbl_2a", d, p["c3"], [1, 3], padding=[0, 1])
    br3b = b.conv_unit("branch3dbl_2b", d, p["c3"], [3, 1], padding=[1, 0])
    return b.done(b.add("concat", "concat", br1, br2a, br2b, br3a, br3b, _pool_branch(b, p)))


def aux_head(p, ins):
    expect_rank(ins[0], 3, "Auxiliary head")
    b = Builder()
    b.add("pool", "adaptive_avgpool2d", "$in0", output_size=4)
    last = b.conv_unit("conv", "pool", 128, 1, bn=p["batch_norm"], eps=1e-3)
    b.add("flatten", "flatten", last)
    b.add("fc1", "linear", "flatten", out_features=1024)
    b.add("fc1_relu", "relu", "fc1")
    b.add("dropout", "dropout", "fc1_relu", p=p["dropout"])
    return b.done(b.add("fc2", "linear", "dropout", out_features=p["num_classes"]))


def _ch(name, default, help_):
    return Param(name, "int", default, help_, min=1, max=1 << 16)


def _stride():
    return Param("stride", "int", 1, "stride of the block (2 halves the size; adds a projection shortcut)",
                 min=1, max=4)


def blocks():
    return [
        composite("residual_basic", "Residual block (basic)",
                  (_ch("out_channels", 64, "channels of both 3×3 convs and of the output"), _stride()),
                  residual_basic,
                  "3×3 → BN → ReLU → 3×3 → BN, + shortcut, ReLU (ResNet-18/34). The shortcut becomes a 1×1 "
                  "conv + BN automatically when the stride or channel count changes."),
        composite("residual_bottleneck", "Residual block (bottleneck)",
                  (_ch("width", 64, "channels of the 1×1 reduce and the 3×3"), _stride(),
                   Param("expansion", "int", 4, "output channels = width × expansion", min=1, max=8)),
                  residual_bottleneck,
                  "1×1 reduce → 3×3 → 1×1 expand ×4, + shortcut (ResNet-50/101/152)."),
        composite("separable_block", "Depthwise-separable block",
                  (_ch("out_channels", 64, "channels of the pointwise conv"), _stride()),
                  separable_block, "depthwise 3×3 → BN → ReLU → pointwise 1×1 → BN → ReLU (MobileNet)."),
        composite("inception_naive", "Inception (naive)",
                  (_ch("c1", 64, "1×1 filters"), _ch("c3", 128, "3×3 filters"), _ch("c5", 32, "5×5 filters")),
                  inception_naive, "Parallel 1×1, 3×3, 5×5 convs and 3×3 max-pool, depth-concatenated. "
                  "The pool branch passes every input channel through: the depth only grows."),
        composite("inception_v1", "Inception v1",
                  (_ch("c1", 64, "1×1 branch"), _ch("c3_reduce", 96, "1×1 before the 3×3"), _ch("c3", 128, "3×3"),
                   _ch("c5_reduce", 16, "1×1 before the 5×5"), _ch("c5", 32, "5×5"),
                   _ch("pool_proj", 32, "1×1 after the pool"),
                   Param("batch_norm", "bool", False, "conv → BN → ReLU in every branch (torchvision's GoogLeNet)"),
                   Param("branch3_kernel", "choice", 5, "kernel of the '5×5' branch (torchvision uses 3)",
                         choices=(3, 5))),
                  inception_v1, "1×1 ‖ 1×1→3×3 ‖ 1×1→5×5 ‖ pool→1×1, concatenated (GoogLeNet). The 1×1 "
                  "reductions cut the compute about tenfold."),
        composite("inception_v2a", "Inception v2 (a)",
                  (_ch("c1", 64, "1×1 branch"), _ch("c3_reduce", 48, "1×1 before the 3×3"), _ch("c3", 64, "3×3"),
                   _ch("c5_reduce", 64, "1×1 before the two 3×3"), _ch("c5", 96, "each 3×3 of the pair"),
                   _ch("pool_proj", 32, "1×1 after the pool")),
                  inception_v2a, "The 5×5 replaced by two 3×3 (same field, 28% fewer weights); BN inside."),
        composite("inception_v2b", "Inception v2 (b) / v3",
                  (_ch("c1", 192, "1×1 branch"), _ch("c_mid", 128, "channels inside the factorised branches"),
                   _ch("c_out", 192, "output of each factorised branch"), _ch("pool_proj", 192, "1×1 after the pool"),
                   Param("n", "int", 7, "n of the 1×n / n×1 factorisation (v3 uses 7 on 17×17 maps)",
                         min=3, max=15)),
                  inception_v2b, "n×n replaced by 1×n → n×1; BN inside."),
        composite("inception_v2c", "Inception v2 (c)",
                  (_ch("c1", 320, "1×1 branch"), _ch("c3", 384, "each 1×3 / 3×1"),
                   _ch("c3dbl_reduce", 448, "1×1 before the 3×3"), _ch("pool_proj", 192, "1×1 after the pool")),
                  inception_v2c, "The last 3×3 replaced by parallel 1×3 ‖ 3×1 (expanded filter bank)."),
        composite("aux_head", "Auxiliary classifier head",
                  (Param("num_classes", "int", 1000, "classes", min=1, max=1 << 20),
                   Param("batch_norm", "bool", True, "BN after the 1×1 conv (torchvision)"),
                   Param("dropout", "float", 0.7, "probability of dropping a unit", min=0, max=1)),
                  aux_head, "avg-pool → 1×1 conv → FC 1024 → FC classes (GoogLeNet's training-time helper)."),
    ]


__all__ = ["Builder", "infer_subgraph", "compose_rf", "composite", "blocks"]
