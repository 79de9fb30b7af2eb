"""Where the network looked, for one input: occlusion sensitivity, Grad-CAM and the plain
input-gradient saliency. Every map has the input's spatial size (H×W, or L for a signal)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch.nn import functional as F

from .common import Explainer, ExplainError, Steps, batches, class_score, predicted


@dataclass
class Heatmap:
    method: str  # "occlusion", "gradcam" or "saliency"
    sample: np.ndarray  # [C, ...] the input, un-normalised
    map: np.ndarray  # [...] the input's spatial size
    target: int  # the class explained
    predicted: int
    score: float  # the target's score for the untouched input
    caption: str
    layer_map: np.ndarray | None = None  # Grad-CAM at the layer's own resolution


def _target(explainer: Explainer, out: torch.Tensor, class_index) -> tuple[int, int]:
    pred = int(predicted(out)[0])
    return (pred if class_index is None else explainer.check_class(class_index)), pred


def occlusion(explainer: Explainer, sample, class_index: int | None = None, size: int = 4, stride: int = 2,
              batch: int = 128, progress=None, should_stop=None) -> Heatmap:
    """Cover the input with a ``size``-pixel patch at every ``stride`` and record how much the
    target class's score drops; each pixel gets the mean drop of the patches covering it. The
    patch holds the dataset's mean (zero after normalisation), so it hides rather than adds."""
    steps = Steps(progress, should_stop, "the occlusion map")
    x = explainer.normalize(explainer.as_batch(sample))
    spatial = x.shape[2:]
    if not spatial:
        raise ExplainError(f"occlusion covers patches of an image or a signal; this input is {x.shape[1]} numbers "
                           "with no positions: Saliency shows how much each one matters")
    if size < 1 or stride < 1:
        raise ExplainError(f"the patch size and stride must be at least 1 (got {size} and {stride})")
    with torch.no_grad():
        out = explainer.model(x)
    target, pred = _target(explainer, out, class_index)
    base = float(class_score(out, target)[0])
    starts = [list(range(0, max(1, n - min(size, n) + 1), stride)) for n in spatial]
    for axis, n in enumerate(spatial):  # the last patch reaches the border
        if (n - min(size, n)) % stride:
            starts[axis].append(n - min(size, n))
    grid = np.array(np.meshgrid(*[list(s) for s in starts], indexing="ij")).reshape(len(spatial), -1).T
    drops = np.zeros(len(grid), np.float32)
    for lo, hi in batches(len(grid), batch):
        steps.check(lo / len(grid))
        xs = x.repeat(hi - lo, *([1] * (x.dim() - 1)))
        for row, corner in enumerate(grid[lo:hi]):
            region: Any = (row, slice(None), *(slice(int(c), int(c) + size) for c in corner))
            xs[region] = 0.0
        with torch.no_grad():
            drops[lo:hi] = base - class_score(explainer.model(xs), target).numpy()
    total, count = np.zeros(tuple(spatial), np.float32), np.zeros(tuple(spatial), np.float32)
    for corner, drop in zip(grid, drops):
        region = tuple(slice(c, c + size) for c in corner)
        total[region] += drop
        count[region] += 1
    heat = total / np.maximum(count, 1)
    name = explainer.class_name(target)
    caption = (f"Occlusion: hiding a {size}-pixel patch (stride {stride}) at the bright places lowers the score "
               f"of '{name}' most (score {base:.2f} untouched; largest drop {heat.max():.2f}). Blue: hiding "
               "there raises it.")
    steps.done()
    return Heatmap("occlusion", x_raw(explainer, x), heat, target, pred, base, caption)


def x_raw(explainer: Explainer, x: torch.Tensor) -> np.ndarray:
    return explainer.denormalize(x.detach())[0].numpy()


