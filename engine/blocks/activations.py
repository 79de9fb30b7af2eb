"""Activations: element-wise functions (shape unchanged) plus Softmax, Maxout and the step unit."""
from __future__ import annotations

from .base import BlockSpec, Inference, Param, ShapeProblem
from .lazy import modules, nn

HINT = "Use ReLU by default; try Leaky ReLU / ELU / Maxout; avoid sigmoid in hidden layers."


def elementwise(p, ins):
    return Inference(ins[0])


def prelu_infer(p, ins):
    (x,) = ins
    return Inference(x, x[0] if p["per_channel"] else 1)


def softmax_infer(p, ins):
    return Inference(ins[0])


def maxout_infer(p, ins):
    (x,) = ins
    k = p["pieces"]
    if x[0] % k:
        raise ShapeProblem(f"Maxout: {x[0]} channels cannot be split into groups of {k} pieces",
                           fix=f"give the previous layer a multiple of {k} channels ({x[0] - x[0] % k + k})",
                           expected=f"multiple of {k}", received=x[0])
    return Inference((x[0] // k, *x[1:]))


def _simple(key, title, formula, build, params=(), doc=""):
    return BlockSpec(key, title, "Activation", formula, params, elementwise, build, doc=doc or HINT)


def blocks():
    return [
        _simple("relu", "ReLU", "max(0, x)", lambda p, ins: nn.ReLU()),
        _simple("leaky_relu", "Leaky ReLU", "max(αx, x)", lambda p, ins: nn.LeakyReLU(p["negative_slope"]),
                (Param("negative_slope", "float", 0.01, "α, the slope for x < 0", min=0, max=1),)),
        BlockSpec("prelu", "PReLU", "Activation", "max(αx, x), α learned", (
            Param("per_channel", "bool", False, "learn one α per channel instead of one for the layer"),),
            prelu_infer, lambda p, ins: nn.PReLU(ins[0][0] if p["per_channel"] else 1), doc=HINT),
        _simple("elu", "ELU", "x if x > 0 else α(eˣ − 1)", lambda p, ins: nn.ELU(p["alpha"]),
                (Param("alpha", "float", 1.0, "α, the saturation value for x → −∞", min=0, max=100),)),
        _simple("sigmoid", "Sigmoid", "1 / (1 + e⁻ˣ)", lambda p, ins: nn.Sigmoid(),
                doc="Saturates and is not zero-centred: avoid in hidden layers."),
        _simple("tanh", "Tanh", "(eˣ − e⁻ˣ) / (eˣ + e⁻ˣ), range (−1, 1)", lambda p, ins: nn.Tanh()),
        _simple("silu", "Swish / SiLU", "x · sigmoid(x)", lambda p, ins: nn.SiLU()),
        _simple("relu6", "ReLU6", "min(max(0, x), 6)", lambda p, ins: nn.ReLU6(),
                doc="ReLU capped at 6 (MobileNet v2): keeps activations in a range low precision holds."),
        _simple("hardswish", "Hardswish", "x · ReLU6(x + 3) / 6", lambda p, ins: nn.Hardswish(),
                doc="A cheap piecewise approximation of Swish (MobileNet v3)."),
        _simple("hardsigmoid", "Hardsigmoid", "ReLU6(x + 3) / 6, range [0, 1]", lambda p, ins: nn.Hardsigmoid(),
                doc="A cheap piecewise sigmoid (MobileNet v3's squeeze-excitation gate)."),
        _simple("mish", "Mish", "x · tanh(softplus(x))", lambda p, ins: nn.Mish()),
        _simple("gelu", "GELU", "x · Φ(x)", lambda p, ins: nn.GELU()),
        BlockSpec("maxout", "Maxout", "Activation", "max over k affine pieces: channels C → C/k",
                  (Param("pieces", "int", 2, "k: consecutive channels per max (the previous layer "
                         "provides the k affine pieces)", min=2, max=64),),
                  maxout_infer, lambda p, ins: modules.Maxout(p["pieces"]), doc=HINT),
        BlockSpec("softmax", "Softmax", "Activation", "e^{z_j} / Σ_k e^{z_k} over channels", (),
                  softmax_infer, lambda p, ins: nn.Softmax(dim=1),
                  doc="Turns scores into probabilities. Leave it out before a cross-entropy loss."),
        BlockSpec("step", "Threshold (step)", "Activation", "1 if x ≥ threshold else 0",
                  (Param("threshold", "float", 0.0, "b in wᵀx ≥ b", min=-1e6, max=1e6),),
                  elementwise, lambda p, ins: modules.Step(p["threshold"]), trainable=False,
                  doc="The perceptron's unit, for teaching. Its gradient is zero: it cannot be trained "
                      "by backpropagation."),
    ]
