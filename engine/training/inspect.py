"""Looking inside a trained network (torch only, no Qt): activations of chosen nodes, the first
layer's filters, top-5 predictions, a confusion matrix, the held-out evaluation of a run
(:func:`evaluate_run`, through :func:`engine.training.evaluate.evaluate`, the trainer's own
validation) and the translation-equivariance probe (shift the input, see each layer's maps shift
by the same amount divided by the layer's total stride).

These run on a fresh copy of the run's network (compiled from the run's design snapshot with
taps, weights copied in), never on the module the trainer is updating, and in background threads:
torch is imported inside the functions that use it, so the UI thread can import this module (for
:func:`spatial_nodes`, :func:`top_k`) before torch is loaded.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .. import compile_design
from ..analysis import analyze
from ..blocks.lazy import LazyModule
from ..errors import DesignError
from ..graph import Design

if TYPE_CHECKING:
    import numpy as np
    import torch
else:
    np = LazyModule("numpy")  # the UI thread imports this module before numpy is needed


def spatial_nodes(design: Design) -> list[str]:
    """Nodes whose output still has spatial axes (feature maps), in forward order."""
    report = analyze(design)
    out = []
    for node_id in report.order:
        node = design.nodes[node_id]
        shape = report.nodes[node_id].shape if node_id in report.nodes else None
        if node.block in ("input", "output") or shape is None:
            continue
        if len(shape) >= 2:  # channels × (length | height × width | ...)
            out.append(node_id)
    return out


def tapped_model(design: Design, state_dict: dict | None, taps) -> torch.nn.Module:
    model = compile_design(design, taps=tuple(taps))
    if state_dict:
        model.load_state_dict(state_dict, strict=False)
    return model.eval()


def activations(model, x: torch.Tensor) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """(output logits [N, classes], {node id: activation [N, C, ...]}) for a tapped model."""
    import torch

    with torch.no_grad():
        out, taps = model(x)
    return out.float().cpu().numpy(), {k: v.float().cpu().numpy() for k, v in taps.items()}


def first_conv_filters(design: Design, state_dict: dict) -> tuple[str, np.ndarray] | None:
    """The first convolution's weights [K, C, kh, kw] (or [K, C, k] in 1-D), by forward order."""
    report = analyze(design)
    model = compile_design(design)
    names = model.node_names
    for node_id in report.order:
        if design.nodes[node_id].block.startswith("conv") and node_id in names:
            key = f"{names[node_id]}.weight"
            weight = state_dict.get(key) if state_dict else None
            if weight is None:
                weight = getattr(model.get_submodule(names[node_id]), "weight", None)
            if weight is not None:
                return node_id, weight.detach().float().cpu().numpy()
    return None


def first_conv_node(design: Design, node_names: dict) -> tuple[str, str] | None:
    """(node id, submodule name) of the first convolution in forward order, or None."""
    for node_id in design.topological_order():
        if design.nodes[node_id].block.startswith("conv") and node_id in node_names:
            return node_id, node_names[node_id]
    return None


def top_k(scores: np.ndarray, classes: list[str], k: int = 5, probabilities: bool = False) -> list[tuple[str, float]]:
    """The k most probable classes of one output vector, with their probabilities (numpy: the UI
    thread calls this for each prediction event). ``scores`` are logits — a softmax, or for a
    single output a sigmoid scoring class 1 (the rule of :mod:`engine.training.evaluate`) — or,
    with ``probabilities``, already probabilities (one value: class 1's)."""
    z = np.asarray(scores, dtype=np.float64).reshape(-1)
    if len(z) == 1:
        p1 = float(z[0]) if probabilities else float(1 / (1 + np.exp(-z[0])))
        probs = np.array([1 - p1, p1])
    elif probabilities:
        probs = z
    else:
        e = np.exp(z - z.max())
        probs = e / e.sum()
    order = np.argsort(-probs, kind="stable")[:k]
    return [(classes[i] if i < len(classes) else str(i), float(probs[i])) for i in order]


def confusion_matrix(predicted: np.ndarray, target: np.ndarray, num_classes: int) -> np.ndarray:
    """Rows are the true class, columns the predicted class."""
    m = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(m, (np.asarray(target, dtype=np.int64), np.asarray(predicted, dtype=np.int64)), 1)
    return m


def first_filters(design: Design, state: dict | None):
    """(node id, K×C×… weights) of the first convolution, or None (no conv, invalid design)."""
    try:
        return first_conv_filters(design, state or {})
    except Exception:  # noqa: BLE001 - an invalid design has no filters to show
        return None


@dataclass
class RunEvaluation:
    matrix: np.ndarray  # confusion matrix, rows: true class
    accuracy: float
    count: int
    image: np.ndarray  # the chosen sample, for the predictions view
    top5: list
    true_label: str
    loss: float | None = None


