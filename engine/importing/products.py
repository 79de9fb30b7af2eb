"""Products of two tensors: a learned C×1×1 parameter times a tensor is a Layer scale, pool →
1×1 conv → act → 1×1 conv → gate times the input is one Squeeze-and-excitation block, and any
other product of compatible shapes a Multiply."""
from __future__ import annotations

from torch import fx, nn

from ..blocks import ShapeProblem, get as blocks_get
from .rules import MULTIPLY
from .state import BuildState, fetch_attr


class Products(BuildState):
    """Builder patterns for ``a * b`` (see the module docstring)."""

    def _multiply(self, node: fx.Node) -> bool:
        if not (node.op == "call_function" and node.target in MULTIPLY or
                node.op == "call_method" and node.target in ("mul", "mul_")):
            return False
        operands = [a for a in node.args if isinstance(a, fx.Node)]
        if node.kwargs or len(node.args) != 2 or len(operands) != 2:
            return False
        a, b = operands
        if a in self.views or b in self.views:
            return False
        attrs = [v for v in (a, b) if v.op == "get_attr"]
        tensors = [v for v in (a, b) if v in self.value]
        if len(attrs) == 1 and len(tensors) == 1:
            return self._layer_scale(node, attrs[0], self.value[tensors[0]])
        if len(tensors) != 2 or self.value[a] == self.value[b]:
            return False
        if self._squeeze_excitation(node, self.value[a], self.value[b]) or \
                self._squeeze_excitation(node, self.value[b], self.value[a]):
            return True
        try:
            blocks_get("multiply").infer({}, [self.shapes[self.value[a]], self.shapes[self.value[b]]])
        except ShapeProblem:
            return False
        self._add(node, "multiply", {}, [self.value[a], self.value[b]])
        self.report.mapped.append(self.value[node])
        self.shapes[self.value[node]] = self.shapes[self.value[a]]
        return True

    def _layer_scale(self, node: fx.Node, attr: fx.Node, x: str) -> bool:
        """``γ * x`` with γ a learned C×1×1 parameter (ConvNeXt's layer scale)."""
        param = fetch_attr(self.gm, str(attr.target))
        shape = self.shapes[x]
        wanted = (shape[0],) + (1,) * (len(shape) - 1)
        if not isinstance(param, nn.Parameter) or tuple(param.shape) not in (wanted, (1, *wanted)):
            return False
        first = float(param.detach().flatten()[0])
        self._add(node, "layer_scale", {"init_value": first if 0 <= first <= 1e3 else 1e-6}, [x])
        node_id = self.value[node]
        self.report.mapped.append(node_id)
        self.report.weights[node_id] = {"scale": str(attr.target)}
        self.shapes[node_id] = shape
        return True

    def _squeeze_excitation(self, node: fx.Node, gate: str, x: str) -> bool:
        """``gate * x`` where the gate is x → adaptive average pool to 1 → 1×1 conv → ReLU/SiLU →
        1×1 conv → sigmoid/hardsigmoid, none of them used elsewhere: one Squeeze-and-excitation
        block replaces the five."""
        kinds = (("sigmoid", "hardsigmoid"), ("conv2d",), ("relu", "silu"), ("conv2d",), ("adaptive_avgpool2d",))
        chain, current = [], gate
        for i, allowed in enumerate(kinds):
            found = self.design.nodes.get(current)
            if found is None or found.block not in allowed or len(self.design.outgoing(current)) != min(i, 1):
                return False
            incoming = self.design.incoming(current)
            if len(incoming) != 1:
                return False
            chain.append(found)
            current = incoming[0].src
        shape = self.shapes[x]
        scale, fc2, act, fc1, pool = chain
        if current != x or len(shape) != 3 or pool.params["output_size"] != 1 or fc2.params["out_channels"] != shape[0]:
            return False
        for fc in (fc1, fc2):
            p = fc.params
            if (p["kernel"], p["stride"], p["padding"], p["dilation"], p["groups"], p["bias"]) != (1, 1, 0, 1, 1, True) \
                    or fc.id not in self.report.sources:
                return False
        weights = {}
        for local, fc in (("fc1", fc1), ("fc2", fc2)):
            qualified = self.report.sources[fc.id]
            for key in self.gm.get_submodule(qualified).state_dict():
                weights[f"{local}.{key}"] = f"{qualified}.{key}"
        prefix = self.report.sources[fc1.id].rpartition(".")[0]
        for inner in chain:
            self.design.remove_node(inner.id)
            self.report.mapped.remove(inner.id)
            self.report.sources.pop(inner.id, None)
            self.shapes.pop(inner.id, None)
        node_id = prefix.replace(".", "_") or node.name
        if node_id in self.design.nodes:
            node_id = node.name
        node_id = self._add_raw(node_id, "squeeze_excitation", {
            "squeeze_channels": fc1.params["out_channels"], "activation": act.block, "gate": scale.block}, [x])
        self.value[node] = node_id
        self.shapes[node_id] = shape
        self.report.mapped.append(node_id)
        self.report.weights[node_id] = weights
        return True

