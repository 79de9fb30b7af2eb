"""The original module's weights, renamed for the compiled design (the report says which
module, or which parameter, each block's tensors come from)."""
from __future__ import annotations

from torch import nn

from ..graph import Design
from .report import ImportReport, ModuleImportError


def transfer_weights(module: nn.Module, design: Design, report: ImportReport) -> dict:
    """The original module's weights as a state_dict for ``compile_design(design)``."""
    from ..compile import compile_design
    compiled = compile_design(design)
    expected = compiled.state_dict()
    names: dict[str, str] = getattr(compiled, "node_names")  # noqa: B009  # set by compile_design, unknown to its type
    state = {}
    for node_id, qualified in report.sources.items():
        name = names[node_id]
        for key, value in module.get_submodule(qualified).state_dict().items():
            state[f"{name}.{key}"] = value
    if report.weights:
        original = module.state_dict()
        for node_id, mapping in report.weights.items():
            name = names[node_id]
            for key, qualified in mapping.items():
                state[f"{name}.{key}"] = original[qualified]
    for key, value in state.items():
        want = expected.get(key)
        # A Linear read channels-last became a 1×1 convolution: same numbers, (out, in, 1, 1).
        if want is not None and want.shape != value.shape and want.numel() == value.numel():
            value = value.reshape(want.shape)
        state[key] = value.detach().clone()
    missing = [k for k in expected if k not in state]
    if missing:
        raise ModuleImportError(f"weights missing for {', '.join(missing[:5])}")
    return state

