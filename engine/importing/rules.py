"""One traced layer or call → a catalog block and its settings, or the reason there is none.

A module's constructor arguments are read back from the module (``MODULE_RULES``, by type); a
function or method call (``torch.relu(x)``, ``x.flatten(1)``, ``F.max_pool2d(x, 3)``, ``x + y``)
is recognised by :func:`function_rule` from its target and arguments.
"""
from __future__ import annotations

import operator
from typing import Any, Callable

import torch
import torch.nn.functional as F
from torch import fx, nn

# A rule's answer: ((block key, params), None) or (None, why not).
Rule = tuple[tuple[str, dict[str, Any]] | None, str | None]


def _ints(value):
    return list(value) if isinstance(value, (tuple, list)) else value


def _conv(m):
    if m.padding_mode != "zeros":
        return None, f"padding mode {m.padding_mode!r} (the block pads with zeros)"
    nd = len(m.kernel_size)
    kind = "conv_transpose" if isinstance(m, nn.modules.conv._ConvTransposeNd) else "conv"
    params = {"out_channels": m.out_channels, "kernel": _ints(m.kernel_size), "stride": _ints(m.stride),
              "padding": m.padding if isinstance(m.padding, str) else _ints(m.padding),
              "dilation": _ints(m.dilation), "groups": m.groups, "bias": m.bias is not None}
    if kind == "conv_transpose":
        params["output_padding"] = _ints(m.output_padding)
    return (f"{kind}{nd}d", params), None


def _pool(kind):
    def rule(m):
        nd = int(type(m).__name__[-2])
        if getattr(m, "dilation", 1) not in (1, (1,) * nd) or getattr(m, "return_indices", False):
            return None, "dilated pooling or returned indices"
        if getattr(m, "divisor_override", None) is not None:
            return None, "divisor_override"
        params = {"kernel": _ints(m.kernel_size), "stride": _ints(m.stride), "padding": _ints(m.padding),
                  "ceil_mode": m.ceil_mode}
        if kind == "avg":
            params["count_include_pad"] = m.count_include_pad
        return (f"{kind}pool{nd}d", params), None
    return rule


def _adaptive(kind):
    def rule(m):
        nd = int(type(m).__name__[-2])
        size = m.output_size
        if size is None or (isinstance(size, tuple) and None in size) or getattr(m, "return_indices", False):
            return None, "an output size that follows the input"
        return (f"adaptive_{kind}pool{nd}d", {"output_size": _ints(size)}), None
    return rule


def _batchnorm(m):
    if m.momentum is None:
        return None, "cumulative moving average (momentum None)"
    return (f"batchnorm{int(type(m).__name__[-2])}d", {"eps": m.eps, "momentum": m.momentum, "affine": m.affine,
                                                        "track_running_stats": m.track_running_stats}), None


def _lppool(m) -> Rule:
    return (f"lppool{int(type(m).__name__[-2])}d", {
        "norm_type": float(m.norm_type), "kernel": _ints(m.kernel_size), "stride": _ints(m.stride),
        "ceil_mode": m.ceil_mode}), None


