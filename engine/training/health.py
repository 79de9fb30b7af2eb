"""Training health: per-node gradient norms and dead ReLU units, sampled every N steps, and the
diagnostics they raise (vanishing or exploding gradients, ReLUs that stopped passing anything).

Cheap by construction: nothing is hooked between samples. On a sampling step the ReLU modules get
a forward hook for that one forward pass (it keeps one boolean per unit, not the activation), and
after the backward pass every node's gradient norm is computed on the device and read back in one
transfer. With the default interval of 50 steps the cost is within the noise of
``bench/trainer_overhead.py``.

    probe = HealthProbe(model, interval=50)
    with probe.watching(step):            # around the forward pass
        out = model(x)
    loss.backward()
    probe.read_gradients(step, scale)     # before the optimizer step
    sample = probe.take(epoch)            # an events.Health, or None when the step was not sampled
    for diagnostic in checker.check(sample): ...
"""
from __future__ import annotations

import contextlib
import math
from collections import defaultdict

import torch
from torch import nn

from . import events

RELU_TYPES = (nn.ReLU, nn.ReLU6)
DEAD_SHARE = 0.9          # a ReLU node this share of whose units are dead...
DEAD_SAMPLES = 2          # ...on this many samples in a row gets a diagnostic
VANISHING_RATIO = 1e-4    # a node's gradient norm below this share of the largest one...
EXPLODING_NORM = 1e3      # ...or a norm above this (or not finite)
FIXES = {
    "vanishing": "Usual fixes: batch normalisation after the convolutions, a residual connection around "
                 "the deep part, ReLU instead of sigmoid/tanh, or He (Kaiming) initialisation.",
    "exploding": "Usual fixes: a lower learning rate, gradient clipping (Grad clip in the training settings), "
                 "batch normalisation, or warm-up.",
    "dead_relu": "Usual fixes: a lower learning rate, batch normalisation before the ReLU, a leaky ReLU, "
                 "or He (Kaiming) initialisation.",
}


def node_of(name: str, by_module: dict[str, str]) -> str | None:
    """The design node a parameter or submodule name belongs to (``layer1_0.conv1.weight`` →
    ``layer1_0``): the longest dotted prefix that is a node's submodule."""
    parts = name.split(".")
    for cut in range(len(parts), 0, -1):
        node = by_module.get(".".join(parts[:cut]))
        if node is not None:
            return node
    return None


class HealthProbe:
    """Samples one model's gradient norms and dead ReLU units every ``interval`` steps."""

    def __init__(self, model: nn.Module, interval: int):
        self.interval = interval
        by_module = {module: node for node, module in getattr(model, "node_names", {}).items()}
        grouped: dict[str, list[torch.Tensor]] = defaultdict(list)
        for name, param in model.named_parameters():
            node = node_of(name, by_module)
            if node is not None and param.requires_grad:
                grouped[node].append(param)
        self.params = dict(grouped)
        self.relus = [(node, module) for name, module in model.named_modules()
                      if isinstance(module, RELU_TYPES) and (node := node_of(name, by_module)) is not None]
        self._dead: dict[str, list] = {}
        self._pending: tuple[int, dict[str, float]] | None = None

    def due(self, step: int) -> bool:
        return self.interval > 0 and step % self.interval == 0

    @contextlib.contextmanager
    def watching(self, step: int):
        """Around a forward pass: on a sampling step, count each ReLU node's dead units."""
        if not self.due(step) or not self.relus:
            yield
            return
        counts: dict[str, list] = defaultdict(lambda: [0, 0])

        def hook(node):
            def record(module, inputs, output):
                if output.dim() < 2:
                    return
                alive = (output.detach() > 0).flatten(1).any(dim=0)  # a unit passing anything in the batch
                counts[node][0] += alive.numel() - alive.sum()       # stays on the device until read
                counts[node][1] += alive.numel()
            return record

        handles = [module.register_forward_hook(hook(node)) for node, module in self.relus]
        try:
            yield
        finally:
            for handle in handles:
                handle.remove()
        self._dead = dict(counts)

    def read_gradients(self, step: int, scale: float = 1.0) -> None:
        """After the backward pass of a sampling step: every node's gradient L2 norm (divided by
        the loss scale of mixed precision), read back from the device in one transfer."""
        if not self.due(step):
            return
        nodes, norms = [], []
        for node, params in self.params.items():
            grads = [p.grad.detach().float().norm() for p in params if p.grad is not None]
            if grads:
                nodes.append(node)
                norms.append(torch.stack(grads).norm())
        values = torch.stack(norms).tolist() if norms else []
        self._pending = (step, {node: value / scale for node, value in zip(nodes, values)})

    def take(self, epoch: int) -> events.Health | None:
        """The sample of the last sampling step as an event (once), or None."""
        if self._pending is None:
            return None
        step, grads = self._pending
        dead = {node: float(d) / n for node, (d, n) in self._dead.items() if n}
        self._pending, self._dead = None, {}
        return events.Health(step, epoch, grads, dead)


class HealthChecker:
    """Turns samples into diagnostics on nodes; each (node, kind) is reported once a run."""

    def __init__(self, labels: dict[str, str] | None = None):
        self.labels = labels or {}
        self._dead_streak: dict[str, int] = defaultdict(int)
        self._said: set[tuple[str, str]] = set()

    def check(self, sample: events.Health) -> list[events.HealthDiagnostic]:
        found = []
        norms = sample.grad_norms
        finite = [v for v in norms.values() if math.isfinite(v)]
        largest = max(finite, default=0.0)
        for node, norm in norms.items():
            if not math.isfinite(norm) or norm > EXPLODING_NORM:
                found.append(self._say(node, "exploding", sample.step,
                                       f"exploding gradients at {self._name(node)}: gradient norm {norm:.3g} at "
                                       f"step {sample.step} (above {EXPLODING_NORM:g})."))
            elif largest > 0 and norm < VANISHING_RATIO * largest:
                found.append(self._say(node, "vanishing", sample.step,
                                       f"vanishing gradients at {self._name(node)}: gradient norm {norm:.3g} at "
                                       f"step {sample.step}, {norm / largest:.1e} of the largest layer's."))
        for node, share in sample.dead_fraction.items():
            self._dead_streak[node] = self._dead_streak[node] + 1 if share >= DEAD_SHARE else 0
            if self._dead_streak[node] >= DEAD_SAMPLES:
                found.append(self._say(node, "dead_relu", sample.step,
                                       f"dead ReLU units at {self._name(node)}: {share:.0%} of its units output "
                                       f"zero for every sample in the batch (step {sample.step})."))
        return [d for d in found if d is not None]

    def _name(self, node: str) -> str:
        label = self.labels.get(node)
        return f"{label} ({node})" if label and label != node else node

    def _say(self, node: str, kind: str, step: int, text: str) -> events.HealthDiagnostic | None:
        if (node, kind) in self._said:
            return None
        self._said.add((node, kind))
        return events.HealthDiagnostic(node, kind, f"{text} {FIXES[kind]}", step)
