"""Activation maximisation: start from faint noise and change the input, by gradient ascent,
until a chosen channel (or class score) is as high as possible. Three regularisers keep the
picture readable instead of adversarial noise: random jitter (shift a few pixels each step),
an L2 penalty (small values) and a periodic blur (no pixel-level stripes)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch.nn import functional as F

from .common import Explainer, ExplainError, Steps, class_score


@dataclass
class Maximised:
    node_id: str | None  # None: a class score was maximised
    units: list  # the channels (or the class) maximised, one per image
    images: np.ndarray  # [n, C, ...] un-normalised
    activation: np.ndarray  # [n] the objective reached
    noise_activation: np.ndarray  # [n] the objective for the starting noise
    caption: str


def _blur(x: torch.Tensor) -> torch.Tensor:
    """A 3-tap binomial blur along every spatial axis (padding by replication)."""
    kernel = torch.tensor([0.25, 0.5, 0.25])
    c = x.shape[1]
    for axis in range(2, x.dim()):
        shape = [1] * (x.dim() - 2)
        shape[axis - 2] = 3
        w = kernel.view(1, 1, *shape).repeat(c, 1, *([1] * (x.dim() - 2)))
        pad = [0, 0] * (x.dim() - 2)
        pad[2 * (x.dim() - 1 - axis)] = pad[2 * (x.dim() - 1 - axis) + 1] = 1
        conv = {3: F.conv1d, 4: F.conv2d, 5: F.conv3d}[x.dim()]
        x = conv(F.pad(x, pad, mode="replicate"), w, groups=c)
    return x


def _objective(explainer, model, node_id, units, x):
    if node_id is None:
        out = model(x)
        return torch.stack([class_score(out[i:i + 1], u)[0] for i, u in enumerate(units)])
    _, taps = model(x)
    a = taps[node_id]
    # The unit at the centre of the channel's map: its input shows the pattern the filter looks
    # for, framed by its receptive field. (The mean over all positions, DeepDream's objective,
    # makes a small network's answer a flat texture that says little.)
    centre = tuple(n // 2 for n in a.shape[2:])
    return torch.stack([a[(i, u, *centre)] for i, u in enumerate(units)])


def maximise(explainer: Explainer, node_id: str | None = None, channels=None, class_index: int | None = None,
             steps: int = 64, lr: float = 0.08, jitter: int | None = None, l2: float = 1e-3,
             blur_every: int | None = None,
             seed: int = 0, progress=None, should_stop=None) -> Maximised:
    """One optimised input per channel of ``node_id`` (``channels``: which; default all), or
    for ``class_index`` when ``node_id`` is None. All are optimised together as one batch."""
    tracker = Steps(progress, should_stop, "activation maximisation")
    if node_id is None:
        if class_index is None:
            raise ExplainError("give a layer and channel, or a class, to maximise")
        units, model = [explainer.check_class(class_index)], explainer.model
    else:
        if node_id not in explainer.design.nodes:
            raise ExplainError(f"no node {node_id!r} in the design; pick one of {', '.join(explainer.report.order)}")
        shape = explainer.report.nodes[node_id].shape  # channels (× positions), or a flat layer's units
        if not shape or explainer.design.nodes[node_id].block in ("input", "output"):
            raise ExplainError(f"{node_id!r} has no output to maximise")
        units = list(range(shape[0])) if channels is None else [int(c) for c in channels]
        for c in units:
            if not 0 <= c < shape[0]:
                raise ExplainError(f"channel {c} does not exist in {node_id!r}: it has {shape[0]} (0 to {shape[0] - 1})")
        model = explainer.up_to(node_id)
    jitter, blur_every = _regularisers(explainer, node_id, jitter, blur_every)
    gen = torch.Generator().manual_seed(seed)
    x = (0.1 * torch.randn((len(units), *explainer.input_shape), generator=gen)).requires_grad_(True)
    with torch.no_grad():
        start = _objective(explainer, model, node_id, units, x).numpy()
    # Adam written out: torch.optim imports torch._dynamo, which alone costs seconds.
    m1, m2 = torch.zeros_like(x), torch.zeros_like(x)
    spatial_axes = list(range(2, x.dim()))
    for step in range(steps):
        tracker.check(step / steps)
        shifts = [int(v) for v in torch.randint(-jitter, jitter + 1, (len(spatial_axes),), generator=gen)]
        with torch.enable_grad():
            moved = torch.roll(x, shifts, spatial_axes) if jitter else x
            objective = _objective(explainer, model, node_id, units, moved)
            loss = -objective.sum() + l2 * (x * x).sum()
            (grad,) = torch.autograd.grad(loss, x)
        with torch.no_grad():
            m1.mul_(0.9).add_(grad, alpha=0.1)
            m2.mul_(0.999).addcmul_(grad, grad, value=0.001)
            t = step + 1
            x.sub_(lr * (m1 / (1 - 0.9 ** t)) / ((m2 / (1 - 0.999 ** t)).sqrt() + 1e-8))
        if blur_every and (step + 1) % blur_every == 0:
            with torch.no_grad():
                x.copy_(_blur(x))
    with torch.no_grad():
        reached = _objective(explainer, model, node_id, units, x).numpy()
        images = explainer.denormalize(x.detach()).numpy()
    what = (f"the centre unit of {'each channel' if len(units) > 1 else f'channel {units[0]}'} of {node_id}"
            if node_id else
            f"the score of class '{explainer.class_name(units[0])}'")
    caption = (f"Activation maximisation: inputs grown from noise to excite {what} as much as possible "
               f"(jitter {jitter} px, L2 {l2:g}, " + (f"blur every {blur_every} steps, " if blur_every else "no blur, ") +
               f"{steps} steps). "
               f"Mean gain over noise ×{_gain(reached, start):.1f}.")
    tracker.done()
    return Maximised(node_id, units, images, reached, start, caption)


def _regularisers(explainer, node_id, jitter, blur_every) -> tuple[int, int]:
    """Jitter and blur scaled to what the unit sees: shifting or blurring a 3-pixel field's
    input erases the very pattern it detects, so small fields get neither (None = choose)."""
    if len(explainer.input_shape) < 2:  # features without positions: nothing to shift or blur
        return 0, 0
    field = explainer.report.nodes[node_id].receptive_field if node_id else None
    size = min(s for s, _ in field) if field else min(explainer.input_shape[1:])
    if jitter is None:
        jitter = max(0, min(2, int(size) // 4))
    if blur_every is None:
        blur_every = 4 if size >= 5 else 0
    return int(jitter), int(blur_every)


def _gain(reached, start) -> float:
    return float(np.mean(np.abs(reached)) / max(float(np.mean(np.abs(start))), 1e-6))
