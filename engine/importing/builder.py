"""The walk over a traced graph: each fx node becomes a block (by the rules), part of a pattern
(rearrangements, products), or an opaque block that keeps its traced shape and parameter count;
then residual blocks are folded and the design is checked against the trace."""
from __future__ import annotations

from torch import fx
from torch.fx.passes.shape_prop import TensorMetadata

from ..analysis import analyze
from ..errors import DesignError
from .products import Products
from .rearrange import Rearrangements
from .report import ModuleImportError
from .residuals import Residuals
from .rules import MODULE_RULES, SHAPE_QUERIES, function_rule
from .state import flat


class Builder(Rearrangements, Products, Residuals):
    """``Builder(gm, name, input_shape).run()`` fills ``design`` and ``report``."""

    def run(self) -> None:
        for node in self.gm.graph.nodes:
            meta = node.meta.get("tensor_meta")
            is_tensor = isinstance(meta, TensorMetadata)
            if node.op == "placeholder":
                if self.design.input_nodes():
                    raise ModuleImportError("only modules with one tensor input can be imported")
                self._add(node, "input", {"shape": list(self.input_shape)}, [])
            elif node.op == "output":
                for arg in flat(node.args[0]):
                    if arg in self.views:
                        self._materialise(arg)
                    if arg in self.value:
                        self._add_raw(f"output_{len(self.design.output_nodes()) + 1}" if
                                      self.design.output_nodes() else "output", "output", {}, [self.value[arg]])
            elif not is_tensor:
                self._carry(node)
            else:
                self._layer(node, tuple(meta.shape[1:]))
        self._finish()

    def _carry(self, node: fx.Node) -> None:
        """A value that is not one tensor: a size query (carries nothing), a parameter read by a
        function, or a tuple returned by a layer (its tensor consumers become opaque)."""
        if node.op == "call_method" and node.target in SHAPE_QUERIES or \
                node.op == "call_function" and node.target is getattr:
            self.carried[node] = []
            return
        self.carried[node] = self._inputs(node)
        params = self._params_of(node)
        if params:
            self.pending_params[node] = params

    def _layer(self, node: fx.Node, shape: tuple) -> None:
        if node.op == "get_attr":  # a constant tensor read directly: no layer of its own
            self.carried[node] = []
            if self._params_of(node):
                self.pending_params[node] = self._params_of(node)
            return
        if self._rearrange(node, shape) or self._on_channels_last(node, shape) or self._multiply(node):
            return
        ins = self._inputs(node)
        rule, why, what = None, "", str(node.target)
        if node.op == "call_module":
            module = self.gm.get_submodule(str(node.target))
            what = f"{type(module).__module__}.{type(module).__name__}"
            rule_fn = MODULE_RULES.get(type(module))
            if rule_fn is None:
                why = "no catalog block for this layer type"
            else:
                rule, reason = rule_fn(module)
                why = reason or ""
        else:
            what = node.target if isinstance(node.target, str) else getattr(node.target, "__name__", what)
            rule, why = function_rule(node, self.shapes, shape, ins)
        if rule is not None and len(ins) == 1 or rule is not None and rule[0] in ("add", "concat", "multiply"):
            try:
                self._add(node, rule[0], rule[1], ins)
            except DesignError as e:
                rule, why = None, f"its settings do not fit the block: {e}"
            else:
                if node.op == "call_module":
                    self.report.sources[self.value[node]] = str(node.target)
                    if node.target in self.counted and self._params_of(node):
                        self.report.notes.append(f"{node.target} is called more than once; each call became a "
                                                 "block with its own copy of the weights")
                    self.counted.add(str(node.target))
                self.report.mapped.append(self.value[node])
                self.shapes[self.value[node]] = shape
                return
        elif rule is not None:
            why = f"{len(ins)} tensor inputs"
        params = 0 if node.op == "call_module" and node.target in self.counted else self._params_of(node)
        self.counted.add(str(node.target))
        for arg in flat((node.args, node.kwargs)):
            params += self.pending_params.pop(arg, 0) if isinstance(arg, fx.Node) else 0
        if not ins:  # built from constants and sizes only (a class token expanded to the batch):
            ins = [self.design.input_nodes()[0].id]  # hang it on the input so its shape stays known
            why += "; it reads no tensor, only constants and the batch size"
        traced_in = self.shapes.get(ins[0]) if ins else None
        self._add(node, "opaque", {"type": what, "output_shape": list(shape) or [1], "params": params,
                                   "input_shape": list(traced_in) if traced_in else None, "note": why[:200]}, ins)
        self.report.opaque.append((self.value[node], what, why))
        self.shapes[self.value[node]] = shape

    def _finish(self) -> None:
        self._collapse_residuals()
        report = analyze(self.design)
        self.report.design_params = report.total_params
        if self.report.design_params != self.report.model_params:
            self.report.notes.append(f"the design counts {self.report.design_params:,} parameters, the model "
                                     f"{self.report.model_params:,}")
        for node_id, shape in self.shapes.items():
            got = report.nodes[node_id].shape
            if got is not None and tuple(got) != tuple(shape):
                self.report.notes.append(f"{node_id}: the analysis gives {got} but the trace measured {shape}")
        for d in report.errors:
            self.report.notes.append(f"analysis: {d}")
        outputs = self.design.output_nodes()
        if len(outputs) == 1:
            out_shape = report.nodes[outputs[0].id].shape
            if out_shape is not None and len(out_shape) == 1:
                self.design.num_classes = out_shape[0]


