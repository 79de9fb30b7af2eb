"""Permutes, transposes and views on the way to a block: a channels-last round trip (in which a
LayerNorm is one over channels and a Linear a 1×1 convolution, as in ConvNeXt) and ShuffleNet's
view/transpose/view channel shuffle."""
from __future__ import annotations

from typing import Any

import torch.nn.functional as F
from torch import fx, nn

from ..errors import EngineError
from .rules import LAYOUT_FUNCTIONS, LAYOUT_METHODS, MODULE_RULES, POINTWISE_BLOCKS, function_rule
from .state import BuildState, flat
from .views import View, channels_last, permutation, resolve_view


class Rearrangements(BuildState):
    """Builder patterns for rearranged tensors (see the module docstring)."""

    def _rearrange(self, node: fx.Node, shape: tuple) -> bool:
        """A permute, transpose, view, reshape or contiguous: recorded on the image it rearranges
        until the chain means something (the image itself, a channel shuffle, channels-last)."""
        kind = None
        if node.op == "call_method" and node.target in LAYOUT_METHODS:
            kind = str(node.target)
        elif node.op == "call_function" and node.target in LAYOUT_FUNCTIONS:
            kind = LAYOUT_FUNCTIONS[node.target]
        source = node.args[0] if node.args else None
        if kind is None or not isinstance(source, fx.Node):
            return False
        flatten = kind in ("view", "reshape", "flatten") and len(shape) == 1
        if source in self.views and not flatten:
            view = self.views[source]
        elif source in self.value:
            if kind == "contiguous" or flatten:
                return False  # an identity or a Flatten block, as before
            view = View(self.value[source], ())
        else:
            return False
        in_shape = view.ops[-1][1] if view.ops else self.shapes[view.base]
        if kind in ("permute", "transpose"):
            perm = permutation(node, len(in_shape) + 1)
            if perm is None:
                return False
            op: tuple = ("permute", shape, perm)
        else:
            op = ("contiguous" if kind == "contiguous" else "view", shape, None)
        ops = view.ops + (op,)
        meaning = resolve_view(self.shapes[view.base], ops)
        if meaning == "same":
            self.value[node] = view.base
        elif isinstance(meaning, tuple):
            try:
                self._add(node, meaning[0], meaning[1], [view.base])
            except EngineError:
                return False
            self.report.mapped.append(self.value[node])
            self.shapes[self.value[node]] = shape
        else:
            self.views[node] = View(view.base, ops)
        return True

    def _on_channels_last(self, node: fx.Node, shape: tuple) -> bool:
        """A layer applied to the channels-last view of an image (ConvNeXt's permute → LayerNorm →
        Linear → GELU → Linear → permute): LayerNorm over the channels, a Linear is a 1×1
        convolution, and an element-wise function is itself; the result stays channels-last."""
        views = [a for a in flat((node.args, node.kwargs)) if isinstance(a, fx.Node) and a in self.views]
        others = [a for a in flat((node.args, node.kwargs)) if isinstance(a, fx.Node) and a in self.value]
        if len(views) != 1 or others:
            return False
        view = self.views[views[0]]
        base_shape = self.shapes[view.base]
        if resolve_view(base_shape, view.ops) != "channels_last":
            return False
        c, rule, source, weights = base_shape[0], None, None, None
        out_shape = base_shape
        if node.op == "call_module":
            module = self.gm.get_submodule(str(node.target))
            if isinstance(module, nn.LayerNorm) and tuple(module.normalized_shape) == (c,) and \
                    (module.bias is not None or not module.elementwise_affine):
                rule = ("channel_layernorm", {"eps": module.eps, "affine": module.elementwise_affine})
            elif type(module) is nn.Linear and module.in_features == c and 2 <= len(base_shape) <= 4:
                rule = (f"conv{len(base_shape) - 1}d", {"out_channels": module.out_features, "kernel": 1,
                                                       "bias": module.bias is not None})
                out_shape = (module.out_features, *base_shape[1:])
            elif type(module) in MODULE_RULES:
                found, _ = MODULE_RULES[type(module)](module)
                rule = found if found is not None and found[0] in POINTWISE_BLOCKS else None
            source = str(node.target)
        elif node.target is F.layer_norm:
            args: tuple[Any, ...] = tuple(node.args)
            kwargs: dict[str, Any] = dict(node.kwargs)
            normalized = kwargs.get("normalized_shape", args[1] if len(args) > 1 else None)
            weight = kwargs.get("weight", args[2] if len(args) > 2 else None)
            bias = kwargs.get("bias", args[3] if len(args) > 3 else None)
            eps = kwargs.get("eps", args[4] if len(args) > 4 else 1e-5)
            attrs = [v for v in (weight, bias) if isinstance(v, fx.Node) and v.op == "get_attr"]
            if isinstance(normalized, (list, tuple)) and list(normalized) == [c] and \
                    (weight is None and bias is None or len(attrs) == 2):
                rule = ("channel_layernorm", {"eps": eps, "affine": weight is not None})
                if attrs:
                    weights = {"weight": str(attrs[0].target), "bias": str(attrs[1].target)}
        else:
            found, _ = function_rule(node, self.shapes, shape, [view.base])
            rule = found if found is not None and found[0] in POINTWISE_BLOCKS else None
        if rule is None:
            return False
        try:
            node_id = self._add_raw(node.name, rule[0], rule[1], [view.base])
        except EngineError:
            return False
        self.shapes[node_id] = out_shape
        self.report.mapped.append(node_id)
        if source is not None:
            self.report.sources[node_id] = source
            self.counted.add(source)
        if weights:
            self.report.weights[node_id] = weights
        self.views[node] = View(node_id, (("permute", shape, channels_last(len(base_shape) + 1)),))
        return True

