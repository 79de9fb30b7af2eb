"""One PNG figure per explanation result (see render.py for the drawing pieces)."""
from __future__ import annotations

import numpy as np

from .render import CLASS_COLOURS, TILE, colour_bar, figure, scale_range, tile
from .slices import depth_slice

HEAT_LABELS = {"occlusion": "score drop", "gradcam": "Grad-CAM", "saliency": "|gradient|"}


def _grey_bar(sample, label: str):
    """The grey scale of image tiles; a signal is a line drawn to its own range, so none."""
    if np.asarray(sample).ndim == 2:
        return None
    return colour_bar(0.0, 1.0, "grey", label, height=TILE)


def _sliced(result):
    """A volume's result cut to one depth slice, and a sentence saying which (else as it is)."""
    result, note = depth_slice(result)
    return result, (f" Volumes: {note}." if note else "")


def heatmap_figure(heat, classes):
    heat, note = _sliced(heat)
    signed = heat.method == "occlusion"
    kind = "signed" if signed else "heat"
    lo, hi = scale_range(heat.map, signed)
    size = 3 * TILE
    name = classes[heat.predicted] if heat.predicted < len(classes) else str(heat.predicted)
    panels = [tile(heat.sample, size), tile(heat.sample, size, heat.map, kind, (lo, hi)),
              colour_bar(lo, hi, kind, HEAT_LABELS[heat.method], height=min(size, 200))]
    title = {"occlusion": "Occlusion sensitivity", "gradcam": "Grad-CAM", "saliency": "Saliency"}[heat.method]
    return figure(panels, heat.caption + f" The network predicts '{name}'." + note, title,
                  labels=["input", "map over the input", ""])


def patches_figure(results, dataset_classes, whole: bool = False):
    """One row per channel: the k crops (or, with ``whole``, the samples with the crop outlined)."""
    sliced = [_sliced(r) for r in results]
    results, volume_note = [r for r, _ in sliced], sliced[0][1]
    panels, labels = [], []
    k = max(len(r.indices) for r in results)
    for r in results:
        crops = r.crops()
        for j in range(k):
            if j >= len(r.indices):
                panels.append(tile(np.zeros_like(r.samples[0]), TILE))
                labels.append("")
                continue
            if whole:
                panels.append(tile(r.samples[j], TILE, outline=r.bounds[j]))
            else:
                panels.append(tile(crops[j], TILE))
            label = int(r.labels[j])
            name = dataset_classes[label] if label < len(dataset_classes) else str(label)
            labels.append(f"ch{r.channel} '{name}' {r.scores[j]:.2f}")
    bar = _grey_bar(results[0].samples[0], "pixel value")
    if len(results) == 1:
        caption = results[0].caption
    else:
        caption = (f"{results[0].node_id}: one row per channel, the {k} crops that excite it most (strongest "
                   "first; the number is the activation). Each crop is the part of the input its strongest unit sees.")
    note = (" Each signal is drawn to its own range." if np.asarray(results[0].samples[0]).ndim == 2
            else " Tiles are enlarged.")
    return figure(panels, caption + note + " The label is the sample's class and the activation." + volume_note,
                  f"Top patches at {results[0].node_id}", columns=k, labels=labels, side=bar)


def maximised_figure(result, classes):
    result, note = _sliced(result)
    panels, labels = [], []
    size = TILE if len(result.images) > 1 else 3 * TILE  # one picture (a class): show it large
    for img, unit, reached in zip(result.images, result.units, result.activation):
        panels.append(tile(img, size))
        name = f"ch{unit}" if result.node_id else f"'{classes[unit] if unit < len(classes) else unit}'"
        labels.append(f"{name} {reached:.2f}")
    bar = _grey_bar(result.images[0], "low → high")
    columns = min(8, len(panels))
    caption = (result.caption + " Each picture is stretched to its own range; the number is the activation "
               "reached." + note)
    title = f"Activation maximisation at {result.node_id}" if result.node_id else "Activation maximisation"
    return figure(panels, caption, title, columns=columns, labels=labels, side=bar)


def neighbours_figure(result, classes):
    result, note = _sliced(result)
    k = len(result.feature_indices)
    panels, labels = [], []
    for indices, samples, values, what in ((result.feature_indices, result.feature_samples,
                                            result.feature_similarity, "cos"),
                                           (result.pixel_indices, result.pixel_samples, result.pixel_distance, "d")):
        for i, (index, sample, value) in enumerate(zip(indices, samples, values)):
            panels.append(tile(sample, TILE, outline=None))
            label = result.labels[int(index)]
            name = classes[label] if label < len(classes) else str(label)
            labels.append(("query " if i == 0 else "") + f"'{name}' {what} {value:.2f}")
    bar = _grey_bar(result.samples, "pixel value")
    return figure(panels, result.caption + note, f"Nearest neighbours at {result.node_id} (top) and in pixels (bottom)",
                  columns=k, labels=labels, side=bar)


def projection_figure(result, classes, size: int = 360):
    from PIL import Image, ImageDraw

    from .render import _font
    canvas = Image.new("RGB", (size + 130, size), (255, 255, 255))
    draw = ImageDraw.Draw(canvas)
    p = result.points
    lo, hi = p.min(0), p.max(0)
    span = np.where(hi > lo, hi - lo, 1.0)
    xy = 10 + (p - lo) / span * (size - 20)
    for (x, y), label in zip(xy, result.labels):
        colour = CLASS_COLOURS[int(label) % len(CLASS_COLOURS)]
        draw.ellipse([x - 2.5, size - y - 2.5, x + 2.5, size - y + 2.5], fill=colour)
    draw.rectangle([0, 0, size - 1, size - 1], outline=(160, 160, 160))
    font = _font(12)
    shown = sorted({int(v) for v in result.labels})
    for row, label in enumerate(shown[:20]):  # the legend is the colour bar of a class colouring
        colour = CLASS_COLOURS[label % len(CLASS_COLOURS)]
        draw.rectangle([size + 10, 10 + 16 * row, size + 22, 22 + 16 * row], fill=colour)
        draw.text((size + 28, 9 + 16 * row), classes[label] if label < len(classes) else str(label),
                  fill=(0, 0, 0), font=font)
    return figure([canvas], result.caption + " Axes: first and second principal direction.",
                  f"PCA of {result.node_id}")