def evaluate_run(design: Design, state: dict | None, bundle, sample_index: int = 0, config: dict | None = None,
                 batch: int = 256) -> RunEvaluation:
    """Held-out evaluation of a run's weights on ``bundle``'s validation set — the trainer's own
    validation (:func:`engine.training.evaluate.evaluate`), so the accuracy is the run's last
    validation accuracy for the same weights — and the top-5 prediction for one sample.
    ``config`` is the run's configuration (its normalisation and loss)."""
    import types

    import torch

    from ..data import fetch
    from .evaluate import evaluate
    from .optim import make_loss

    config = config or {}
    model = tapped_model(design, state, ())
    output_shape = analyze(design).nodes[design.output_nodes()[0].id].shape
    if output_shape is None:
        raise DesignError("the design has errors: fix them before evaluating it")
    num_outputs = int(output_shape[-1])
    loss_fn = None
    if config.get("loss"):
        loss_fn = make_loss(types.SimpleNamespace(loss=config["loss"],
                                                  label_smoothing=config.get("label_smoothing", 0.0)), num_outputs)
    mean, std = (bundle.mean, bundle.std) if config.get("normalize", True) else (None, None)
    n = len(bundle.val)
    i = max(0, min(sample_index, n - 1))
    kept = {}

    def keep(out, y, offset):
        if offset <= i < offset + len(y):
            kept["scores"] = out[i - offset].cpu().numpy()

    result = evaluate(model, bundle.val, loss_fn=loss_fn, num_outputs=num_outputs, mean=mean, std=std,
                      batch_size=batch, device="cpu", on_batch=keep)
    assert result is not None  # only a should_stop() stops it early
    x, y = fetch(bundle.val, torch.tensor([i]))
    scores = kept.get("scores")
    top5 = top_k(scores, bundle.classes) if scores is not None else []
    label = bundle.classes[int(y[0])] if len(y) and int(y[0]) < len(bundle.classes) else ""
    image = x[0].numpy() if len(x) else np.zeros((0,))
    return RunEvaluation(result.confusion, result.accuracy, result.count, image, top5, label, result.loss)


def load_run_weights(run_dir: str | None) -> dict | None:
    """The final weights of a run (weights.safetensors, else the last checkpoint)."""
    if not run_dir:
        return None
    from .rundir import load_weights
    for name in ("weights.safetensors", "checkpoints/last.pt"):
        path = Path(run_dir) / name
        if path.exists():
            try:
                return load_weights(path)
            except Exception:  # noqa: BLE001 - a torn file: fall through to the next
                continue
    return None


def shift(x: torch.Tensor, dy: int, dx: int = 0) -> torch.Tensor:
    """Shift [N, C, H, W] (or [N, C, L] along L by ``dy``) with zeros coming in, not wrapping:
    a real translation of the picture inside its frame."""
    import torch

    out = torch.zeros_like(x)
    if x.ndim == 3:
        dy, dx = 0, dy
        src = x[..., max(0, -dx):x.shape[-1] - max(0, dx)]
        out[..., max(0, dx):max(0, dx) + src.shape[-1]] = src
        return out
    h, w = x.shape[-2:]
    src = x[..., max(0, -dy):h - max(0, dy), max(0, -dx):w - max(0, dx)]
    out[..., max(0, dy):max(0, dy) + src.shape[-2], max(0, dx):max(0, dx) + src.shape[-1]] = src
    return out


@dataclass
class EquivarianceRow:
    node_id: str
    name: str
    original: np.ndarray  # the layer's map for the input (mean over channels)
    shifted: np.ndarray  # its map for the shifted input
    scale: float  # 1 / the layer's jump along the last axis (its cumulative stride)
    error: float  # how far the shifted map is from the original map moved by the expected shift
    # The analysis' receptive-field jump per spatial axis: one step on this layer's map is this
    # many input pixels (the cumulative stride; not the output/input width ratio, which is off
    # after unpadded convolutions: LeNet-5's conv2 maps 10 of 32 pixels but its jump is 2).
    jump: tuple[int, ...] = (1, 1)
    expected: tuple[float, float] = (0.0, 0.0)  # (down, right) in this layer's pixels: shift / jump
    measured: tuple[int, int] = (0, 0)  # the whole-pixel (down, right) move that best matches


def layer_jumps(design: Design, nodes) -> dict[str, tuple[int, ...]]:
    """Each node's receptive-field jump per spatial axis from the analysis (None-free: a node
    the analysis gives no field keeps no entry)."""
    report = analyze(design)
    out = {}
    for node_id in nodes:
        info = report.nodes.get(node_id)
        if info is not None and info.receptive_field:
            out[node_id] = tuple(int(jump) for _size, jump in info.receptive_field)
    return out


