"""Leave the app with something that runs anywhere, and come back with it.

Export (:func:`export`): a bundle (design + safetensors weights), a ``state_dict`` ``.pt``,
one readable standalone PyTorch file, ONNX, a ``torch.export`` program, or a training script
that runs under ``torchrun``. Every export is reloaded and compared with the in-app model.

Every export carries what the model expects of its input (shape, normalisation, class names;
:mod:`engine.export.preprocess`), and generated code uses torchvision's module names
(:mod:`engine.export.layout`).

Import: :func:`load_bundle` reads a design with its weights back; :func:`import_module`
turns any ``nn.Module`` that ``torch.fx`` can trace (torchvision models included) into an
editable design, with a report of what it could not map to catalog blocks.
"""
from .formats import (
    BAKE_FORMATS,
    FORMATS,
    ExportError,
    ExportResult,
    MissingDependencyError,
    export,
    fresh_weights,
    untrained_note,
)
from .weights import (
    WeightsFileError,
    check_state_dict,
    load_bundle,
    read_pt,
    read_safetensors,
    read_weights,
    save_pt,
    save_safetensors,
)


def import_module(module, input_shape, name=None):
    """See :func:`engine.export.importer.import_module`."""
    from .importer import import_module as _import
    return _import(module, input_shape, name)


__all__ = ["BAKE_FORMATS", "FORMATS", "ExportError", "ExportResult", "MissingDependencyError", "WeightsFileError", "export",
           "load_bundle", "check_state_dict", "read_pt", "read_safetensors", "read_weights", "save_pt",
           "save_safetensors", "import_module", "fresh_weights", "untrained_note"]
