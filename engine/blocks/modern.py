"""Blocks of the modern CNNs (MobileNet v2/v3, EfficientNet, ShuffleNet, RegNet, ConvNeXt):
element-wise product and channel gating, channel shuffle and split, LayerNorm over the
channels of an image, layer scale, stochastic depth, and the squeeze-and-excitation block.
"""
from __future__ import annotations

from .base import BlockSpec, Inference, Param, Port, ShapeProblem, fmt_shape
from .common import check_divisible, expect_rank
from .composites import Builder, composite
from .lazy import modules


def multiply_infer(p, ins):
    if not ins:
        raise ShapeProblem("Multiply has no inputs", fix="connect the value and the gate to it")
    out = list(ins[0])
    for i, x in enumerate(ins[1:], 2):
        if len(x) != len(out):
            raise ShapeProblem(f"Multiply: input {i} is {fmt_shape(x)} but input 1 is {fmt_shape(ins[0])}; "
                               "the inputs need the same number of axes",
                               fix="a channel gate has the shape C×1×1 of a C×H×W input: pool it with "
                                   "adaptive average pooling to 1 instead of flattening it",
                               expected=len(out), received=len(x))
        for axis, (a, b) in enumerate(zip(out, x)):
            if a != b and 1 not in (a, b):
                raise ShapeProblem(f"Multiply: inputs {fmt_shape(ins[0])} and {fmt_shape(x)} differ along axis "
                                   f"{axis + 1} ({a} against {b})",
                                   fix="along each axis the sizes must be equal, or one of them 1 (a gate "
                                       "C×1×1 scales each channel of C×H×W)", expected=a, received=b)
            out[axis] = max(a, b)
    return Inference(tuple(out))


def channel_shuffle_infer(p, ins):
    (x,) = ins
    check_divisible("Channel shuffle", x[0], p["groups"], "channels")
    return Inference(x)


def channel_chunk_infer(p, ins):
    (x,) = ins
    c, chunks, index = x[0], p["chunks"], p["index"]
    size = -(-c // chunks)
    count = -(-c // size)
    if index >= count:
        raise ShapeProblem(f"Channel split: {c} channels in pieces of {size} make {count} piece(s); there is "
                           f"no piece {index} (pieces count from 0)",
                           fix=f"set index below {count}, or give the previous layer more channels",
                           expected=f"index < {count}", received=index)
    return Inference((min(size, c - index * size), *x[1:]))


def channel_layernorm_infer(p, ins):
    (x,) = ins
    return Inference(x, 2 * x[0] if p["affine"] else 0)


def layer_scale_infer(p, ins):
    (x,) = ins
    return Inference(x, x[0])


def stochastic_depth_infer(p, ins):
    return Inference(ins[0])


def squeeze_excitation(p, ins):
    expect_rank(ins[0], 3, "Squeeze-and-excitation")
    b = Builder()
    b.add("avgpool", "adaptive_avgpool2d", "$in0", output_size=1)
    b.add("fc1", "conv2d", "avgpool", out_channels=p["squeeze_channels"], kernel=1)
    b.add("activation", p["activation"], "fc1")
    b.add("fc2", "conv2d", "activation", out_channels=ins[0][0], kernel=1)
    b.add("scale_activation", p["gate"], "fc2")
    return b.done(b.add("scale", "multiply", "scale_activation", "$in0"))


def blocks():
    return [
        BlockSpec("multiply", "Multiply", "Structure", "element-wise product; a size-1 axis is repeated "
                  "(a C×1×1 gate scales each channel)", (), multiply_infer, lambda p, ins: modules.Multiply(),
                  inputs=(Port("in", multi=True),),
                  doc="Gating: squeeze-and-excitation multiplies the input by per-channel weights in [0, 1]."),
        BlockSpec("channel_shuffle", "Channel shuffle", "Structure",
                  "C = g·n channels read as g×n and transposed to n×g; no parameters",
                  (Param("groups", "int", 2, "g: the groups of the grouped convolution before it", min=1,
                         max=1 << 16),),
                  channel_shuffle_infer, lambda p, ins: modules.ChannelShuffle(p["groups"]),
                  doc="ShuffleNet: lets information flow between the groups of consecutive grouped convolutions."),
        BlockSpec("channel_chunk", "Channel split", "Structure",
                  "piece `index` of the channels cut into `chunks` pieces (torch.chunk)",
                  (Param("chunks", "int", 2, "number of pieces (the last may be smaller)", min=1, max=1 << 16),
                   Param("index", "int", 0, "which piece, counting from 0", min=0, max=(1 << 16) - 1)),
                  channel_chunk_infer, lambda p, ins: modules.ChannelChunk(p["chunks"], p["index"]),
                  doc="ShuffleNet v2 splits the channels in two: one half passes through, the other is convolved."),
        BlockSpec("channel_layernorm", "LayerNorm (channels)", "Normalization",
                  "normalise over the channels at each position; params = 2·C",
                  (Param("eps", "float", 1e-6, "stability term", min=0, max=1),
                   Param("affine", "bool", True, "learn γ and β per channel")),
                  channel_layernorm_infer,
                  lambda p, ins: modules.ChannelLayerNorm(ins[0][0], p["eps"], p["affine"]),
                  doc="ConvNeXt's LayerNorm2d: a LayerNorm of each pixel's channel vector, independent of "
                      "the batch."),
        BlockSpec("layer_scale", "Layer scale", "Normalization", "y = γ·x, one learned γ per channel; params = C",
                  (Param("init_value", "float", 1e-6, "starting value of every γ (ConvNeXt: 1e-6)", min=0,
                         max=1e3),),
                  layer_scale_infer,
                  lambda p, ins: modules.LayerScale(ins[0][0], len(ins[0]) - 1, p["init_value"]),
                  doc="Scales a residual branch, starting near 0 so deep networks begin close to the identity."),
        BlockSpec("stochastic_depth", "Stochastic depth", "Regularization",
                  "training: drop the branch with probability p, scale by 1/(1−p); inference: y = x",
                  (Param("p", "float", 0.1, "probability of dropping the branch", min=0, max=1),
                   Param("mode", "choice", "row", "'row': per sample; 'batch': the whole batch at once",
                         choices=("row", "batch"))),
                  stochastic_depth_infer, lambda p, ins: modules.StochasticDepth(p["p"], p["mode"]),
                  doc="Put it on a residual branch before the Add (EfficientNet, ConvNeXt): the network is "
                      "trained as an ensemble of shallower ones."),
        composite("squeeze_excitation", "Squeeze-and-excitation",
                  (Param("squeeze_channels", "int", 16, "channels of the bottleneck (input channels / 4 or "
                         "/ 16)", min=1, max=1 << 16),
                   Param("activation", "choice", "relu", "between the two 1×1 convs (EfficientNet: silu)",
                         choices=("relu", "silu")),
                   Param("gate", "choice", "sigmoid", "the gate's function (MobileNet v3: hardsigmoid)",
                         choices=("sigmoid", "hardsigmoid"))),
                  squeeze_excitation,
                  "global average → 1×1 conv → act → 1×1 conv → gate, times the input. Reweights the channels "
                  "by what the whole image contains (SENet, MobileNet v3, EfficientNet, RegNet-Y)."),
    ]
