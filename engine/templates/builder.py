"""The small builder every template uses: a chain of nodes laid out left to right, the shape
at the end of the chain, and notes on how the template adapted to the requested input.

It runs each block's shape rule as it goes, so a template that would produce an invalid
design fails here, at build time, naming the layer (a template bug, never the user's).
"""
from __future__ import annotations

from typing import Any

from .. import blocks
from ..blocks.base import ShapeProblem, fmt_shape
from ..errors import EngineError
from ..graph import Design

SPACING = 170.0  # canvas units between consecutive nodes of the main chain
BRANCH_DROP = 190.0  # how far below the chain side branches (auxiliary heads) sit


class TemplateError(EngineError, ValueError):
    """The template cannot be built for the requested input (e.g. too small, not an image)."""


class NetBuilder:
    """``b.add("conv1", "conv2d", out_channels=64, kernel=3)`` appends to the main chain."""

    def __init__(self, name: str, input_shape, num_classes: int, min_size: int = 1):
        shape = tuple(int(s) for s in input_shape)
        if len(shape) != 3:
            raise TemplateError(f"{name} takes an image input (channels, height, width); got {fmt_shape(shape)}")
        if min(shape) < 1:
            raise TemplateError(f"{name}: every axis of the input must be at least 1; got {fmt_shape(shape)}")
        if min(shape[1:]) < min_size:
            raise TemplateError(f"{name} needs an input of at least {min_size}×{min_size}; "
                                f"got {shape[1]}×{shape[2]}")
        if num_classes < 1:
            raise TemplateError(f"{name}: the class count must be at least 1; got {num_classes}")
        self.design = Design(name, num_classes=num_classes)
        self.num_classes = num_classes
        self.notes: list[str] = []
        self.shapes: dict[str, tuple] = {}
        self.x = 0.0
        self.last: str | None = None
        self.add("input", "input", shape=list(shape))

    # -- the chain -----------------------------------------------------------------------
    @property
    def shape(self) -> tuple:
        assert self.last is not None  # the Input is added first
        return self.shapes[self.last]

    @property
    def spatial(self) -> tuple:
        return self.shape[1:]

    def add(self, node_id: str, block: str, src: str | None = None, branch: bool = False, pos=None,
            **params) -> str:
        """Append ``block`` after ``src`` (default: the end of the chain). A ``branch`` node is
        placed at ``pos`` (default: below its source) and does not become the end of the chain."""
        src = src if src is not None else self.last
        spec = blocks.get(block)
        values = spec.validate_params(params)
        ins = [self.shapes[src]] if src is not None else []
        try:
            inference = spec.infer(values, ins)
        except ShapeProblem as e:
            raise TemplateError(f"{self.design.name}: layer '{node_id}' does not fit its input "
                                f"{fmt_shape(ins[0]) if ins else ''}: {e.message}") from None
        if branch:
            assert src is not None, "a branch starts from a layer"
            x, y = pos or (self.design.nodes[src].pos[0], self.design.nodes[src].pos[1] + BRANCH_DROP)
        else:
            x, y = self.x, 0.0
            self.x += SPACING
        self.design.add_node(block, params, pos=(x, y), node_id=node_id)
        if src is not None:
            self.design.connect(src, node_id)
        self.shapes[node_id] = inference.shape
        if not branch:
            self.last = node_id
        return node_id

    def branch_from(self, src: str, steps) -> str:
        """A side chain below ``src``: ``steps`` are ``(node_id, block, params)``; returns the last id."""
        last = src
        x, y = self.design.nodes[src].pos
        for i, (node_id, block, params) in enumerate(steps):
            last = self.add(node_id, block, src=last, branch=True, pos=(x + i * SPACING, y + BRANCH_DROP), **params)
        return last

    # -- adaptations -----------------------------------------------------------------------
    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)

    def pool(self, node_id: str, block: str, kernel: int, stride: int | None = None, padding: int = 0,
             ceil_mode: bool = False) -> str | None:
        """A pooling layer, left out (with a note) when the map is already smaller than the
        window, and rounding up (ceil mode, with a note) when rounding down would drop the last
        rows of the map (VGG on 28×28: 7×7 → 4×4). At the classic input sizes neither happens."""
        if min(self.spatial) + 2 * padding < kernel:
            self.note(f"{node_id} left out: the feature map is already {fmt_shape(self.spatial)}, "
                      f"smaller than its {kernel}×{kernel} window")
            return None
        step = stride or kernel
        if not ceil_mode and any(_drops_rows(n, kernel, step, padding) for n in self.spatial):
            ceil_mode = True
            self.note(f"{node_id} rounds up (ceil mode) so its {fmt_shape(self.spatial)} input loses no rows")
        params: dict[str, Any] = {"kernel": kernel, "stride": stride, "ceil_mode": ceil_mode}
        if padding:
            params["padding"] = padding
        return self.add(node_id, block, **params)

    def classifier_pool(self, node_id: str, target: int, always: bool = True) -> str | None:
        """Adaptive average pool to ``target``×``target`` so the classifier does not depend on
        the input size; on smaller maps it pools to the map's own size (nothing is invented)."""
        size = [min(target, n) for n in self.spatial]
        if not always and tuple(size) == tuple(self.spatial) == (target, target):
            return None
        if size != [target, target]:
            self.note(f"{node_id} gives {fmt_shape(size)} instead of {target}×{target} (the feature map "
                      f"is only {fmt_shape(self.spatial)}), so the first fully connected layer has "
                      f"{self.shape[0] * size[0] * size[1]} inputs instead of {self.shape[0] * target * target}")
        elif not always:
            self.note(f"{node_id} (adaptive average pool to {target}×{target}) added so the classifier fits "
                      f"the {fmt_shape(self.spatial)} feature map")
        return self.add(node_id, "adaptive_avgpool2d", output_size=size if size[0] != size[1] else size[0])

    def finish(self, description: str, add_output: bool = True) -> Design:
        if add_output:
            self.add("output", "output")
        text = description
        if self.notes:
            text += "\n\nAdapted to the input " + fmt_shape(self.shapes["input"]) + ":\n" + \
                "\n".join(f"- {n}" for n in self.notes)
        self.design.notes = text
        return self.design


def _drops_rows(n: int, kernel: int, stride: int, padding: int) -> bool:
    span = n + 2 * padding - kernel
    return span >= 0 and (padding + n - 1) - ((span // stride) * stride + kernel - 1) > 0


def fit_padding(n: int, kernel: int, stride: int, choices=(0, 1, 2)) -> int:
    """The smallest padding for which a strided window sees every real row of an input of size n."""
    for p in choices:
        if n + 2 * p >= kernel and not _drops_rows(n, kernel, stride, p):
            return p
    return choices[0]
