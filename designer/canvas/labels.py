"""The words on the canvas: a node's key parameters, its shape/parameter line, its tooltip.

Everything shown comes from the design (parameters) or the engine's report (shapes, counts,
diagnostics); nothing here computes a shape.
"""
from __future__ import annotations

from engine.blocks.base import fmt_shape
from engine.summary import human, human_bytes

# Short names so three parameters fit on one line of a node.
_SHORT = {"out_channels": "ch", "out_features": "out", "kernel": "k", "stride": "s", "padding": "pad",
          "dilation": "dil", "groups": "g", "negative_slope": "α", "output_size": "size", "num_groups": "groups",
          "depth_multiplier": "×", "block_size": "r", "norm_type": "p", "num_classes": "classes",
          "expansion": "exp", "threshold": "θ"}
_SKIP = {"bias", "ceil_mode", "count_include_pad", "affine", "track_running_stats", "momentum", "eps",
         "in_features", "output_padding"}


def format_value(value) -> str:
    if isinstance(value, (list, tuple)):
        return "×".join(str(v) for v in value)
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def key_params(spec, params: dict) -> str:
    if spec.key == "input":
        return f"shape {format_value(params.get('shape', []))}"
    parts = []
    for p in spec.params:
        value = params.get(p.name)
        if p.name in _SKIP or value is None:
            continue
        if p.kind == "bool":
            if value != p.default:
                parts.append(p.name.replace("_", " ") if value else f"no {p.name.replace('_', ' ')}")
            continue
        if p.name in ("stride", "dilation", "groups") and value == 1:
            continue
        if p.name == "padding" and value == 0:
            continue
        parts.append(f"{_SHORT.get(p.name, p.name)} {format_value(value)}")
    if parts:
        return " · ".join(parts[:4])
    return spec.formula if len(spec.formula) <= 30 else ""


def info_line(node_report) -> tuple[str, bool]:
    """'→ 6×28×28 · 156 params' and whether the shape is unknown (shown as a problem)."""
    if node_report is None or node_report.shape is None:
        return "→ ? (see the problem above)" if node_report and node_report.has_error else "→ ? (upstream problem)", True
    text = f"→ {fmt_shape(node_report.shape)}"
    if node_report.params:
        text += f" · {human(node_report.params)} params"
    return text, False


def edge_label(shape) -> str:
    return fmt_shape(shape) if shape is not None else "?"


def tooltip(node, spec, node_report) -> str:
    lines = [f"<b>{_esc(node.name)}</b> — {_esc(spec.title)}", f"<i>{_esc(spec.formula)}</i>"]
    if node_report is not None:
        shapes = ", ".join(fmt_shape(s) if s is not None else "?" for s in node_report.input_shapes)
        if node_report.input_shapes:
            lines.append(f"in: {shapes}")
        if node_report.shape is not None:
            lines.append(f"out: {fmt_shape(node_report.shape)} · {node_report.params:,} params · "
                         f"{human(node_report.macs)} MACs · {human_bytes(node_report.activation_bytes)}")
        for d in node_report.diagnostics:
            color = "#d93025" if d.severity == "error" else "#b07c00"
            lines.append(f"<span style='color:{color}'><b>{d.severity}:</b> {_esc(d.message)}</span>"
                         + (f"<br>&nbsp;&nbsp;fix: {_esc(d.fix)}" if d.fix else ""))
    if spec.is_composite:
        lines.append("double-click to open it and edit its inside")
    return "<br>".join(lines)


def _esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