MODULE_RULES: dict[type[nn.Module], Callable[[Any], Rule]] = {
    **{cls: _conv for cls in (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose1d, nn.ConvTranspose2d,
                              nn.ConvTranspose3d)},
    **{getattr(nn, f"MaxPool{n}d"): _pool("max") for n in (1, 2, 3)},
    **{getattr(nn, f"AvgPool{n}d"): _pool("avg") for n in (1, 2, 3)},
    **{getattr(nn, f"AdaptiveAvgPool{n}d"): _adaptive("avg") for n in (1, 2, 3)},
    **{getattr(nn, f"AdaptiveMaxPool{n}d"): _adaptive("max") for n in (1, 2, 3)},
    **{getattr(nn, f"BatchNorm{n}d"): _batchnorm for n in (1, 2, 3)},
    **{getattr(nn, f"LPPool{n}d"): _lppool for n in (1, 2)},
    **{getattr(nn, f"InstanceNorm{n}d"): (lambda m: (("instancenorm", {
        "eps": m.eps, "affine": m.affine, "track_running_stats": m.track_running_stats}), None)) for n in (1, 2, 3)},
    nn.Linear: lambda m: (("linear", {"out_features": m.out_features, "bias": m.bias is not None}), None),
    nn.ReLU: lambda m: (("relu", {}), None),
    nn.LeakyReLU: lambda m: (("leaky_relu", {"negative_slope": m.negative_slope}), None),
    nn.PReLU: lambda m: (("prelu", {"per_channel": m.num_parameters > 1}), None),
    nn.ELU: lambda m: (("elu", {"alpha": m.alpha}), None),
    nn.ReLU6: lambda m: (("relu6", {}), None),
    nn.Hardswish: lambda m: (("hardswish", {}), None),
    nn.Hardsigmoid: lambda m: (("hardsigmoid", {}), None),
    nn.ChannelShuffle: lambda m: (("channel_shuffle", {"groups": m.groups}), None),
    nn.Sigmoid: lambda m: (("sigmoid", {}), None),
    nn.Tanh: lambda m: (("tanh", {}), None),
    nn.SiLU: lambda m: (("silu", {}), None),
    nn.Mish: lambda m: (("mish", {}), None),
    nn.GELU: lambda m: (("gelu", {}), None) if m.approximate == "none" else (None, "tanh-approximated GELU"),
    nn.Identity: lambda m: (("identity", {}), None),
    nn.Flatten: lambda m: (("flatten", {}), None) if (m.start_dim, m.end_dim) == (1, -1) else
    (None, "a flatten other than of each whole sample"),
    nn.Dropout: lambda m: (("dropout", {"p": m.p}), None),
    nn.Dropout2d: lambda m: (("dropout2d", {"p": m.p}), None),
    nn.LocalResponseNorm: lambda m: (("lrn", {"size": m.size, "alpha": m.alpha, "beta": m.beta, "k": m.k}), None),
    nn.GroupNorm: lambda m: (("groupnorm", {"num_groups": m.num_groups, "eps": m.eps, "affine": m.affine}), None),
    nn.PixelUnshuffle: lambda m: (("space_to_depth", {"block_size": m.downscale_factor}), None),
}

ELEMENTWISE_FUNCTIONS = {F.relu: "relu", torch.relu: "relu", torch.sigmoid: "sigmoid", F.sigmoid: "sigmoid",
                          torch.tanh: "tanh", F.tanh: "tanh", F.silu: "silu", F.mish: "mish", F.relu6: "relu6",
                          F.hardswish: "hardswish", F.hardsigmoid: "hardsigmoid"}
# Blocks that act on each value alone: on a channels-last view they act on the image it views.
POINTWISE_BLOCKS = {"relu", "relu6", "leaky_relu", "elu", "sigmoid", "tanh", "silu", "mish", "gelu", "hardswish",
                     "hardsigmoid", "identity", "dropout"}
# Operations that only rearrange a tensor's values: followed until they come back to an image
# (a channel shuffle, a channels-last round trip) or reach a layer that reads them channels-last.
LAYOUT_METHODS = {"permute", "transpose", "view", "reshape", "contiguous", "flatten"}
LAYOUT_FUNCTIONS = {torch.permute: "permute", torch.transpose: "transpose", torch.reshape: "reshape",
                     torch.flatten: "flatten"}
MULTIPLY = {operator.mul, operator.imul, torch.mul}
_ELEMENTWISE_METHODS = {"relu": "relu", "sigmoid": "sigmoid", "tanh": "tanh", "contiguous": "identity",
                        "clone": "identity"}
SHAPE_QUERIES = {"size", "dim", "numel"}


