"""Where in the input one unit of a feature map looks: its receptive-field crop.

The analysis gives each node's field as (size, jump) per spatial axis but not where unit 0's
field starts: padding moves it left of the image (a 3×3 conv with padding 1 starts at −1). The
start is found here by walking the compiled graph (convolutions, pools, padding, merges), and
unit i then sees ``[start + i·jump, start + i·jump + size)``, clipped to the image.
"""
from __future__ import annotations

import math

from torch import fx, nn

from .common import Explainer

GLOBAL = "global"


def _pad_before(module, nd: int) -> tuple:
    pad = getattr(module, "padding", 0)
    k = _axes(getattr(module, "kernel_size", 1), nd)
    d = _axes(getattr(module, "dilation", 1), nd)
    if pad == "valid":
        return (0,) * nd
    if pad == "same":  # PyTorch puts the smaller half first for even kernels
        return tuple(di * (ki - 1) // 2 for ki, di in zip(k, d))
    return _axes(pad, nd)


def _axes(value, nd: int) -> tuple:
    return tuple(value) if isinstance(value, (tuple, list)) else (value,) * nd


def _window(field, module):
    """The field after a windowed module (conv, pool) with kernel, stride, padding, dilation."""
    nd = len(field)
    k = _axes(module.kernel_size, nd)
    s = _axes(module.stride if module.stride is not None else module.kernel_size, nd)
    d = _axes(getattr(module, "dilation", 1), nd)
    p = _pad_before(module, nd)
    return tuple((start - pi * jump, size + di * (ki - 1) * jump, jump * si)
                 for (start, size, jump), ki, si, di, pi in zip(field, k, s, d, p))


def _through_module(field, module):
    if field is None or field == GLOBAL:
        return field
    if isinstance(module, fx.GraphModule):
        return walk(module, [field])
    if isinstance(module, (nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d, nn.Upsample)):
        return None  # a finer grid than the input's: not a crop, so no patches for it
    if isinstance(module, (nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d, nn.AdaptiveAvgPool3d,
                           nn.AdaptiveMaxPool1d, nn.AdaptiveMaxPool2d, nn.AdaptiveMaxPool3d)):
        return None
    if type(module).__name__ == "GlobalPool":
        return GLOBAL
    if hasattr(module, "kernel_size") and hasattr(module, "stride"):
        return _window(field, module)
    if isinstance(module, nn.PixelUnshuffle):
        r = module.downscale_factor
        return tuple((start, size + (r - 1) * jump, jump * r) for start, size, jump in field)
    if isinstance(module, (nn.ZeroPad1d, nn.ZeroPad2d, nn.ConstantPad1d, nn.ConstantPad2d, nn.ReflectionPad1d,
                           nn.ReflectionPad2d, nn.ReplicationPad1d, nn.ReplicationPad2d)):
        pads = module.padding  # last axis first: (left, right, top, bottom)
        before = [pads[2 * i] for i in range(len(pads) // 2)][::-1]
        return tuple((start - b * jump, size, jump) for (start, size, jump), b in zip(field, before))
    inner = [m for m in module.children()]
    if inner:  # e.g. SeparableConv: its windowed children in order
        for child in inner:
            field = _through_module(field, child)
        return field
    return field  # element-wise (activations, norms, dropout): the field is unchanged


def _merge(fields):
    known = [f for f in fields if f is not None]
    if not known:
        return None
    if any(f == GLOBAL for f in known):
        return GLOBAL
    if len({len(f) for f in known}) != 1:
        return None
    out = []
    for axis in zip(*known):  # the union of the branches' windows, on the coarsest grid
        start = min(a[0] for a in axis)
        end = max(a[0] + a[1] for a in axis)
        out.append((start, end - start, max(a[2] for a in axis)))
    return tuple(out)


def walk(gm: fx.GraphModule, inputs, stop_at: str | None = None):
    """The field (start, size, jump per axis) of ``gm``'s output — or of the call_module
    ``stop_at`` — given the fields of its placeholders."""
    fields: dict[fx.Node, object] = {}
    placeholders = iter(inputs)
    for node in gm.graph.nodes:
        if node.op == "placeholder":
            fields[node] = next(placeholders, None)
            continue
        ins = [fields.get(a) for a in node.all_input_nodes]
        if node.op == "call_module":
            fields[node] = _through_module(_merge(ins) if len(ins) > 1 else (ins[0] if ins else None),
                                           gm.get_submodule(node.target))
            if node.target == stop_at:
                return fields[node]
        elif node.op == "output":
            first = node.args[0]
            first = first[0] if isinstance(first, (tuple, list)) else first
            return fields.get(first) if isinstance(first, fx.Node) else None
        else:
            fields[node] = _merge(ins)
    return None


def node_field(explainer: Explainer, node_id: str):
    """((start, size, jump), ...) per spatial axis of ``node_id``'s units, or None when the node
    has no crop (a global or adaptive pool, an upsampling, a 1×1 map of everything)."""
    spatial = explainer.input_shape[1:]
    model = explainer.model
    name = model.node_names.get(node_id)
    if name is None:
        return None
    found = walk(model, [tuple((0, 1, 1) for _ in spatial)], stop_at=name)
    if found is None or found == GLOBAL:
        return None
    analysed = explainer.report.nodes[node_id].receptive_field
    if analysed and len(analysed) == len(found):
        # The analysis' size and jump are the reference; the walk adds the start (and a merge's
        # wider union of branches, which the analysis approximates by the widest branch).
        found = tuple((start, max(size, int(math.ceil(a_size))), jump)
                      for (start, size, jump), (a_size, _a_jump) in zip(found, analysed))
    return found


def crop_bounds(field, position, spatial) -> tuple:
    """((lo, hi), ...) per axis, half-open, of the input seen by the unit at ``position``,
    clipped to the input's ``spatial`` size."""
    out = []
    for (start, size, jump), i, n in zip(field, position, spatial):
        lo = start + i * jump
        lo_i, hi_i = int(math.floor(lo)), int(math.ceil(lo + size))
        out.append((max(0, lo_i), min(int(n), hi_i)))
    return tuple(out)


def unit_bounds(explainer: Explainer, node_id: str, position) -> tuple:
    field = node_field(explainer, node_id)
    spatial = explainer.input_shape[1:]
    if field is None:
        return tuple((0, int(n)) for n in spatial)
    return crop_bounds(field, position, spatial)


__all__ = ["crop_bounds", "node_field", "unit_bounds", "walk"]