def gradcam(explainer: Explainer, sample, node_id: str, class_index: int | None = None,
            progress=None, should_stop=None) -> Heatmap:
    """Grad-CAM (Selvaraju et al.): the node's channels weighted by the mean gradient of the
    target score on each, summed, negative parts cut, resized to the input."""
    steps = Steps(progress, should_stop, "Grad-CAM")
    shape = explainer.spatial_node(node_id)
    model = explainer.tapped((node_id,))
    # The weights are frozen, so the input must ask for gradients for the graph to be recorded.
    x = explainer.normalize(explainer.as_batch(sample)).requires_grad_(True)
    steps.check(0.0)
    with torch.enable_grad():
        out, taps = model(x)
        target, pred = _target(explainer, out.detach(), class_index)
        a = taps[node_id]
        score = class_score(out, target)[0]
        if not a.requires_grad:
            raise ExplainError(f"the score does not depend on {node_id!r}; pick a layer that leads to the output")
        (grad,) = torch.autograd.grad(score, a, allow_unused=True)
    if grad is None:
        raise ExplainError(f"the score does not depend on {node_id!r}; pick a layer that leads to the output")
    axes = tuple(range(2, a.dim()))
    weights = grad.mean(axes, keepdim=True)
    cam = F.relu((weights * a.detach()).sum(1))[0]  # [...] at the layer's resolution
    up = to_input(explainer, node_id, cam.numpy())
    name = explainer.class_name(target)
    caption = (f"Grad-CAM at {node_id} ({'×'.join(map(str, shape[1:]))} map) for '{name}': bright = the layer's "
               f"features there push the score of '{name}' up. Coarse layers give coarse maps.")
    if all(n == 1 for n in shape[1:]):
        caption += " This layer's map is a single point, so it cannot say where: pick an earlier layer."
    steps.done()
    return Heatmap("gradcam", x_raw(explainer, x), up, target, pred, float(score.detach()), caption,
                   cam.numpy())


def to_input(explainer: Explainer, node_id: str, layer_map: np.ndarray) -> np.ndarray:
    """A layer's map at the input's resolution, each unit's value placed at the centre of its
    receptive field and interpolated linearly between centres (held beyond the outer ones).
    Stretching the map over the image instead would misplace it when the layers do not pad:
    LeNet's conv2 units see pixels 0–13 to 18–31 of 32, not the whole width."""
    from .fields import node_field

    spatial = explainer.input_shape[1:]
    field = node_field(explainer, node_id)
    if field is None or len(field) != layer_map.ndim or layer_map.ndim > 2:
        mode = {1: "linear", 2: "bilinear", 3: "trilinear"}[len(spatial)]
        t = torch.as_tensor(layer_map, dtype=torch.float32)[None, None]
        return F.interpolate(t, size=tuple(spatial), mode=mode, align_corners=False)[0, 0].numpy()
    out = np.asarray(layer_map, dtype=np.float64)
    for axis, ((start, size, jump), n_in) in enumerate(zip(field, spatial)):
        n = out.shape[axis]
        units = (np.arange(n_in) - (start + (size - 1) / 2)) / jump  # fractional unit index per pixel
        units = np.clip(units, 0, n - 1)
        lo = np.floor(units).astype(int)
        hi = np.minimum(lo + 1, n - 1)
        w = units - lo
        weights = np.zeros((n_in, n))
        np.add.at(weights, (np.arange(n_in), lo), 1 - w)
        np.add.at(weights, (np.arange(n_in), hi), w)
        out = np.moveaxis(np.tensordot(weights, np.moveaxis(out, axis, 0), axes=1), 0, axis)
    return out.astype(np.float32)


def saliency(explainer: Explainer, sample, class_index: int | None = None, progress=None,
             should_stop=None) -> Heatmap:
    """The size of the target score's gradient at each input pixel (largest over channels):
    where a small change of the input would change the score most."""
    steps = Steps(progress, should_stop, "the saliency map")
    x = explainer.normalize(explainer.as_batch(sample)).requires_grad_(True)
    steps.check(0.0)
    with torch.enable_grad():
        out = explainer.model(x)
        target, pred = _target(explainer, out.detach(), class_index)
        score = class_score(out, target)[0]
        (grad,) = torch.autograd.grad(score, x)
    name = explainer.class_name(target)
    if x.dim() == 2:  # features without positions (a table's row): one value per feature
        heat = grad.abs()[0].numpy()
        caption = (f"Saliency for '{name}': the input features with the largest gradient (tallest, brightest) are "
                   f"those whose small change would change the score of '{name}' most.")
    else:
        heat = grad.abs().amax(1)[0].numpy()
        caption = (f"Saliency for '{name}': bright pixels are where a small change of the input would change the "
                   f"score of '{name}' most (size of the gradient).")
    steps.done()
    return Heatmap("saliency", x_raw(explainer, x), heat, target, pred, float(score.detach()), caption)
