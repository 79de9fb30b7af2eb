"""A run's starting weights (``TrainConfig.init_weights``): transfer learning from another run,
a bundle, or a checkpoint of the exported training script."""
from __future__ import annotations

from . import rundir
from .config import ConfigError


def load_initial_weights(model, design, config) -> tuple[set[str], list[str]]:
    """Copy the tensors of ``config.init_weights`` that fit into ``model``: (the node ids loaded,
    notes for the user). Nodes listed in ``reinit_nodes`` or whose shapes differ keep their fresh
    initialisation. Raises ConfigError when the file cannot be read."""
    from ..export.weights import some_design_keys
    try:
        source = rundir.load_weights(config.init_weights)
    except (ValueError, OSError) as e:
        raise ConfigError(f"init_weights: {e}") from None
    # a checkpoint of the exported training script names layers as the generated code does
    # (torchvision's layer1.0.conv1): back to the compiled model's names
    source = some_design_keys(design, source)
    by_module = {v: k for k, v in model.node_names.items()}
    skip = {model.node_names.get(n) for n in config.reinit_nodes}
    state = model.state_dict()
    loaded, mismatched = set(), set()
    for key, value in state.items():
        module = key.split(".")[0]
        if module in skip or key not in source:
            continue
        if source[key].shape != value.shape:
            mismatched.add(by_module.get(module, module))
            continue
        state[key] = source[key]
        loaded.add(by_module.get(module, module))
    model.load_state_dict(state)
    notes = []
    if mismatched:
        notes.append(f"kept fresh weights for {', '.join(sorted(mismatched))}: their shapes differ from "
                     f"{config.init_weights}")
    if not loaded:
        notes.append(f"no weights in {config.init_weights} match this design")
    return loaded - mismatched, notes
