"""The importer's old address: it lives in :mod:`engine.importing` now."""
from ..importing import ImportReport, ModuleImportError, import_module, transfer_weights

__all__ = ["ImportReport", "ModuleImportError", "import_module", "transfer_weights"]
