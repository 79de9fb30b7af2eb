"""Convolution family: Conv1d/2d/3d (dilated, grouped, 1×1), transposed, separable, space-to-depth."""
from __future__ import annotations

from .base import BlockSpec, Inference, Param, ShapeProblem, fmt_shape
from .common import (
    axes,
    check_divisible,
    expect_rank,
    p_channels,
    p_dilation,
    p_kernel,
    p_padding,
    p_stride,
    prod,
    spatial_out,
)
from .lazy import modules, nn

CONV_FORMULA = ("out = ⌊(in + 2p − d·(k−1) − 1) / s⌋ + 1; params = k·k·C_in/g·K + K; "
                "MACs = out_h·out_w·K·k·k·C_in/g")


def _padding(p, nd, what, stride):
    pad = p["padding"]
    if pad == "valid":
        return (0,) * nd, False
    if pad == "same":
        if any(s != 1 for s in stride):
            raise ShapeProblem(f"{what}: padding 'same' needs stride 1 (PyTorch refuses it otherwise)",
                               fix="set stride to 1, or give the padding as numbers (k // 2 keeps ⌈in/s⌉)",
                               expected="stride 1", received=p["stride"])
        return None, True
    return axes(pad, nd), False


def conv_infer(nd: int):
    what = f"Conv{nd}d"

    def infer(p, ins):
        (x,) = ins
        if len(x) != nd + 1:
            expect_rank(x, nd + 1, what)
        c_in, spatial = x[0], x[1:]
        # One number per parameter is the common case: broadcast it here rather than by a call.
        k, s, d, pad = p["kernel"], p["stride"], p["dilation"], p["padding"]
        k = (k,) * nd if type(k) is int else axes(k, nd)
        s = (s,) * nd if type(s) is int else axes(s, nd)
        d = (d,) * nd if type(d) is int else axes(d, nd)
        groups, c_out = p["groups"], p["out_channels"]
        if c_in % groups or c_out % groups:
            check_divisible(what, c_in, groups, "input channels")
            check_divisible(what, c_out, groups, "output channels")
        pad, same = ((pad,) * nd, False) if type(pad) is int else _padding(p, nd, what, s)
        if same:
            # PyTorch pads asymmetrically for even kernels; the size is kept either way.
            out, warns = spatial, ()
            for n, ki, di in zip(spatial, k, d):
                if n < 1:
                    raise ShapeProblem(f"{what}: empty input", fix="check the input shape")
        else:
            out, warns = spatial_out(what, spatial, k, s, pad, d)
        per_out = c_in // groups * prod(k)
        params = per_out * c_out + (c_out if p["bias"] else 0)
        macs = prod(out) * c_out * per_out
        rf = tuple([(di * (ki - 1) + 1, si) for ki, si, di in zip(k, s, d)])
        return Inference((c_out, *out), params, 0, macs, rf, warns)

    return infer


def conv_build(nd: int):
    name = f"Conv{nd}d"

    def build(p, ins):
        cls = getattr(nn, name)
        pad = p["padding"] if isinstance(p["padding"], str) else axes(p["padding"], nd)
        return cls(ins[0][0], p["out_channels"], axes(p["kernel"], nd), axes(p["stride"], nd), pad,
                   axes(p["dilation"], nd), p["groups"], p["bias"])

    return build


def conv_params(default_kernel=3):
    return (p_channels(), p_kernel(default_kernel), p_stride(), p_padding(), p_dilation(),
            Param("groups", "int", 1, "split input and output channels into g independent groups "
                  "(g = C_in: depthwise)", min=1, max=1 << 16),
            Param("bias", "bool", True, "learn one offset per output channel (switch off before batch norm)"))


