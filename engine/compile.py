"""Design → ``torch.fx.GraphModule``.

Every node becomes a submodule named after it (composite blocks become nested GraphModules
named after their block type), so ``print(model)`` reads like hand-written code and the
parameter count equals the analysis report. Which nodes run, in what order, under what names
and fed by what is :func:`engine.lowering.lower`'s walk, shared with the code exporter.
``taps`` adds chosen nodes' activations to the output, so feature maps come out of the same
forward pass; :func:`with_taps` does the same for a module compiled already, sharing its
parameters.

The module is ordinary PyTorch: ``.to(device)`` (CUDA, MPS), ``.to(memory_format=
torch.channels_last)`` and ``torch.autocast`` work as for any model (:func:`prepare` does the
first two). ``compile_design(..., device="meta")`` builds without allocating weights (shape
checks of big networks); :func:`optimize` is the opt-in ``torch.compile``.
"""
from __future__ import annotations

import contextlib
from typing import Any, cast

import torch
from torch import fx, nn

from .analysis import Report
from .blocks import BlockSpec, SubGraph
from .blocks.modules import Add
from .errors import CompileError
from .graph import Design
from .lowering import Lowered, lower, lower_subgraph
from .names import class_name as _class_name


def build_module(spec: BlockSpec, params: dict, in_shapes: list, resolve) -> nn.Module:
    if spec.expand is None:
        assert spec.build is not None  # a block is built or expanded
        return spec.build(params, in_shapes)
    return build_subgraph(spec.expand(params, in_shapes), in_shapes, resolve, _class_name(spec.title))


def build_subgraph(sub: SubGraph, in_shapes: list, resolve, class_name: str) -> fx.GraphModule:
    """A composite block's inside as its own GraphModule (submodules named by local id)."""
    return _graph_module(lower_subgraph(sub, in_shapes, resolve), class_name)


def _graph_module(lowered: Lowered, class_name: str) -> fx.GraphModule:
    root, graph, values, out = _trace(lowered)
    graph.output(out)
    gm = fx.GraphModule(root, graph, class_name)
    compute_in_place(gm)
    return gm


def _trace(lowered: Lowered) -> tuple[nn.Module, fx.Graph, dict[str, fx.Node], Any]:
    """Each step as a placeholder or a submodule call; ``(root, graph, values by name, output)``."""
    root, graph = nn.Module(), fx.Graph()
    values: dict[str, fx.Node] = {}
    for step in lowered.steps:
        if step.kind == "input":
            values[step.name] = graph.placeholder(step.name)
            continue
        if step.inner is None:
            assert step.spec.build is not None  # a block is built or expanded
            module = step.spec.build(step.params, step.input_shapes)
        else:
            module = _graph_module(step.inner, _class_name(step.spec.title))
        if step.frozen:
            module.requires_grad_(False)
        root.add_module(step.name, module)
        values[step.name] = graph.call_module(step.name, tuple(values[s] for s in step.sources))
    outputs = lowered.outputs
    out: Any = values[outputs[0]] if len(outputs) == 1 else tuple(values[o] for o in outputs)
    return root, graph, values, out


# Modules whose backward does not need their own output, so a ReLU or an Add after them may
# overwrite it (a ReLU after a ReLU, a sigmoid or a tanh must not: their backward reads it).
_OVERWRITABLE = (nn.modules.conv._ConvNd, nn.modules.batchnorm._NormBase, nn.Linear, Add)


def compute_in_place(gm: fx.GraphModule, keep=()) -> None:
    """Let a ReLU or an Add write into its (first) input where nothing else reads that tensor,
    as torchvision writes its models: one activation-sized allocation fewer each, which is
    what keeps a compiled ResNet or VGG as fast as the hand-written one. ``keep``: fx nodes
    whose values leave the module (taps) and so must not be overwritten."""
    keep = set(keep)
    for node in gm.graph.nodes:
        if node.op != "call_module" or not node.args:
            continue
        module, source = gm.get_submodule(cast(str, node.target)), node.args[0]
        if type(module) is not nn.ReLU and type(module) is not Add:
            continue
        if not isinstance(source, fx.Node) or source.op != "call_module" or source in keep:
            continue
        if len(source.users) == 1 and isinstance(gm.get_submodule(cast(str, source.target)), _OVERWRITABLE):
            module.inplace = True


def compile_design(design: Design, report: Report | None = None, taps=(), *, device=None) -> fx.GraphModule:
    """Compile a design whose analysis has no errors; raises CompileError with the diagnostics
    otherwise. With ``taps`` (node ids) the module returns ``(output, {node_id: activation})``.
    ``device`` creates the parameters there directly (``"meta"``: shapes only, no memory)."""
    with torch.device(device) if device is not None else contextlib.nullcontext():
        return _compile(design, report, tuple(taps))


