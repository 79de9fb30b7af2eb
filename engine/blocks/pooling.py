"""Pooling family: max, average, L2 (power-average), global and adaptive pooling."""
from __future__ import annotations

from .base import GLOBAL_RF, BlockSpec, Inference, Param, ShapeProblem, fmt_shape
from .common import axes, expect_rank, p_kernel, p_stride, spatial_out
from .lazy import modules, nn

POOL_FORMULA = "out = ⌊(in + 2p − k) / s⌋ + 1 (⌈⌉ with ceil mode); no parameters"


def window_infer(what: str, nd: int, has_padding=True, window_within_input=False):
    """``window_within_input``: the window must fit the input before padding (PyTorch's
    avg_pool3d checks this; the other poolings only need an output of at least 1)."""
    def infer(p, ins):
        (x,) = ins
        expect_rank(x, nd + 1, what)
        k = axes(p["kernel"], nd)
        s = axes(p["stride"], nd) if p["stride"] is not None else k
        pad = axes(p["padding"], nd) if has_padding else (0,) * nd
        for ki, pi in zip(k, pad):
            if pi > ki // 2:
                raise ShapeProblem(f"{what}: padding {pi} is more than half the window {ki}",
                                   fix=f"use padding ≤ {ki // 2}", expected=f"≤ {ki // 2}", received=pi)
        if window_within_input and any(ki > n for ki, n in zip(k, x[1:])):
            fits = tuple(min(ki, n) for ki, n in zip(k, x[1:]))
            raise ShapeProblem(
                f"{what}: the window {fmt_shape(k)} is larger than the input {fmt_shape(x[1:])}; PyTorch checks "
                "the input before padding, so padding does not help",
                fix=f"use a window of at most {fmt_shape(fits)}, a larger input, or adaptive average pooling",
                expected=f"window ≤ {fmt_shape(x[1:])}", received=k)
        out, warns = spatial_out(what, x[1:], k, s, pad, (1,) * nd, p["ceil_mode"])
        return Inference((x[0], *out), 0, 0, 0, tuple(zip(k, s)), warns)
    return infer


def window_params(kernel=2, padding=True):
    ps = [p_kernel(kernel), p_stride(None, optional=True, help_="step between windows (empty = kernel size)")]
    if padding:
        ps.append(Param("padding", "ints", 0, "implicit padding on each side (≤ half the window)",
                        min=0, max=512, unit="px"))
    ps.append(Param("ceil_mode", "bool", False, "round the output size up (the last partial window counts)"))
    return tuple(ps)


def _stride(p):
    return p["stride"] if p["stride"] is not None else p["kernel"]


def _lp_window(value, nd):
    # F.lp_pool1d multiplies by kernel_size, so it must be an int there, not a 1-tuple.
    sizes = axes(value, nd)
    return sizes[0] if nd == 1 else sizes


def adaptive_infer(what, nd):
    def infer(p, ins):
        (x,) = ins
        expect_rank(x, nd + 1, what)
        out = axes(p["output_size"], nd)
        rf = tuple((-(-n // o) + (1 if n % o else 0), max(1, n // o)) for n, o in zip(x[1:], out))
        return Inference((x[0], *out), rf=rf)
    return infer


def global_infer(what):
    def infer(p, ins):
        (x,) = ins
        if len(x) < 2:
            raise ShapeProblem(f"{what} needs spatial axes but receives a flat vector of {x[0]}",
                               fix="remove it, or move it before the Flatten", received=x)
        return Inference((x[0],), rf=GLOBAL_RF)
    return infer


def blocks():
    out = []
    for nd in (1, 2, 3):
        out.append(BlockSpec(
            f"maxpool{nd}d", f"MaxPool{nd}d", "Pooling", POOL_FORMULA, window_params(),
            window_infer(f"MaxPool{nd}d", nd),
            lambda p, ins, nd=nd: getattr(nn, f"MaxPool{nd}d")(axes(p["kernel"], nd), axes(_stride(p), nd),
                                                             axes(p["padding"], nd), ceil_mode=p["ceil_mode"]),
            doc="Keeps the largest value of each window: a little translation invariance."))
        out.append(BlockSpec(
            f"avgpool{nd}d", f"AvgPool{nd}d", "Pooling", POOL_FORMULA,
            window_params() + (Param("count_include_pad", "bool", True, "average over padding zeros too"),),
            window_infer(f"AvgPool{nd}d", nd, window_within_input=nd == 3),
            lambda p, ins, nd=nd: getattr(nn, f"AvgPool{nd}d")(axes(p["kernel"], nd), axes(_stride(p), nd),
                                                             axes(p["padding"], nd), ceil_mode=p["ceil_mode"],
                                                             count_include_pad=p["count_include_pad"]),
            doc="Mean of each window."))
        out.append(BlockSpec(
            f"adaptive_avgpool{nd}d", f"AdaptiveAvgPool{nd}d", "Pooling",
            "windows chosen so the output has the requested size; no parameters",
            (Param("output_size", "ints", 1, "output size per spatial axis", min=1, max=4096),),
            adaptive_infer(f"AdaptiveAvgPool{nd}d", nd),
            lambda p, ins, nd=nd: getattr(nn, f"AdaptiveAvgPool{nd}d")(axes(p["output_size"], nd)),
            doc="Makes the classifier independent of the input size."))
        out.append(BlockSpec(
            f"adaptive_maxpool{nd}d", f"AdaptiveMaxPool{nd}d", "Pooling",
            "windows chosen so the output has the requested size; no parameters",
            (Param("output_size", "ints", 1, "output size per spatial axis", min=1, max=4096),),
            adaptive_infer(f"AdaptiveMaxPool{nd}d", nd),
            lambda p, ins, nd=nd: getattr(nn, f"AdaptiveMaxPool{nd}d")(axes(p["output_size"], nd))))
    for nd in (1, 2):
        out.append(BlockSpec(
            f"lppool{nd}d", f"L2 / power-average pool {nd}d", "Pooling",
            "out = (Σ x^p)^(1/p) over the window; p = 2 is L2 pooling (the material's 'RMS' is this)",
            (Param("norm_type", "float", 2.0, "p of the p-norm (2 = L2, large p → max)", min=1, max=64),)
            + window_params(padding=False),
            window_infer(f"LPPool{nd}d", nd, has_padding=False),
            lambda p, ins, nd=nd: getattr(nn, f"LPPool{nd}d")(p["norm_type"], _lp_window(p["kernel"], nd),
                                                            _lp_window(_stride(p), nd), ceil_mode=p["ceil_mode"]),
            doc="Square root of the sum of squares over each window (not the mean: that would be RMS)."))
    out.append(BlockSpec("global_avgpool", "Global average pool", "Pooling",
                         "C×H×W → C: mean over every spatial position", (), global_infer("Global average pool"),
                         lambda p, ins: modules.GlobalPool("avg"), doc="GoogLeNet's replacement for big FC layers."))
    out.append(BlockSpec("global_maxpool", "Global max pool", "Pooling",
                         "C×H×W → C: max over every spatial position", (), global_infer("Global max pool"),
                         lambda p, ins: modules.GlobalPool("max")))
    return out
