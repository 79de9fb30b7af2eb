"""Any ``nn.Module`` that ``torch.fx`` can trace → an editable design.

The module is traced into a graph and run once on zeros to measure every shape. Each layer of
a known type becomes its catalog block with the same settings (the constructor arguments are
read back from the module, see :mod:`.render`); additions, concatenations, flattens and the
common functional activations become their blocks too. Anything else becomes an opaque block
that keeps its traced shapes and parameter count, and the :class:`ImportReport` lists it.
"""
from __future__ import annotations

import operator
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import fx, nn
from torch.fx.passes.shape_prop import ShapeProp, TensorMetadata

from ..analysis import analyze
from ..errors import DesignError, EngineError
from ..graph import Design


class ModuleImportError(EngineError):
    pass


@dataclass
class ImportReport:
    model_params: int
    design_params: int = 0
    mapped: list[str] = field(default_factory=list)  # design node ids made from known layers
    opaque: list[tuple[str, str, str]] = field(default_factory=list)  # (node id, what, why)
    notes: list[str] = field(default_factory=list)
    sources: dict[str, str] = field(default_factory=dict)  # node id -> qualified name of the original module

    @property
    def complete(self) -> bool:
        """Every layer was understood: the design compiles and can take the weights."""
        return not self.opaque

    def text(self) -> str:
        lines = [f"{len(self.mapped)} layers became blocks, {len(self.opaque)} opaque; parameters: design "
                 f"{self.design_params:,}, model {self.model_params:,}"]
        for node_id, what, why in self.opaque:
            lines.append(f"  not understood: {node_id} ({what}): {why}")
        lines += [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)



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