def _compile(design: Design, report: Report | None, taps: tuple) -> fx.GraphModule:
    unknown = [t for t in taps if t not in design.nodes]
    if unknown:
        raise CompileError(f"cannot tap {', '.join(unknown)}: no such node in the design")
    lowered = lower(design, report, keep=taps)
    root, graph, values, out = _trace(lowered)
    tapped = [values[lowered.names[t]] for t in taps]
    if taps:
        out = (out, dict(zip(taps, tapped)))
    graph.output(out)
    gm = fx.GraphModule(root, graph, _class_name(design.name or "Network"))
    compute_in_place(gm, keep=tapped)
    _label(gm, lowered.names, taps)
    return gm


def _label(gm: fx.GraphModule, node_names: dict[str, str], tap_ids: tuple) -> None:
    """What a compiled design carries besides its graph: ``node_names`` (design id → submodule
    name, for weights and feature maps) and ``tap_ids`` (the nodes whose activations it returns)."""
    # plain attributes, not submodules or tensors (setattr: nn.Module's own __setattr__ types them so)
    setattr(gm, "node_names", node_names)
    setattr(gm, "tap_ids", tap_ids)


def with_taps(gm: fx.GraphModule, node_ids) -> fx.GraphModule:
    """A module computing the same as ``gm`` that also returns the activations of ``node_ids``
    (design ids): ``(output, {node_id: activation})``. It shares ``gm``'s submodules, so its
    parameters *are* ``gm``'s (training one trains the other); no second forward pass is run.
    Only nodes that ``gm`` computes can be tapped (compile with ``taps`` to keep a dead end)."""
    names: dict[str, str] = getattr(gm, "node_names")
    old_taps = tuple(getattr(gm, "tap_ids", ()))
    wanted = tuple(dict.fromkeys(old_taps + tuple(node_ids)))
    graph = fx.Graph()
    value_map: dict[fx.Node, fx.Node] = {}
    output: Any = graph.graph_copy(gm.graph, value_map)
    by_name: dict[str, fx.Node] = {}
    for old, new in value_map.items():
        if old.op in ("call_module", "placeholder"):
            by_name[cast(str, old.target)] = new
    missing = [t for t in wanted if names.get(t) not in by_name]
    if missing:
        raise CompileError(f"cannot tap {', '.join(missing)}: not computed by this module "
                           "(unknown id, or it does not lead to an Output; compile with taps=... instead)")
    if old_taps:
        output = output[0]
    graph.output((output, {t: _value_before_overwrite(gm, graph, by_name[names[t]]) for t in wanted}))
    tapped = fx.GraphModule(gm, graph, type(gm).__name__)
    _label(tapped, dict(names), wanted)
    tapped.train(gm.training)
    return tapped


def _value_before_overwrite(gm: fx.GraphModule, graph: fx.Graph, value: fx.Node) -> fx.Node:
    """``value``, or a copy of it taken before an in-place ReLU/Add after it overwrites it."""
    overwritten = any(u.op == "call_module" and u.args and u.args[0] is value
                      and getattr(gm.get_submodule(cast(str, u.target)), "inplace", False) for u in value.users)
    if not overwritten:
        return value
    with graph.inserting_after(value):
        return graph.call_method("clone", (value,))


def prepare(model: nn.Module, device=None, channels_last: bool = False) -> nn.Module:
    """Move a compiled model to ``device`` (default: :func:`best_device`) and optionally to the
    channels-last memory format (faster convolutions on recent GPUs and CPUs with oneDNN).
    Inputs should then be ``x.to(device, memory_format=torch.channels_last)``."""
    device = torch.device(device) if device is not None else best_device()
    model = model.to(device)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    return model


def best_device() -> torch.device:
    """CUDA if present, else Apple's MPS, else the CPU."""
    if torch.cuda.is_available():
        return torch.device("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def optimize(model: nn.Module, backend: str = "inductor", **options) -> nn.Module:
    """Opt-in ``torch.compile`` of a compiled design (first call is slow: it generates code).
    The result wraps ``model`` and shares its parameters; ``model.node_names`` stays readable
    on the original. ``backend="eager"`` checks the graph capture without code generation."""
    return cast(nn.Module, torch.compile(model, backend=backend, **options))


def count_parameters(module: nn.Module) -> tuple[int, int]:
    """(trainable, frozen) parameter counts of a module."""
    trainable = sum(p.numel() for p in module.parameters() if p.requires_grad)
    frozen = sum(p.numel() for p in module.parameters() if not p.requires_grad)
    return trainable, frozen


def example_input(design: Design, batch: int = 2, device="cpu") -> tuple[torch.Tensor, ...]:
    return tuple(torch.randn(batch, *n.params["shape"], device=device) for n in design.input_nodes())
