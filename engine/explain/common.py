"""What every explanation method shares: the network with trained weights, the data's
normalisation, the progress/cancel callbacks and the class score.

Methods take *un-normalised* samples (what the dataset gives: images in [0, 1]) and return plain
numpy arrays at the input's resolution, so a view can draw them over the picture it shows.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, cast

import numpy as np
import torch

from ..analysis import analyze
from ..compile import compile_design
from ..errors import EngineError
from ..graph import Design

Progress = Callable[[float], None]
ShouldStop = Callable[[], bool]


class ExplainError(EngineError):
    """An explanation cannot be computed for this design, node or sample; the message says why."""


class Cancelled(ExplainError):
    """``should_stop()`` returned True: the method stopped before finishing."""

    def __init__(self, what: str = "the explanation"):
        super().__init__(f"{what} was stopped before it finished; start it again to see the result")


@dataclass
class Steps:
    """Progress reporting and cancel checks for one method (callbacks may be None)."""

    progress: Progress | None = None
    should_stop: ShouldStop | None = None
    what: str = "the explanation"

    def check(self, fraction: float | None = None) -> None:
        if self.should_stop is not None and self.should_stop():
            raise Cancelled(self.what)
        if fraction is not None and self.progress is not None:
            self.progress(min(1.0, max(0.0, float(fraction))))

    def done(self) -> None:
        if self.progress is not None:
            self.progress(1.0)


@dataclass
class Explainer:
    """A design with its trained weights, ready to be looked into.

    ``mean``/``std`` are the per-channel normalisation the run trained with (empty: none);
    ``classes`` names the outputs. Tapped copies share the weights (never trained here)."""

    design: Design
    state: dict | None = None
    mean: list = field(default_factory=list)
    std: list = field(default_factory=list)
    classes: list = field(default_factory=list)

    def __post_init__(self):
        report = analyze(self.design)
        if not report.valid:
            raise ExplainError("the design has errors: fix them (see `validate`) before explaining it")
        self.report = report
        self.model = self._compiled(())
        self._tapped: dict[tuple, torch.nn.Module] = {}
        shape = report.nodes[self.design.output_nodes()[0].id].shape
        self.num_outputs = int(shape[-1]) if shape else 0
        if not self.classes:
            self.classes = [str(i) for i in range(max(2, self.num_outputs))]

    def _compiled(self, taps: tuple) -> torch.nn.Module:
        # Compiled *with* the taps (not engine.compile.with_taps) so a tapped value is the one the
        # rest of the network uses: gradients flow through it (Grad-CAM) and nothing overwrites it.
        model = compile_design(self.design, self.report, taps=taps)
        if self.state:
            try:
                model.load_state_dict(self.state, strict=True)
            except RuntimeError as e:
                first = str(e).strip().splitlines()
                raise ExplainError("the weights do not fit this design (" + (first[0] if first else "mismatch") +
                                   "): give the design the run was trained with") from None
        for p in model.parameters():
            p.requires_grad_(False)
        return model.eval()

    def tapped(self, nodes) -> torch.nn.Module:
        """A model returning ``(output, {node id: activation})`` for ``nodes``."""
        key = tuple(nodes)
        for n in key:
            if n not in self.design.nodes:
                raise ExplainError(f"no node {n!r} in the design; pick one of {', '.join(self.report.order)}")
        if key not in self._tapped:
            self._tapped[key] = self._compiled(key)
        return self._tapped[key]

    def up_to(self, node_id: str) -> torch.nn.Module:
        """A model computing only what ``node_id`` needs: ``(None, {node_id: activation})``.
        Optimising an early layer's input then skips the rest of the network each step."""
        from torch import fx

        key = ("up to", node_id)
        if key not in self._tapped:
            gm = cast(fx.GraphModule, self.tapped((node_id,)))
            graph = fx.Graph()
            out: Any = graph.graph_copy(gm.graph, {})  # the output's value: (logits, {node id: tap})
            graph.output((None, {node_id: out[1][node_id]}))
            short = fx.GraphModule(gm, graph)
            short.graph.eliminate_dead_code()
            short.recompile()
            self._tapped[key] = short.eval()
        return self._tapped[key]

    @property
    def input_shape(self) -> tuple:
        return tuple(self.design.input_shape or ())

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        if not self.mean:
            return x
        shape = (1, -1) + (1,) * (x.dim() - 2)
        mean = torch.tensor(self.mean, dtype=x.dtype).view(shape)
        std = torch.tensor(self.std, dtype=x.dtype).view(shape)
        return (x - mean) / std

    def denormalize(self, x: torch.Tensor) -> torch.Tensor:
        if not self.mean:
            return x
        shape = (1, -1) + (1,) * (x.dim() - 2)
        return x * torch.tensor(self.std, dtype=x.dtype).view(shape) + torch.tensor(self.mean, dtype=x.dtype).view(shape)

    def as_batch(self, sample) -> torch.Tensor:
        """One un-normalised sample [C, ...] (or a batch) as a float batch [N, C, ...]."""
        x = torch.as_tensor(np.asarray(sample), dtype=torch.float32)
        if x.dim() == len(self.input_shape):
            x = x[None]
        if tuple(x.shape[1:]) != self.input_shape:
            raise ExplainError(f"the sample is {tuple(x.shape[1:])} but the design takes {self.input_shape}; "
                               "use the dataset the run was trained on")
        return x

    def class_name(self, c: int) -> str:
        return self.classes[c] if 0 <= c < len(self.classes) else str(c)

    def check_class(self, c: int) -> int:
        n = max(2, self.num_outputs) if self.num_outputs == 1 else self.num_outputs
        if not 0 <= int(c) < n:
            raise ExplainError(f"class {c} does not exist: the network has {n} classes (0 to {n - 1})")
        return int(c)

    def spatial_node(self, node_id: str) -> tuple:
        """The output shape of a node with channels and spatial axes, or an error naming some."""
        if node_id not in self.design.nodes:
            raise ExplainError(f"no node {node_id!r} in the design; feature-map nodes: {', '.join(self.feature_nodes())}")
        shape = self.report.nodes[node_id].shape
        if shape is None or len(shape) < 2:
            raise ExplainError(f"{node_id!r} has no feature maps (its output is {shape}); pick one of "
                               f"{', '.join(self.feature_nodes())}")
        return tuple(shape)

    def feature_nodes(self) -> list[str]:
        out = []
        for n in self.report.order:
            shape = self.report.nodes[n].shape
            if self.design.nodes[n].block not in ("input", "output") and shape is not None and len(shape) >= 2:
                out.append(n)
        return out


def class_score(out: torch.Tensor, c: int) -> torch.Tensor:
    """Each row's score for class ``c``: its output, or for a single (sigmoid) output the logit
    for class 1 and its negative for class 0."""
    if out.shape[1] == 1:
        return out[:, 0] if c == 1 else -out[:, 0]
    return out[:, c]


def predicted(out: torch.Tensor) -> torch.Tensor:
    if out.shape[1] == 1:
        return (out[:, 0] > 0).long()
    return out.argmax(1)


def batches(n: int, size: int):
    for start in range(0, n, size):
        yield start, min(n, start + size)
