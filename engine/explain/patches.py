"""Top patches (Zeiler & Fergus): the dataset samples that excite one channel most, and the
part of each that the strongest unit sees (its receptive-field crop)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..data import fetch
from .common import Explainer, Steps, batches
from .fields import crop_bounds, node_field


@dataclass
class ChannelPatches:
    node_id: str
    channel: int
    indices: np.ndarray  # [k] sample indices into the dataset, strongest first
    scores: np.ndarray  # [k] the channel's strongest unit's activation in each
    positions: list  # [k] the strongest unit's position (one index per spatial axis)
    bounds: list  # [k] ((lo, hi), ...) per axis: the crop in input pixels, half-open, clipped
    samples: np.ndarray  # [k, C, ...] the whole samples, un-normalised
    labels: np.ndarray  # [k] their classes
    caption: str

    def crops(self) -> list[np.ndarray]:
        """Each sample cut to its crop ([C, h, w] or [C, l])."""
        return [s[(slice(None), *(slice(lo, hi) for lo, hi in b))] for s, b in zip(self.samples, self.bounds)]


def top_patches(explainer: Explainer, dataset, node_id: str, channels=None, k: int = 9, batch: int = 256,
                max_samples: int | None = None, progress=None, should_stop=None) -> list[ChannelPatches]:
    """For each of ``channels`` (default: all of the node's) the ``k`` samples of ``dataset``
    whose strongest unit in that channel is highest. One pass over the data serves every channel."""
    steps = Steps(progress, should_stop, "the top patches")
    shape = explainer.spatial_node(node_id)
    channels = list(range(shape[0])) if channels is None else [int(c) for c in channels]
    for c in channels:
        if not 0 <= c < shape[0]:
            raise_channel(node_id, c, shape[0])
    model = explainer.tapped((node_id,))
    n = len(dataset) if max_samples is None else min(len(dataset), int(max_samples))
    best: np.ndarray = np.full((len(channels), 0), -np.inf, np.float32)
    best_idx: np.ndarray = np.zeros((len(channels), 0), np.int64)
    best_pos: np.ndarray = np.zeros((len(channels), 0), np.int64)
    k = max(1, min(int(k), n))
    for start, stop in batches(n, batch):
        steps.check(start / max(n, 1))
        x, _ = fetch(dataset, torch.arange(start, stop))
        with torch.no_grad():
            _, taps = model(explainer.normalize(x))
        a = taps[node_id][:, channels].flatten(2)  # [b, channels, positions]
        peak, where = a.max(2)
        best = np.concatenate([best, peak.T.numpy()], 1)
        best_idx = np.concatenate([best_idx, np.broadcast_to(np.arange(start, stop), peak.T.shape)], 1)
        best_pos = np.concatenate([best_pos, where.T.numpy()], 1)
        keep = np.argsort(-best, axis=1, kind="stable")[:, :k]  # bounded memory: only the k best so far
        best, best_idx, best_pos = (np.take_along_axis(v, keep, 1) for v in (best, best_idx, best_pos))
    field = node_field(explainer, node_id)
    spatial = explainer.input_shape[1:]
    out = []
    for row, c in enumerate(channels):
        steps.check()
        idx = best_idx[row]
        x, y = fetch(dataset, torch.as_tensor(idx))
        positions = [tuple(int(v) for v in np.unravel_index(p, shape[1:])) for p in best_pos[row]]
        bounds = [crop_bounds(field, pos, spatial) if field else tuple((0, int(s)) for s in spatial)
                  for pos in positions]
        names = ", ".join(explainer.class_name(int(v)) for v in y[:5])
        where = "the outlined part is what its strongest unit sees" if field else "its units see the whole input"
        caption = (f"{node_id}, channel {c}: the {len(idx)} samples that excite it most (strongest first; {where}). "
                   f"Classes: {names}{' and more' if len(idx) > 5 else ''}.")
        out.append(ChannelPatches(node_id, c, idx, best[row], positions, bounds, x.numpy(), y.numpy(), caption))
    steps.done()
    return out


def raise_channel(node_id: str, c: int, count: int):
    from .common import ExplainError
    raise ExplainError(f"channel {c} does not exist in {node_id!r}: it has {count} channels (0 to {count - 1})")
