"""After the walk: conv → BN → ReLU → ... → BN plus a shortcut, then ReLU, becomes the catalog's
residual block when its expansion is exactly these layers (torchvision's BasicBlock and
Bottleneck), so an imported ResNet reads like the template."""
from __future__ import annotations

from ..blocks import get as blocks_get
from ..errors import EngineError
from .state import BuildState

_RESIDUAL_CHAINS = {"residual_basic": ("conv1", "bn1", "relu1", "conv2", "bn2"),
                    "residual_bottleneck": ("conv1", "bn1", "relu1", "conv2", "bn2", "relu2", "conv3", "bn3")}
_RESIDUAL_KINDS = {"conv": "conv2d", "bn": "batchnorm2d", "relu": "relu"}


class Residuals(BuildState):
    """The post-pass folding residual blocks (see the module docstring)."""

    def _collapse_residuals(self) -> None:
        """conv → BN → ReLU → ... → BN, + shortcut (identity or 1×1 conv → BN), ReLU: the
        catalog's residual block when its expansion is exactly these layers (torchvision's
        BasicBlock and Bottleneck), so an imported ResNet reads like the template."""
        for relu_id in [n.id for n in self.design.nodes.values() if n.block == "relu"]:
            if relu_id in self.design.nodes:
                self._collapse_residual(relu_id)

    def _source_of(self, node_id: str) -> str | None:
        incoming = self.design.incoming(node_id)
        return incoming[0].src if len(incoming) == 1 else None

    def _walk_back(self, end: str, locals_: tuple[str, ...]) -> tuple[dict[str, str], str] | None:
        """The chain of ``locals_`` (conv*, bn*, relu*) ending at ``end``, each used once: (local →
        node id, the chain's input), else None."""
        matched: dict[str, str] = {}
        current: str | None = end
        for local in reversed(locals_):
            node = self.design.nodes.get(current) if current is not None else None
            if node is None or node.block != _RESIDUAL_KINDS[local.rstrip("0123456789")] or \
                    len(self.design.outgoing(node.id)) != 1:
                return None
            matched[local] = node.id
            current = self._source_of(node.id)
        return (matched, current) if current is not None else None

    def _collapse_residual(self, relu_id: str) -> None:
        d = self.design
        add_id = self._source_of(relu_id)
        if add_id is None or d.nodes[add_id].block != "add" or len(d.outgoing(add_id)) != 1:
            return
        if any(d.nodes[e.dst].block == "concat" for e in d.outgoing(relu_id)):
            return  # reconnecting would change the order of the concatenation
        branches = [e.src for e in d.incoming(add_id)]
        if len(branches) != 2:
            return
        for main, short in (branches, branches[::-1]):
            for key, locals_ in _RESIDUAL_CHAINS.items():
                found = self._walk_back(main, locals_)
                if found is None:
                    continue
                matched, x = found
                if short != x:
                    conv = self._source_of(short)
                    if d.nodes[short].block != "batchnorm2d" or conv is None or d.nodes[conv].block != "conv2d" or \
                            self._source_of(conv) != x or len(d.outgoing(short)) != 1 or len(d.outgoing(conv)) != 1:
                        continue
                    matched["downsample_0"], matched["downsample_1"] = conv, short
                matched["add"], matched["relu"] = add_id, relu_id
                if self._replace_residual(key, matched, x, relu_id):
                    return

    def _replace_residual(self, key: str, matched: dict[str, str], x: str, relu_id: str) -> bool:
        d = self.design
        conv1, conv2 = d.nodes[matched["conv1"]].params, d.nodes[matched["conv2"]].params
        if key == "residual_basic":
            params = {"out_channels": conv1["out_channels"], "stride": conv1["stride"]}
        else:
            width, out = conv1["out_channels"], d.nodes[matched["conv3"]].params["out_channels"]
            if out % width:
                return False
            params = {"width": width, "stride": conv2["stride"], "expansion": out // width}
        spec = blocks_get(key)
        if spec.expand is None:
            return False
        try:
            params = spec.validate_params(params)
            sub = spec.expand(params, [self.shapes[x]])
            if {local for local, _, _ in sub.nodes} != set(matched) or any(
                    d.nodes[matched[local]].block != block or
                    dict(d.nodes[matched[local]].params) != blocks_get(block).validate_params(p)
                    for local, block, p in sub.nodes):
                return False
        except EngineError:
            return False
        weights: dict[str, str] = {}
        for local, node_id in matched.items():
            qualified = self.report.sources.get(node_id)
            if qualified is not None:
                for name in self.gm.get_submodule(qualified).state_dict():
                    weights[f"{local}.{name}"] = f"{qualified}.{name}"
            for name, source in self.report.weights.get(node_id, {}).items():
                weights[f"{local}.{name}"] = source
        outs = [(e.dst, e.dst_port) for e in d.outgoing(relu_id)]
        shape = self.shapes[relu_id]
        prefix = self.report.sources.get(matched["conv1"], "").rpartition(".")[0]
        for node_id in matched.values():
            d.remove_node(node_id)
            self.report.mapped.remove(node_id)
            self.report.sources.pop(node_id, None)
            self.report.weights.pop(node_id, None)
            self.shapes.pop(node_id, None)
        new_id = prefix.replace(".", "_") if prefix and prefix.replace(".", "_") not in d.nodes else relu_id
        new_id = self._add_raw(new_id, key, params, [x])
        for dst, port in outs:
            d.connect(new_id, dst, dst_port=port)
        self.shapes[new_id] = shape
        self.report.mapped.append(new_id)
        self.report.weights[new_id] = weights
        return True

