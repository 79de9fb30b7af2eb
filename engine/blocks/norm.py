"""Normalisation and regularisation: batch/group/layer/instance norm, LRN, dropout."""
from __future__ import annotations

from .base import BlockSpec, Inference, Param, ShapeProblem, fmt_shape
from .common import check_divisible, expect_rank, prod
from .lazy import nn


def batchnorm_infer(nd):
    def infer(p, ins):
        (x,) = ins
        ranks = (1, 2) if nd == 1 else (nd + 1,)
        if len(x) not in ranks:
            want = "C or C×L" if nd == 1 else ("C×H×W" if nd == 2 else "C×D×H×W")
            raise ShapeProblem(f"BatchNorm{nd}d expects {want} but receives {fmt_shape(x)}",
                               fix=f"use BatchNorm{max(1, len(x) - 1)}d for this input", received=x)
        if p["eps"] <= 0:
            # A channel that is constant over the batch has variance 0: eps is all that keeps
            # 1/√(σ² + ε) finite, so PyTorch refuses eps = 0 in training.
            raise ShapeProblem(f"BatchNorm{nd}d: eps = 0 divides by zero for a channel whose values are all "
                               "equal; PyTorch refuses it in training",
                               fix="set eps to a small positive number (1e-5 is the usual value)",
                               expected="eps > 0", received=p["eps"])
        c = x[0]
        return Inference(x, 2 * c if p["affine"] else 0, 2 * c + 1 if p["track_running_stats"] else 0)
    return infer


def batchnorm_params():
    return (Param("eps", "float", 1e-5, "added to the variance for stability", min=0, max=1),
            Param("momentum", "float", 0.1, "weight of the newest batch in the running averages", min=0, max=1),
            Param("affine", "bool", True, "learn a scale γ and shift β per channel"),
            Param("track_running_stats", "bool", True, "keep running averages for evaluation"))


def lrn_infer(p, ins):
    (x,) = ins
    if len(x) < 2:
        raise ShapeProblem("LRN needs channels and spatial axes", fix="place it after a convolution", received=x)
    return Inference(x)


def groupnorm_infer(p, ins):
    (x,) = ins
    check_divisible("GroupNorm", x[0], p["num_groups"], "channels")
    return Inference(x, 2 * x[0] if p["affine"] else 0)


def layernorm_infer(p, ins):
    (x,) = ins
    return Inference(x, 2 * prod(x) if p["affine"] else 0)


def instancenorm_infer(p, ins):
    (x,) = ins
    if len(x) not in (2, 3, 4):
        raise ShapeProblem(f"InstanceNorm needs channels and 1-3 spatial axes, receives {fmt_shape(x)}",
                           fix="place it after a convolution", received=x)
    if prod(x[1:]) == 1:
        # Each channel of each sample is normalised over its own positions: one position has
        # no spread, and PyTorch refuses it in training ("Expected more than 1 spatial element").
        raise ShapeProblem(f"InstanceNorm: the input {fmt_shape(x)} has a single position per channel, "
                           "nothing to normalise over (PyTorch refuses it in training)",
                           fix="move it before the layer that shrinks the map to one position, or use "
                               "BatchNorm or LayerNorm here", expected="more than 1 position", received=x)
    c = x[0]
    return Inference(x, 2 * c if p["affine"] else 0, 2 * c + 1 if p["track_running_stats"] else 0)


def instancenorm_build(p, ins):
    cls = {2: nn.InstanceNorm1d, 3: nn.InstanceNorm2d, 4: nn.InstanceNorm3d}[len(ins[0])]
    return cls(ins[0][0], p["eps"], affine=p["affine"], track_running_stats=p["track_running_stats"])


def dropout_infer(p, ins):
    return Inference(ins[0])


def dropout2d_infer(p, ins):
    expect_rank(ins[0], 3, "Dropout2d")
    return Inference(ins[0])


DROP_HELP = ("probability of DROPPING a unit (PyTorch's p). Course notes often give the probability "
             "of KEEPING one: keep 0.5 → p = 0.5, keep 0.8 (inputs) → p = 0.2")


def blocks():
    out = []
    for nd in (1, 2, 3):
        out.append(BlockSpec(
            f"batchnorm{nd}d", f"BatchNorm{nd}d", "Normalization",
            "y = γ·(x − μ_batch)/√(σ²_batch + ε) + β; params = 2·C (+ 2·C running buffers)",
            batchnorm_params(), batchnorm_infer(nd),
            lambda p, ins, nd=nd: getattr(nn, f"BatchNorm{nd}d")(ins[0][0], p["eps"], p["momentum"],
                                                                p["affine"], p["track_running_stats"]),
            doc="After conv/linear, before the nonlinearity; allows larger learning rates."))
    out += [
        BlockSpec("lrn", "Local response norm", "Normalization",
                  "b = a / (k + α/n · Σ a²)^β over n neighbouring channels",
                  (Param("size", "int", 5, "n, neighbouring channels", min=1, max=1024),
                   Param("alpha", "float", 1e-4, "α", min=0, max=10),
                   Param("beta", "float", 0.75, "β", min=0, max=10),
                   Param("k", "float", 2.0, "k (AlexNet: 2)", min=0, max=100)),
                  lrn_infer, lambda p, ins: nn.LocalResponseNorm(p["size"], p["alpha"], p["beta"], p["k"]),
                  doc="AlexNet's NORM1/NORM2 (size 5, α 1e-4, β 0.75, k 2). VGG dropped it."),
        BlockSpec("groupnorm", "GroupNorm", "Normalization", "normalise over groups of channels; params = 2·C",
                  (Param("num_groups", "int", 8, "channel groups", min=1, max=1 << 16),
                   Param("eps", "float", 1e-5, "stability term", min=0, max=1),
                   Param("affine", "bool", True, "learn γ and β")),
                  groupnorm_infer, lambda p, ins: nn.GroupNorm(p["num_groups"], ins[0][0], p["eps"], p["affine"])),
        BlockSpec("layernorm", "LayerNorm", "Normalization", "normalise over all features of a sample; "
                  "params = 2·(number of features)",
                  (Param("eps", "float", 1e-5, "stability term", min=0, max=1),
                   Param("affine", "bool", True, "learn γ and β per feature")),
                  layernorm_infer, lambda p, ins: nn.LayerNorm(list(ins[0]), p["eps"], p["affine"])),
        BlockSpec("instancenorm", "InstanceNorm", "Normalization", "normalise each channel of each sample",
                  (Param("eps", "float", 1e-5, "stability term", min=0, max=1),
                   Param("affine", "bool", False, "learn γ and β per channel"),
                   Param("track_running_stats", "bool", False, "keep running averages")),
                  instancenorm_infer, instancenorm_build),
        BlockSpec("dropout", "Dropout", "Regularization", "zero each unit with probability p, scale by 1/(1−p)",
                  (Param("p", "float", 0.5, DROP_HELP, min=0, max=1),), dropout_infer,
                  lambda p, ins: nn.Dropout(p["p"]), doc="Active in training only."),
        BlockSpec("dropout2d", "Dropout2d", "Regularization", "zero whole channels with probability p",
                  (Param("p", "float", 0.5, DROP_HELP, min=0, max=1),), dropout2d_infer,
                  lambda p, ins: nn.Dropout2d(p["p"])),
    ]
    return out
