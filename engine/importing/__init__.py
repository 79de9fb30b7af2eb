"""Any ``nn.Module`` that ``torch.fx`` can trace → an editable design.

The module is traced into a graph and run once on zeros to measure every shape. Each layer of
a known type becomes its catalog block with the same settings (the constructor arguments are
read back from the module, see :mod:`.render`); additions, concatenations, flattens and the
common functional activations become their blocks too. Patterns of modern CNNs are recognised:
a squeeze-and-excitation (pool → 1×1 conv → act → 1×1 conv → gate, times the input) becomes one
composite block, a learned C×1×1 parameter times a tensor a Layer scale, other products a
Multiply; permutes, transposes and views are followed until they mean something (a channels-
last round trip, in which a LayerNorm is one over channels and a Linear a 1×1 convolution, as
in ConvNeXt; ShuffleNet's view/transpose/view channel shuffle); and torchvision's BasicBlock and
Bottleneck come back as the catalog's residual blocks. Anything else becomes an opaque block
that keeps its traced shapes and parameter count, and the :class:`ImportReport` lists it.

Modules: :mod:`.trace` (trace and measure), :mod:`.builder` (the walk over the trace), :mod:`.rules`
(one layer → one block), :mod:`.views` and :mod:`.rearrange` (permutes and views),
:mod:`.products` (layer scale, squeeze-and-excitation), :mod:`.residuals` (ResNet blocks),
:mod:`.weights` (the original weights for the compiled design), :mod:`.report`.
"""
from .report import ImportReport, ModuleImportError
from .trace import import_module
from .weights import transfer_weights

__all__ = ["ImportReport", "ModuleImportError", "import_module", "transfer_weights"]
