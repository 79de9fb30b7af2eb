"""A volume's result (inputs C×D×H×W) as pictures: one depth slice each, chosen where it says
most — the slice where a map is strongest, the slice through each top patch's crop centre,
the middle slice otherwise. The app's Explain view and the `explain` command's figures both
draw the slice; the note says which."""
from __future__ import annotations

import dataclasses

import numpy as np

from .maps import Heatmap
from .maximise import Maximised
from .neighbours import Neighbours
from .patches import ChannelPatches


def depth_slice(result):
    """(result with its pictures cut to one depth slice, note); a result of a 2-D or 1-D input,
    or one without pictures, comes back as it is with an empty note."""
    if isinstance(result, Heatmap) and np.asarray(result.sample).ndim == 4:
        heat = np.asarray(result.map, np.float32)
        d = int(np.argmax(np.abs(heat).reshape(heat.shape[0], -1).sum(axis=1)))
        return (dataclasses.replace(result, sample=np.asarray(result.sample)[:, d], map=heat[d]),
                f"depth slice {d + 1} of {heat.shape[0]}, where the map is strongest")
    if isinstance(result, ChannelPatches) and np.asarray(result.samples).ndim == 5:
        samples = np.asarray(result.samples)
        centres = [(b[0][0] + b[0][1] - 1) // 2 for b in result.bounds]
        return (dataclasses.replace(result, samples=np.stack([s[:, d] for s, d in zip(samples, centres)]),
                                    bounds=[tuple(b[1:]) for b in result.bounds]),
                "each sample at the depth slice through the centre of the part its unit sees")
    if isinstance(result, Maximised) and np.asarray(result.images).ndim == 5:
        images = np.asarray(result.images)
        d = images.shape[2] // 2
        return (dataclasses.replace(result, images=images[:, :, d]),
                f"middle depth slice, {d + 1} of {images.shape[2]}")
    if isinstance(result, Neighbours) and np.asarray(result.samples).ndim == 4:
        depth = np.asarray(result.samples).shape[1]
        d = depth // 2
        return (dataclasses.replace(result, samples=np.asarray(result.samples)[:, d],
                                    feature_samples=np.asarray(result.feature_samples)[:, :, d],
                                    pixel_samples=np.asarray(result.pixel_samples)[:, :, d]),
                f"middle depth slice, {d + 1} of {depth}")
    return result, ""
