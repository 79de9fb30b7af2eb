"""What an import found: which traced layers became blocks, which stayed opaque and why, and
where each block's weights come from in the original module."""
from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import EngineError


class ModuleImportError(EngineError):
    """The module cannot be traced or run on the given input."""


@dataclass
class ImportReport:
    model_params: int
    design_params: int = 0
    mapped: list[str] = field(default_factory=list)  # design node ids made from known layers
    opaque: list[tuple[str, str, str]] = field(default_factory=list)  # (node id, what, why)
    notes: list[str] = field(default_factory=list)
    sources: dict[str, str] = field(default_factory=dict)  # node id -> qualified name of the original module
    # node id -> {state key inside the node's module: qualified state key of the original model}, for
    # blocks whose weights come from several modules (squeeze-excitation) or from a bare parameter
    weights: dict[str, dict[str, str]] = field(default_factory=dict)
    # what the traced module's weights were; engine.importing.sources says "random (untrained)
    # weights" or "pretrained weights from <file>"
    weights_origin: str = "the module's own, as it was given"

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
        lines.append(f"weights: {self.weights_origin}")
        return "\n".join(lines)