MODULE_RULES = {
    **{cls: _conv for cls in (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose1d, nn.ConvTranspose2d,
                              nn.ConvTranspose3d)},
    **{getattr(nn, f"MaxPool{n}d"): _pool("max") for n in (1, 2, 3)},
    **{getattr(nn, f"AvgPool{n}d"): _pool("avg") for n in (1, 2, 3)},
    **{getattr(nn, f"AdaptiveAvgPool{n}d"): _adaptive("avg") for n in (1, 2, 3)},
    **{getattr(nn, f"AdaptiveMaxPool{n}d"): _adaptive("max") for n in (1, 2, 3)},
    **{getattr(nn, f"BatchNorm{n}d"): _batchnorm for n in (1, 2, 3)},
    **{getattr(nn, f"LPPool{n}d"): (lambda m, n=n: ((f"lppool{n}d", {
        "norm_type": float(m.norm_type), "kernel": _ints(m.kernel_size), "stride": _ints(m.stride),
        "ceil_mode": m.ceil_mode}), None)) for n in (1, 2)},
    **{getattr(nn, f"InstanceNorm{n}d"): (lambda m: (("instancenorm", {
        "eps": m.eps, "affine": m.affine, "track_running_stats": m.track_running_stats}), None)) for n in (1, 2, 3)},
    nn.Linear: lambda m: (("linear", {"out_features": m.out_features, "bias": m.bias is not None}), None),
    nn.ReLU: lambda m: (("relu", {}), None),
    nn.LeakyReLU: lambda m: (("leaky_relu", {"negative_slope": m.negative_slope}), None),
    nn.PReLU: lambda m: (("prelu", {"per_channel": m.num_parameters > 1}), None),
    nn.ELU: lambda m: (("elu", {"alpha": m.alpha}), None),
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

_ELEMENTWISE_FUNCTIONS = {F.relu: "relu", torch.relu: "relu", torch.sigmoid: "sigmoid", F.sigmoid: "sigmoid",
                          torch.tanh: "tanh", F.tanh: "tanh", F.silu: "silu", F.mish: "mish"}
_ELEMENTWISE_METHODS = {"relu": "relu", "sigmoid": "sigmoid", "tanh": "tanh", "contiguous": "identity",
                        "clone": "identity"}
_SHAPE_QUERIES = {"size", "dim", "numel"}


def _function_rule(node: fx.Node, shapes: dict, out_shape, ins: list) -> tuple:
    """(block, params) for a function or method call, or (None, why)."""
    target, args, kwargs = node.target, node.args, node.kwargs
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
    if target in _ELEMENTWISE_FUNCTIONS:
        return (_ELEMENTWISE_FUNCTIONS[target], {}), None
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


def import_module(module: nn.Module, input_shape, name: str | None = None) -> tuple[Design, ImportReport]:
    """Trace ``module`` with a batch of ``input_shape`` (no batch axis) and build the design."""
    input_shape = tuple(int(s) for s in input_shape)
    try:
        gm = fx.symbolic_trace(module)
    except Exception as e:  # fx raises many kinds: data-dependent control flow, unsupported ops
        raise ModuleImportError(f"torch.fx cannot trace {type(module).__name__}: {e}. Only modules whose "
                                "forward does not branch on tensor values can be imported.") from None
    was_training = module.training
    gm.eval()
    try:
        with torch.no_grad():
            ShapeProp(gm).propagate(torch.zeros(2, *input_shape))
    except Exception as e:
        raise ModuleImportError(f"{type(module).__name__} does not run on an input of shape "
                                f"{input_shape}: {e}") from None
    finally:
        gm.train(was_training)
    builder = _Builder(gm, name or type(module).__name__, input_shape)
    builder.run()
    return builder.design, builder.report


class _Builder:
    def __init__(self, gm: fx.GraphModule, name: str, input_shape):
        self.gm, self.input_shape = gm, input_shape
        self.design = Design(name)
        self.report = ImportReport(sum(p.numel() for p in gm.parameters()))
        self.value: dict[fx.Node, str] = {}  # fx node -> design node id (tensors only)
        self.carried: dict[fx.Node, list[str]] = {}  # non-tensor node -> design ids whose data it carries
        self.pending_params: dict[fx.Node, int] = {}  # parameters of a non-tensor producer not yet counted
        self.shapes: dict[str, tuple] = {}  # design id -> traced shape (no batch axis)
        self.depth: dict[str, int] = {}
        self.counted: set[str] = set()

    def run(self) -> None:
        for node in self.gm.graph.nodes:
            meta = node.meta.get("tensor_meta")
            is_tensor = isinstance(meta, TensorMetadata)
            if node.op == "placeholder":
                if self.design.input_nodes():
                    raise ModuleImportError("only modules with one tensor input can be imported")
                self._add(node, "input", {"shape": list(self.input_shape)}, [])
            elif node.op == "output":
                for arg in _flat(node.args[0]):
                    if arg in self.value:
                        self._add_raw(f"output_{len(self.design.output_nodes()) + 1}" if
                                      self.design.output_nodes() else "output", "output", {}, [self.value[arg]])
            elif not is_tensor:
                self._carry(node)
            else:
                self._layer(node, tuple(meta.shape[1:]))
        self._finish()

    def _inputs(self, node: fx.Node) -> list[str]:
        ids = []
        for arg in _flat((node.args, node.kwargs)):
            if isinstance(arg, fx.Node):
                for source in ([self.value[arg]] if arg in self.value else self.carried.get(arg, [])):
                    if source not in ids:
                        ids.append(source)
        return ids

    def _carry(self, node: fx.Node) -> None:
        """A value that is not one tensor: a size query (carries nothing), a parameter read by a
        function, or a tuple returned by a layer (its tensor consumers become opaque)."""
        if node.op == "call_method" and node.target in _SHAPE_QUERIES or \
                node.op == "call_function" and node.target is getattr:
            self.carried[node] = []
            return
        self.carried[node] = self._inputs(node)
        params = self._params_of(node)
        if params:
            self.pending_params[node] = params

    def _params_of(self, node: fx.Node) -> int:
        if node.op == "call_module":
            return sum(p.numel() for p in self.gm.get_submodule(node.target).parameters())
        if node.op == "get_attr":
            value = _fetch_attr(self.gm, node.target)
            return value.numel() if isinstance(value, nn.Parameter) else 0
        return 0

    def _layer(self, node: fx.Node, shape: tuple) -> None:
        ins = self._inputs(node)
        if node.op == "get_attr":  # a constant tensor read directly: no layer of its own
            self.carried[node] = []
            if self._params_of(node):
                self.pending_params[node] = self._params_of(node)
            return
        rule, why, what = None, "", str(node.target)
        if node.op == "call_module":
            module = self.gm.get_submodule(node.target)
            what = f"{type(module).__module__}.{type(module).__name__}"
            rule_fn = MODULE_RULES.get(type(module))
            if rule_fn is None:
                why = "no catalog block for this layer type"
            else:
                rule, why = rule_fn(module)
        else:
            what = node.target if isinstance(node.target, str) else getattr(node.target, "__name__", what)
            rule, why = _function_rule(node, self.shapes, shape, ins)
        if rule is not None and len(ins) == 1 or rule is not None and rule[0] in ("add", "concat"):
            try:
                self._add(node, rule[0], rule[1], ins)
            except DesignError as e:
                rule, why = None, f"its settings do not fit the block: {e}"
            else:
                if node.op == "call_module":
                    self.report.sources[self.value[node]] = node.target
                    if node.target in self.counted and self._params_of(node):
                        self.report.notes.append(f"{node.target} is called more than once; each call became a "
                                                 "block with its own copy of the weights")
                    self.counted.add(node.target)
                self.report.mapped.append(self.value[node])
                self.shapes[self.value[node]] = shape
                return
        elif rule is not None:
            why = f"{len(ins)} tensor inputs"
        params = 0 if node.op == "call_module" and node.target in self.counted else self._params_of(node)
        self.counted.add(node.target)
        for arg in _flat((node.args, node.kwargs)):
            params += self.pending_params.pop(arg, 0) if isinstance(arg, fx.Node) else 0
        if not ins:  # built from constants and sizes only (a class token expanded to the batch):
            ins = [self.design.input_nodes()[0].id]  # hang it on the input so its shape stays known
            why += "; it reads no tensor, only constants and the batch size"
        traced_in = self.shapes.get(ins[0]) if ins else None
        self._add(node, "opaque", {"type": what, "output_shape": list(shape) or [1], "params": params,
                                   "input_shape": list(traced_in) if traced_in else None, "note": why[:200]}, ins)
        self.report.opaque.append((self.value[node], what, why))
        self.shapes[self.value[node]] = shape

    def _add(self, node: fx.Node, block: str, params: dict, ins: list[str]) -> None:
        node_id = self._add_raw(node.name, block, params, ins)
        self.value[node] = node_id
        if block == "input":
            self.shapes[node_id] = self.input_shape

    def _add_raw(self, node_id: str, block: str, params: dict, ins: list[str]) -> str:
        depth = 1 + max((self.depth[i] for i in ins), default=-1)
        row = sum(1 for d in self.depth.values() if d == depth)
        node = self.design.add_node(block, params, pos=(depth * 160.0, row * 90.0), node_id=node_id)
        self.depth[node.id] = depth
        for src in ins:
            self.design.connect(src, node.id)
        return node.id

    def _finish(self) -> None:
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
            shape = report.nodes[outputs[0].id].shape
            if shape is not None and len(shape) == 1:
                self.design.num_classes = shape[0]


def _flat(value):
    if isinstance(value, (tuple, list)):
        for v in value:
            yield from _flat(v)
    elif isinstance(value, dict):
        for v in value.values():
            yield from _flat(v)
    else:
        yield value


def _fetch_attr(gm, target: str):
    obj = gm
    for part in target.split("."):
        obj = getattr(obj, part)
    return obj


def transfer_weights(module: nn.Module, design: Design, report: ImportReport) -> dict:
    """The original module's weights as a state_dict for ``compile_design(design)``."""
    from ..compile import compile_design
    compiled = compile_design(design)
    state = {}
    for node_id, qualified in report.sources.items():
        name = compiled.node_names[node_id]
        for key, value in module.get_submodule(qualified).state_dict().items():
            state[f"{name}.{key}"] = value.detach().clone()
    expected = compiled.state_dict()
    missing = [k for k in expected if k not in state]
    if missing:
        raise ModuleImportError(f"weights missing for {', '.join(missing[:5])}")
    return state


__all__ = ["ImportReport", "ModuleImportError", "import_module", "transfer_weights"]