def convT_infer(nd: int):
    what = f"ConvTranspose{nd}d"

    def infer(p, ins):
        (x,) = ins
        expect_rank(x, nd + 1, what)
        c_in, spatial = x[0], x[1:]
        k, s, d = axes(p["kernel"], nd), axes(p["stride"], nd), axes(p["dilation"], nd)
        pad, op = axes(p["padding"], nd), axes(p["output_padding"], nd)
        groups, c_out = p["groups"], p["out_channels"]
        check_divisible(what, c_in, groups, "input channels")
        check_divisible(what, c_out, groups, "output channels")
        for oi, si, di in zip(op, s, d):
            if oi >= max(si, di):
                raise ShapeProblem(f"{what}: output padding {oi} must be smaller than the stride or the dilation",
                                   fix=f"set output_padding below {max(si, di)}", expected=f"< {max(si, di)}", received=oi)
        out = tuple((n - 1) * si - 2 * pi + di * (ki - 1) + oi + 1
                    for n, ki, si, pi, di, oi in zip(spatial, k, s, pad, d, op))
        if any(o <= 0 for o in out):
            raise ShapeProblem(f"{what}: output size {fmt_shape(out)} collapses to ≤ 0",
                               fix="reduce the padding", received=out)
        per_in = c_out // groups * prod(k)
        params = c_in * per_in + (c_out if p["bias"] else 0)
        macs = prod(spatial) * c_in * per_in
        # Each output sees ⌈k_eff / s⌉ input positions; the grid gets s times finer.
        rf = tuple((-(-(di * (ki - 1) + 1) // si), 1 / si) for ki, si, di in zip(k, s, d))
        return Inference((c_out, *out), params, 0, macs, rf)

    return infer


def convT_build(nd: int):
    name = f"ConvTranspose{nd}d"

    def build(p, ins):
        return getattr(nn, name)(ins[0][0], p["out_channels"], axes(p["kernel"], nd), axes(p["stride"], nd),
                   axes(p["padding"], nd), axes(p["output_padding"], nd), p["groups"], p["bias"],
                   axes(p["dilation"], nd))

    return build


def convT_params():
    return (p_channels(), p_kernel(3), p_stride(2), p_padding(0, allow_names=False),
            Param("output_padding", "ints", 0, "extra rows added on one side to pick among the sizes a "
                  "strided conv could have come from", min=0, max=64),
            p_dilation(),
            Param("groups", "int", 1, "independent channel groups", min=1, max=1 << 16),
            Param("bias", "bool", True, "learn one offset per output channel"))


def separable_infer(p, ins):
    (x,) = ins
    what = "Separable conv"
    expect_rank(x, 3, what)
    c_in = x[0]
    mid = c_in * p["depth_multiplier"]
    dw = conv_infer(2)({"kernel": p["kernel"], "stride": p["stride"], "padding": p["padding"],
                        "dilation": p["dilation"], "groups": c_in, "out_channels": mid, "bias": p["bias"]}, ins)
    pw_params = mid * p["out_channels"] + (p["out_channels"] if p["bias"] else 0)
    spatial = dw.shape[1:]
    return Inference((p["out_channels"], *spatial), dw.params + pw_params, 0,
                     dw.macs + prod(spatial) * mid * p["out_channels"], dw.rf, dw.warnings)


def separable_build(p, ins):
    return modules.SeparableConv(ins[0][0], p["out_channels"], axes(p["kernel"], 2), axes(p["stride"], 2),
                         p["padding"] if isinstance(p["padding"], str) else axes(p["padding"], 2),
                         axes(p["dilation"], 2), p["depth_multiplier"], p["bias"])


def space_to_depth_infer(p, ins):
    (x,) = ins
    expect_rank(x, 3, "Space-to-depth")
    r = p["block_size"]
    c, h, w = x
    if h % r or w % r:
        raise ShapeProblem(f"Space-to-depth: {h}×{w} is not divisible by the block size {r}",
                           fix=f"use an input whose height and width are multiples of {r}, or block size 1",
                           expected=f"multiples of {r}", received=(h, w))
    return Inference((c * r * r, h // r, w // r), rf=((r, r), (r, r)))


def blocks():
    out = []
    for nd, use in ((1, "time series and audio (TDNN: find a pattern anywhere along time)"),
                    (2, "images"), (3, "video and volumes")):
        out.append(BlockSpec(f"conv{nd}d", f"Conv{nd}d", "Convolution", CONV_FORMULA, conv_params(),
                             conv_infer(nd), conv_build(nd), doc=f"{nd}-D convolution for {use}. Dilation "
                             "and groups make dilated and grouped convolutions; kernel 1 is a pointwise conv."))
        out.append(BlockSpec(f"conv_transpose{nd}d", f"ConvTranspose{nd}d", "Convolution",
                             "out = (in − 1)·s − 2p + d·(k − 1) + output_padding + 1", convT_params(),
                             convT_infer(nd), convT_build(nd), doc="Learnable upsampling (up-convolution)."))
    out.append(BlockSpec(
        "separable_conv2d", "Depthwise-separable conv", "Convolution",
        "depthwise k×k (groups = C_in) then 1×1 pointwise; params = k²·C_in·m + C_in·m·K",
        (p_channels(default=32), p_kernel(3), p_stride(), p_padding(1), p_dilation(),
         Param("depth_multiplier", "int", 1, "filters per input channel in the depthwise step", min=1, max=64),
         Param("bias", "bool", True, "offsets in both steps")),
        separable_infer, separable_build, doc="MobileNet / Xception factorisation of a convolution."))
    out.append(BlockSpec(
        "space_to_depth", "Space-to-depth", "Convolution", "C×H×W → C·r²×H/r×W/r (PixelUnshuffle)",
        (Param("block_size", "int", 2, "r: each r×r patch becomes r² channels", min=1, max=64),),
        space_to_depth_infer, lambda p, ins: nn.PixelUnshuffle(p["block_size"]),
        doc="Downsampling without stride or pooling: nothing is thrown away."))
    return out
