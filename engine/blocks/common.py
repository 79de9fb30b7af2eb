"""Arithmetic shared by the block families: output sizes, rank checks, parameter specs."""
from __future__ import annotations

import math

from .base import MAX_CHANNELS, MAX_KERNEL, MAX_SPATIAL, Param, ShapeProblem, Warn, fmt_shape, ntuple

AXES = {1: "length", 2: "height×width", 3: "depth×height×width"}


def expect_rank(shape, rank: int, what: str, fix: str = ""):
    """Raise a clear error unless ``shape`` has ``rank`` axes (channels + spatial)."""
    if len(shape) != rank:
        axes = "channels" + (f" × {AXES[rank - 1]}" if rank > 1 else "")
        raise ShapeProblem(
            f"{what} expects a {rank}-D input ({axes}) but receives {fmt_shape(shape)}",
            fix=fix or _rank_fix(len(shape), rank), expected=rank, received=len(shape))


def _rank_fix(got: int, want: int) -> str:
    if got == 1:
        return "this input is already flattened; move the Flatten after this block"
    if got > want:
        return f"use the {got - 1}-D variant of this block"
    return f"use the {got - 1}-D variant of this block, or check the input shape"


def out_size(n: int, k: int, s: int, p: int, d: int = 1, ceil: bool = False) -> int:
    """PyTorch's output length along one axis (conv and pooling)."""
    span = n + 2 * p - d * (k - 1) - 1
    if ceil:
        out = -(-span // s) + 1
        # PyTorch: the last window may not start inside the right padding.
        if (out - 1) * s >= n + p:
            out -= 1
        return out
    return span // s + 1


def spatial_out(what, spatial, k, s, p, d, ceil=False):
    """Output sizes of a sliding window, with the uneven-stride warning and collapse error."""
    if not ceil:
        sizes = _window_out(spatial, k, s, p, d)
        if sizes is not None:
            return sizes, ()
    outs, uneven = [], []
    for axis, (n, ki, si, pi, di) in enumerate(zip(spatial, k, s, p, d)):
        o = out_size(n, ki, si, pi, di, ceil)
        if o <= 0:
            need = di * (ki - 1) + 1 - 2 * pi
            raise ShapeProblem(
                f"{what}: the output size collapses to {o} along axis {axis + 1} "
                f"(input {n}, window {di * (ki - 1) + 1} after dilation, padding {pi})",
                fix=f"use an input of at least {need} along that axis, a smaller kernel, "
                    f"or more padding; or remove a downsampling layer before this one",
                expected=f"input ≥ {need}", received=n)
        # Real input rows after the last window's end are never seen (rows of padding don't count).
        # A 1-pixel window with a stride is a deliberate subsampling, not a size that does not
        # divide: it reads one row in every `stride` at any input size (torchvision's ResNet
        # downsamples its shortcut so, with a 1×1 stride-2 conv, while the 3×3 beside it reads
        # every row), so the trailing row it skips on an even size is not worth a warning.
        dropped = (pi + n - 1) - ((o - 1) * si + di * (ki - 1))
        if dropped > 0 and not ceil and ki > 1:
            span = n + 2 * pi - di * (ki - 1) - 1
            uneven.append((n, ki, si, pi, di, span, dropped))
        outs.append(o)
    if not uneven:
        return tuple(outs), ()
    n, ki, si, pi, di, span, dropped = uneven[0]
    good = n + (si - span % si)
    return tuple(outs), (Warn(
        "uneven-stride",
        f"{what}: stride does not divide evenly: ({n} + 2·{pi} − {di * (ki - 1) + 1}) / {si} + 1 = "
        f"{span / si + 1:g}; the last {dropped} input row(s) are never seen",
        f"use an input size of {good} (or {good - si}), or change the padding"),)


def _window_out(spatial, k, s, p, d):
    """``spatial_out``'s sizes (floor mode) when nothing is wrong: every axis keeps an output
    and every input row is seen (or the window is one pixel wide); None otherwise, for
    ``spatial_out`` to say what. The common case, without building a message's parts."""
    outs = []
    for n, ki, si, pi, di in zip(spatial, k, s, p, d):
        reach = di * (ki - 1)
        o = (n + 2 * pi - reach - 1) // si + 1
        if o <= 0 or (ki > 1 and pi + n - 1 > (o - 1) * si + reach):
            return None
        outs.append(o)
    return tuple(outs)


def check_divisible(what, channels, groups, role):
    if channels % groups:
        raise ShapeProblem(
            f"{what}: {role} ({channels}) is not divisible by groups ({groups})",
            fix=f"set groups to a divisor of {channels} (e.g. 1), or change the channel count",
            expected=f"multiple of {groups}", received=channels)


def axes(value, nd):
    return ntuple(value, nd)


prod = math.prod  # the product of a shape's sizes (an alias, not a wrapper: it runs for every layer)


# Parameter specs reused by several families --------------------------------------------

def p_channels(name="out_channels", default=16, help_="number of filters K; the output has K channels"):
    return Param(name, "int", default, help_, min=1, max=MAX_CHANNELS)


def p_kernel(default=3):
    return Param("kernel", "ints", default, "window size per spatial axis (one number or one per axis)",
                 min=1, max=MAX_KERNEL, unit="px")


def p_stride(default=1, optional=False, help_="step between windows; out = ⌊(in + 2p − d(k−1) − 1)/s⌋ + 1"):
    return Param("stride", "ints", default, help_, min=1, max=MAX_KERNEL, optional=optional, unit="px")


def p_padding(default=0, allow_names=True):
    return Param("padding", "padding" if allow_names else "ints", default,
                 "zeros added on each side" + (" ('same' keeps the size at stride 1, 'valid' = 0)" if allow_names else ""),
                 min=0, max=MAX_KERNEL, unit="px")


def p_dilation():
    return Param("dilation", "ints", 1, "spacing between kernel taps; a k×k kernel with dilation d sees "
                 "d·(k−1)+1 pixels per axis", min=1, max=MAX_KERNEL)


def p_shape_default():
    return Param("shape", "shape", [1, 28, 28], "tensor shape without the batch axis: channels, then "
                 "length (1-D), height × width (2-D) or depth × height × width (3-D)", min=1, max=MAX_SPATIAL)