def equivariance_probe(design: Design, state_dict: dict | None, x: torch.Tensor, dy: int, dx: int,
                       nodes=None) -> list[EquivarianceRow]:
    """For one input [1, C, ...]: each spatial layer's map for x and for x shifted by (dy, dx).

    A layer whose receptive-field jump is J should see its map move by shift / J of its own
    pixels (``expected``); ``measured`` is the whole-pixel move that matches best. ``error`` is
    the relative difference between the map of the shifted input and the original map moved by
    the expected amount, measured away from the borders (zeros come in at the edge, which is
    not the network's doing). Convolutions give ~0 at whole-pixel shifts; pooling and strides
    give a non-zero error for shifts that are not a multiple of their jump: the "little
    invariance" of the catalog.
    """
    import torch

    x = torch.as_tensor(x, dtype=torch.float32)
    nodes = list(nodes) if nodes is not None else spatial_nodes(design)
    jumps = layer_jumps(design, nodes)
    model = tapped_model(design, state_dict, nodes)
    _, a = activations(model, x)
    _, b = activations(model, shift(x, dy, dx))
    rows = []
    for node_id in nodes:
        if node_id not in a or a[node_id].ndim < 3:
            continue
        m0, m1 = a[node_id][0].mean(axis=0), b[node_id][0].mean(axis=0)
        jump = jumps.get(node_id) or tuple(max(1, round(n / m)) for n, m in zip(x.shape[2:], m0.shape))
        jy, jx = (1, jump[0]) if m0.ndim == 1 else (jump[0], jump[-1])
        along = (0.0, dy / jx) if m0.ndim == 1 else (dy / jy, dx / jx)  # 1-D: the shift is along L
        rows.append(EquivarianceRow(node_id, design.nodes[node_id].name, m0, m1, 1 / jx,
                                    _shift_error(m0, m1, *along), tuple(jump), along,
                                    _best_move(m0, m1, along)))
    return rows


def _best_move(m0: np.ndarray, m1: np.ndarray, expected: tuple[float, float]) -> tuple[int, int]:
    """The whole-pixel (down, right) move of ``m0`` closest to ``m1`` inside the border, searched
    a couple of pixels beyond the expected move (ties: the smaller move)."""
    if m0.ndim == 1:
        m0, m1 = m0[None], m1[None]
    reach = [min(n - 1, int(abs(e)) + 2) for n, e in zip(m0.shape, expected)]
    best, best_cost = (0, 0), float("inf")
    for iy in range(-reach[0], reach[0] + 1):
        for ix in range(-reach[1], reach[1] + 1):
            cost = _masked_difference(m0, m1, iy, ix, reach)
            if cost < best_cost - 1e-9 or (abs(cost - best_cost) <= 1e-9 and abs(iy) + abs(ix) < sum(map(abs, best))):
                best, best_cost = (iy, ix), cost
    return best


def _masked_difference(m0: np.ndarray, m1: np.ndarray, iy: int, ix: int, border) -> float:
    """Mean |m0 moved by (iy, ix) − m1| away from a border of ``border`` pixels (one window for
    every move tried, so the costs compare)."""
    h, w = m0.shape
    moved = np.zeros_like(m0)
    moved[max(0, iy):h + min(0, iy), max(0, ix):w + min(0, ix)] = m0[max(0, -iy):h - max(0, iy),
                                                                    max(0, -ix):w - max(0, ix)]
    by, bx = border
    rows = slice(by, h - by) if h > 2 * by else slice(None)
    cols = slice(bx, w - bx) if w > 2 * bx else slice(None)
    return float(np.abs(moved[rows, cols] - m1[rows, cols]).mean())


def _shift_error(m0: np.ndarray, m1: np.ndarray, sy: float, sx: float) -> float:
    """Mean |shift(m0) − m1| / mean |m1| inside the border, for the whole-pixel part of the shift
    (a shift by a fraction of a pixel cannot be matched: that is the stride's invariance)."""
    iy, ix = int(round(sy)), int(round(sx))
    if m0.ndim == 1:  # 1-D layers: treat as one-row images shifted along their length
        m0, m1, iy = m0[None], m1[None], 0
    import torch

    moved = shift(torch.as_tensor(m0)[None, None], iy, ix)[0, 0].numpy()
    # Ignore a border as wide as the shift plus one: zeros enter there from outside the frame.
    by, bx = abs(iy) + 1, abs(ix) + 1
    rows = slice(by, -by) if m0.shape[0] > 2 * by else slice(None)
    cols = slice(bx, -bx) if m0.shape[1] > 2 * bx else slice(None)
    diff = moved[rows, cols] - m1[rows, cols]
    return float(np.abs(diff).mean() / (np.abs(m1[rows, cols]).mean() + 1e-8))


__all__ = ["EquivarianceRow", "RunEvaluation", "activations", "confusion_matrix", "equivariance_probe",
           "evaluate_run", "first_conv_filters", "first_conv_node", "first_filters", "layer_jumps", "load_run_weights",
           "shift", "spatial_nodes", "tapped_model", "top_k"]
