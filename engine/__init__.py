"""Network Designer's engine: design model, block catalog, analysis, compiler, training, export.

No Qt is imported anywhere in this package: it works as a library and from the command line.

    from engine import Design, analyze, compile_design
    d = Design("tiny", num_classes=10)
    d.chain(("input", {"shape": [1, 28, 28]}), ("conv2d", {"out_channels": 8}), "relu",
            "flatten", ("linear", {"out_features": 10}), "output")
    report = analyze(d)          # shapes, params, MACs, memory, receptive fields, diagnostics
    model = compile_design(d)    # a torch.fx.GraphModule
"""
from .analysis import Diagnostic, NodeReport, Report, analyze
from .errors import (
    CompileError,
    CycleError,
    DesignError,
    DesignFileError,
    EngineError,
    ParameterError,
    PortError,
    PortOccupiedError,
    UnknownBlockError,
    UnknownNodeError,
)
from .graph import CompositeDefinition, Design, DesignEvent, Edge, LintError, Node


def compile_design(design, report=None, taps=()):
    """See :func:`engine.compile.compile_design` (imported lazily: it pulls in torch)."""
    from .compile import compile_design as _compile
    return _compile(design, report, taps)


__all__ = ["Design", "DesignEvent", "Edge", "Node", "CompositeDefinition", "analyze", "Report", "NodeReport",
           "Diagnostic", "compile_design", "EngineError", "DesignError", "DesignFileError", "CompileError",
           "CycleError", "ParameterError", "PortError", "PortOccupiedError", "UnknownBlockError",
           "UnknownNodeError", "LintError"]
