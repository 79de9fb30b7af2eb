"""Structure blocks: Input, Output, Linear, Flatten, Concat, Add, Identity."""
from __future__ import annotations

import math

from .base import MAX_FEATURES, BlockSpec, Inference, Param, Port, ShapeProblem, Warn, fmt_shape
from .common import p_shape_default, prod
from .lazy import modules, nn


class Flattened(tuple):
    """A flat shape that remembers what it was flattened from, so a Linear that receives the
    wrong number of features can suggest the pooling that would fix it."""

    source: tuple = ()


def input_infer(p, ins):
    shape = tuple(p["shape"])
    if prod(shape) > 1 << 28:
        raise ShapeProblem(f"Input: {fmt_shape(shape)} is {prod(shape):,} values per sample, more than "
                           "any network here can hold", fix="use a smaller input", received=shape)
    return Inference(shape, rf=tuple((1, 1) for _ in shape[1:]))


def output_infer(p, ins):
    return Inference(ins[0])


def linear_infer(p, ins):
    (x,) = ins
    features = x[-1]
    expected = p["in_features"]
    if expected is not None and expected != features:
        fix = "let in_features follow the input (clear it)"
        source = getattr(x, "source", ())
        if len(source) >= 2 and expected % source[0] == 0:
            side = math.isqrt(expected // source[0])
            if side * side * source[0] == expected and len(source) == 3:
                fix = f"insert adaptive average pooling to {side}×{side} before the Flatten, or " + fix
        raise ShapeProblem(f"Linear expects {expected} inputs but receives {features}"
                           + (f" (flattened from {fmt_shape(source)})" if source else ""),
                           fix=fix, expected=expected, received=features)
    out = p["out_features"]
    params = features * out + (out if p["bias"] else 0)
    warns = ()
    if len(x) > 1:
        warns = (Warn("linear-not-flat", f"Linear acts on the last axis only of {fmt_shape(x)}",
                      "insert a Flatten before it to connect every feature"),)
    return Inference((*x[:-1], out), params, 0, prod(x[:-1]) * features * out, None, warns)


def linear_build(p, ins):
    return nn.Linear(ins[0][-1], p["out_features"], p["bias"])


def flatten_infer(p, ins):
    (x,) = ins
    out = Flattened((prod(x),))
    out.source = tuple(x)
    return Inference(out)


def concat_infer(p, ins):
    if not ins:
        raise ShapeProblem("Concat has no inputs", fix="connect two or more branches to it")
    first = ins[0]
    for i, x in enumerate(ins[1:], 2):
        if len(x) != len(first) or x[1:] != first[1:]:
            raise ShapeProblem(
                f"Concat: input {i} is {fmt_shape(x)} but input 1 is {fmt_shape(first)}; every axis but the "
                "channels must match",
                fix="give every branch the same stride and padding (e.g. padding k // 2 on each conv), "
                    "or pool the larger branch", expected=first[1:], received=x[1:])
    return Inference((sum(x[0] for x in ins), *first[1:]))


def add_infer(p, ins):
    if not ins:
        raise ShapeProblem("Add has no inputs", fix="connect the branch and the shortcut to it")
    first = ins[0]
    for i, x in enumerate(ins[1:], 2):
        if x == first:
            continue
        if len(x) == len(first) and x[1:] == first[1:]:
            raise ShapeProblem(
                f"Add: inputs have {first[0]} and {x[0]} channels",
                fix=f"insert a 1×1 conv with {first[0]} outputs on the shortcut, or set the branch's last "
                    f"conv to {x[0]} channels", expected=first[0], received=x[0])
        if len(x) == len(first) and x[0] == first[0]:
            raise ShapeProblem(
                f"Add: inputs are {fmt_shape(first)} and {fmt_shape(x)}; the spatial sizes differ",
                fix="give the shortcut a 1×1 conv with the branch's stride, or match the padding",
                expected=first, received=x)
        raise ShapeProblem(f"Add: inputs {fmt_shape(first)} and {fmt_shape(x)} do not match",
                           fix="both inputs of an Add must have the same shape", expected=first, received=x)
    return Inference(first)


def blocks():
    return [
        BlockSpec("input", "Input", "Structure", "a batch of samples of the given shape",
                  (p_shape_default(),), input_infer, lambda p, ins: nn.Identity(), inputs=(),
                  doc="Where data enters. Shape without the batch axis: (C, L), (C, H, W) or (C, D, H, W)."),
        BlockSpec("output", "Output", "Structure", "the network's prediction (logits, or probabilities)",
                  (Param("softmax", "bool", False, "apply softmax at inference (training always sees "
                         "logits, as cross-entropy expects)"),),
                  output_infer, lambda p, ins: modules.ClassifierOutput(p["softmax"]), outputs=(),
                  doc="Its size should equal the number of classes."),
        BlockSpec("linear", "Linear", "Structure", "y = Wx + b; params = in·out + out",
                  (Param("out_features", "int", 10, "number of outputs", min=1, max=MAX_FEATURES),
                   Param("in_features", "int", None, "expected inputs (empty = follow the input)",
                         min=1, max=MAX_FEATURES, optional=True),
                   Param("bias", "bool", True, "learn one offset per output")),
                  linear_infer, linear_build, doc="Fully connected layer."),
        BlockSpec("flatten", "Flatten", "Structure", "C×H×W → C·H·W", (), flatten_infer,
                  lambda p, ins: nn.Flatten(), doc="Between the feature extractor and the classifier."),
        BlockSpec("concat", "Concatenate", "Structure", "stack inputs along channels: C = Σ C_i", (),
                  concat_infer, lambda p, ins: modules.Concat(1), inputs=(Port("in", multi=True),),
                  doc="Depth concatenation (inception). Inputs in the order they were connected."),
        BlockSpec("add", "Add", "Structure", "element-wise sum; every input has the same shape", (),
                  add_infer, lambda p, ins: modules.Add(), inputs=(Port("in", multi=True),),
                  doc="The residual sum: branch + shortcut."),
        BlockSpec("identity", "Identity", "Structure", "y = x", (), output_infer, lambda p, ins: nn.Identity()),
    ]