def function_rule(node: fx.Node, shapes: dict, out_shape, ins: list) -> tuple:
    """(block, params) for a function or method call, or (None, why)."""
    target = node.target
    args: tuple[Any, ...] = tuple(node.args)
    kwargs: dict[str, Any] = dict(node.kwargs)
    name = target if isinstance(target, str) else getattr(target, "__name__", str(target))
    if target in (operator.add, operator.iadd, torch.add) or name in ("add", "add_", "__iadd__"):
        if len(ins) == 2 and len([a for a in args if isinstance(a, fx.Node)]) == 2 and not kwargs:
            return ("add", {}), None
        return None, "addition with a constant or a scale"
    if target is torch.cat or name == "cat":
        dim = kwargs.get("dim", args[1] if len(args) > 1 else 0)
        if dim in (1, 1 - len(out_shape) - 1) and len(ins) >= 1:
            return ("concat", {}), None
        return None, f"concatenation along dimension {dim} (blocks concatenate channels)"
    if target in ELEMENTWISE_FUNCTIONS:
        return (ELEMENTWISE_FUNCTIONS[target], {}), None
    if node.op == "call_method" and target in _ELEMENTWISE_METHODS:
        return (_ELEMENTWISE_METHODS[target], {}), None
    if target is torch.flatten or name in ("flatten", "view", "reshape"):
        if len(out_shape) == 1 and len(ins) == 1:
            return ("flatten", {}), None
        return None, "a reshape other than flattening each sample"
    if target is F.adaptive_avg_pool2d:
        size = kwargs.get("output_size", args[1] if len(args) > 1 else None)
        if isinstance(size, (int, tuple, list)) and None not in (size if isinstance(size, (tuple, list)) else [size]):
            return ("adaptive_avgpool2d", {"output_size": _ints(size)}), None
    if name == "stochastic_depth" and node.op == "call_function" and len(ins) == 1:
        p = kwargs.get("p", args[1] if len(args) > 1 else None)
        mode = kwargs.get("mode", args[2] if len(args) > 2 else None)
        if isinstance(p, (int, float)) and mode in ("row", "batch"):
            return ("stochastic_depth", {"p": float(p), "mode": mode}), None
    if target is operator.getitem and isinstance(args[0], fx.Node) and isinstance(args[1], int):
        piece = chunk_piece(args[0], args[1])
        if piece is not None:
            return ("channel_chunk", piece), None
        return None, "an index into a tuple or a slice of a tensor"
    if target in _POOL_FUNCTIONS and len(ins) == 1:
        return _pool_function(_POOL_FUNCTIONS[target], args, kwargs)
    if target is F.dropout:
        return ("dropout", {"p": kwargs.get("p", args[1] if len(args) > 1 else 0.5)}), None
    if (target is torch.mean or name == "mean") and ins:
        dims = kwargs.get("dim", args[1] if len(args) > 1 else None)
        dims = tuple(sorted(d % (len(shapes[ins[0]]) + 1) for d in (dims if isinstance(dims, (tuple, list)) else [dims]))) \
            if dims is not None else ()
        if dims == tuple(range(2, len(shapes[ins[0]]) + 1)) and not kwargs.get("keepdim", False):
            return ("global_avgpool", {}), None
    if (target is F.softmax or name == "softmax") and kwargs.get("dim", args[1] if len(args) > 1 else None) in (1, -1) \
            and (len(out_shape) == 1 or kwargs.get("dim", args[1] if len(args) > 1 else None) == 1):
        return ("softmax", {}), None
    return None, "no catalog block does this"


_POOL_FUNCTIONS = {getattr(F, f"{kind}_pool{nd}d"): (kind, nd) for kind in ("max", "avg") for nd in (1, 2, 3)}
_POOL_ARGUMENTS = {"max": ("kernel_size", "stride", "padding", "dilation", "ceil_mode", "return_indices"),
                   "avg": ("kernel_size", "stride", "padding", "ceil_mode", "count_include_pad", "divisor_override")}


def _pool_function(what: tuple, args: tuple, kwargs: dict) -> tuple:
    """F.max_pool2d(x, 3, stride=2) and the like (Inception v3 pools so in its modules)."""
    kind, nd = what
    names = _POOL_ARGUMENTS[kind]
    given = dict(zip(names, args[1:]))
    given.update(kwargs)
    if given.get("dilation", 1) not in (1, (1,) * nd, [1] * nd) or given.get("return_indices") or \
            given.get("divisor_override") is not None:
        return None, "dilated pooling, returned indices or a divisor override"
    stride = given.get("stride")
    params = {"kernel": _ints(given.get("kernel_size")), "stride": _ints(stride) if stride not in (None, [], ()) else None,
              "padding": _ints(given.get("padding", 0)), "ceil_mode": bool(given.get("ceil_mode", False))}
    if kind == "avg":
        params["count_include_pad"] = bool(given.get("count_include_pad", True))
    return (f"{kind}pool{nd}d", params), None


def chunk_piece(source: fx.Node, index: int) -> dict | None:
    """Parameters of a Channel split block for ``source[index]`` when ``source`` is
    ``x.chunk(n, dim=1)`` (ShuffleNet v2 halves its channels so), else None."""
    if not (source.op == "call_method" and source.target == "chunk" or source.target is torch.chunk):
        return None
    args: tuple[Any, ...] = tuple(source.args)
    kwargs: dict[str, Any] = dict(source.kwargs)
    chunks = kwargs.get("chunks", args[1] if len(args) > 1 else None)
    dim = kwargs.get("dim", args[2] if len(args) > 2 else 0)
    if not isinstance(chunks, int) or dim != 1 or index < 0:
        return None
    return {"chunks": chunks, "index": index}

