"""What a trained network has learned (no Qt): for the app's Explain view and `main.py explain`.

    from engine.explain import load_explainer, top_patches, occlusion, gradcam, saliency
    ex, bundle = load_explainer(design, "runs/lenet5-…")       # a run folder or a weights file
    [best] = top_patches(ex, bundle.val, "conv1", channels=[0], k=9, progress=print, should_stop=lambda: False)
    heat = gradcam(ex, bundle.val[0][0], "conv2")               # .map, .caption (plain numpy)

Every method takes ``progress(fraction)`` and ``should_stop()`` callbacks (it raises
:class:`Cancelled` when asked to stop) and returns dataclasses of numpy arrays with a caption.
Samples are un-normalised, as the dataset gives them; maps have the input's spatial size.
"""
from __future__ import annotations

from .common import Cancelled, Explainer, ExplainError
from .fields import crop_bounds, node_field, unit_bounds
from .loading import load_explainer
from .maps import Heatmap, gradcam, occlusion, saliency
from .maximise import Maximised, maximise
from .neighbours import Neighbours, Projection, last_hidden_node, nearest_neighbours, pca_2d, projection
from .patches import ChannelPatches, top_patches

__all__ = ["Cancelled", "ChannelPatches", "ExplainError", "Explainer", "Heatmap", "Maximised", "Neighbours",
           "Projection", "crop_bounds", "gradcam", "last_hidden_node", "load_explainer", "maximise",
           "nearest_neighbours", "node_field", "occlusion", "pca_2d", "projection", "saliency", "top_patches",
           "unit_bounds"]
