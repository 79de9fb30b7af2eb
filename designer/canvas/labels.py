"""The words on the canvas: a node's name, its type with key parameters, its shape and count
line or its error, its tooltip; an edge's shape label and tooltip.

Everything shown comes from the design (names, parameters) or the engine's report (shapes,
counts, diagnostics); nothing here computes a shape. The texts are plain: the canvas draws them
as plain text, and the tooltips (Qt's rich text) escape every piece that comes from the user.
"""
from __future__ import annotations

import html

from engine.blocks.base import fmt_shape
from engine.summary import human, human_bytes

SHAPE_ERROR = "shape"  # the diagnostic code of inputs that do not fit a block

# How a parameter reads on a node, after the block type ("Conv2d 5×5, 6 ch, s1").
_UNITS = {"out_channels": "{} ch", "out_features": "{} out", "stride": "s{}", "padding": "p{}",
          "dilation": "d{}", "groups": "g{}", "output_size": "→ {}", "width": "w {}", "expansion": "×{}",
          "depth_multiplier": "×{}", "block_size": "r {}", "num_groups": "{} groups", "negative_slope": "α {}",
          "norm_type": "p {}", "num_classes": "{} classes", "threshold": "θ {}", "pieces": "{} pieces"}
_SKIP = {"bias", "ceil_mode", "count_include_pad", "affine", "track_running_stats", "momentum", "eps",
         "in_features", "output_padding"}
# Catalog titles too long to leave room for the parameters on a node (the tooltip and the
# inspector keep the whole title); a user's own block titles are shown as they are.
_SHORT_TITLES = {"residual_bottleneck": "Bottleneck", "residual_basic": "Residual",
                 "separable_block": "Separable block", "separable_conv2d": "Separable conv", "aux_head": "Aux head", "lppool1d": "LPPool1d",
                 "lppool2d": "LPPool2d", "global_avgpool": "Global avg pool", "global_maxpool": "Global max pool"}
_FIRST = ("kernel", "out_channels", "out_features", "width", "stride")  # then the schema's order
_NEUTRAL = {"stride": 1, "dilation": 1, "groups": 1, "padding": 0}  # not worth a word when so


def format_value(value) -> str:
    if isinstance(value, (list, tuple)):
        return "×".join(str(v) for v in value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def count(n: float) -> str:
    """156, 2.42 k, 75 k, 1.51 M: three significant digits with an SI prefix."""
    for threshold, suffix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(n) >= threshold:
            return f"{n / threshold:.3g} {suffix}"
    return f"{n:g}"


def _spatial_dims(spec) -> int:
    key = spec.key
    return 1 if key.endswith("1d") else 3 if key.endswith("3d") else 2


def _kernel(spec, value) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        return "×".join([str(value)] * _spatial_dims(spec))
    return format_value(value)


def key_params(spec, params: dict) -> str:
    """The parameters that tell this layer from another of its type: '5×5, 6 ch, s1'."""
    if spec.key == "input":
        return format_value(params.get("shape", []))
    shows_stride = spec.category in ("Convolution", "Pooling") and "kernel" in params
    names = [p.name for p in spec.params]
    ordered = [n for n in _FIRST if n in names] + [n for n in names if n not in _FIRST]
    schema = {p.name: p for p in spec.params}
    parts = []
    for name in ordered:
        p, value = schema[name], params.get(name)
        if name in _SKIP:
            continue
        if name == "stride" and value is None and shows_stride:
            value = params.get("kernel")  # PyTorch's pooling default: the window's size
        if value is None:
            continue
        if p.kind == "bool":
            if value != p.default:
                parts.append(name.replace("_", " ") if value else f"no {name.replace('_', ' ')}")
            continue
        if name in _NEUTRAL and value == _NEUTRAL[name] and not (name == "stride" and shows_stride):
            continue
        if name == "kernel":
            parts.append(_kernel(spec, value))
        elif name in _UNITS:
            parts.append(_UNITS[name].format(format_value(value)))
        else:
            parts.append(f"{name.replace('_', ' ')} {format_value(value)}")
    return ", ".join(parts)


def name_line(node) -> str:
    return node.name + (" ❄" if node.frozen else "")


def type_line(spec, params: dict) -> str:
    """'Conv2d 5×5, 6 ch, s1': the block type, then its key parameters."""
    title = _SHORT_TITLES.get(spec.key, spec.title)
    detail = key_params(spec, params)
    return f"{title} {detail}" if detail else title


def info_line(node_report) -> tuple[str, bool]:
    """'→ 6×28×28 · 156 params' and whether the shape is unknown (shown as a problem)."""
    if node_report is None or node_report.shape is None:
        return "→ ? (upstream error)" if not (node_report and node_report.has_error) else "→ ?", True
    text = f"→ {fmt_shape(node_report.shape)}"
    if node_report.params:
        text += f" · {count(node_report.params)} params"
    return text, False


def shape_line(node_report) -> str:
    """The compact style's second row: the output shape alone."""
    if node_report is None or node_report.shape is None:
        return "?"
    return fmt_shape(node_report.shape)


def first_error(node_report):
    if node_report is None:
        return None
    return next((d for d in node_report.diagnostics if d.severity == "error"), None)


def error_line(spec, node_report) -> str:
    """The first line of the node's first error, without the block type it starts with (the
    node shows the type already): what the canvas writes on a broken node."""
    d = first_error(node_report)
    if d is None:
        return ""
    line = d.message.strip().splitlines()[0] if d.message.strip() else d.code
    prefix = f"{spec.title}: "
    if line.startswith(prefix) and len(line) > len(prefix):
        line = line[len(prefix):]
    return f"✗ {line}"


def has_shape_error(node_report) -> bool:
    """True when the node's inputs do not fit it: the edges into it are the ones to draw red."""
    return node_report is not None and any(d.severity == "error" and d.code == SHAPE_ERROR
                                           for d in node_report.diagnostics)


def edge_label(shape) -> str:
    return fmt_shape(shape) if shape is not None else "?"


def esc(text) -> str:
    """Text from the user (names, titles, messages) made safe to put in rich text."""
    return html.escape(str(text), quote=False)


def diagnostic_html(d) -> str:
    """One diagnostic as rich text: the severity in its colour, the message, and the fix on its
    own line (the node tooltip, the edge tooltip and the inspector all show it so)."""
    color = "#d93025" if d.severity == "error" else "#b07c00"
    return (f"<span style='color:{color}'><b>{esc(d.severity)}:</b> {esc(d.message)}</span>"
            + (f"<br>&nbsp;&nbsp;<b>fix:</b> {esc(d.fix)}" if d.fix else ""))


def tooltip(node, spec, node_report) -> str:
    """The node's whole story: name, type and parameters, shapes, counts, and every diagnostic
    with its fix. Rich text; every user-supplied piece escaped."""
    detail = key_params(spec, node.params)
    lines = [f"<b>{esc(name_line(node))}</b> — {esc(spec.title)}" + (f" · {esc(detail)}" if detail else ""),
             f"<i>{esc(spec.formula)}</i>"]
    if node_report is not None:
        if node_report.input_shapes:
            shapes = ", ".join(fmt_shape(s) if s is not None else "?" for s in node_report.input_shapes)
            lines.append(f"in: {esc(shapes)}")
        if node_report.shape is not None:
            lines.append(f"out: {esc(fmt_shape(node_report.shape))} · {node_report.params:,} params · "
                         f"{esc(human(node_report.macs))} MACs · {esc(human_bytes(node_report.activation_bytes))}")
        elif not node_report.has_error:
            lines.append("out: unknown until the error upstream is fixed")
        lines.extend(diagnostic_html(d) for d in node_report.diagnostics)
    if spec.is_composite:
        lines.append("double-click to open it and edit its inside")
    return "<p style='white-space:pre-wrap'>" + "<br>".join(lines) + "</p>"


def edge_tooltip(shape, dst_node, dst_report) -> str:
    """What an edge carries and, when it breaks its target, why and how to fix it."""
    lines = [f"carries {esc(edge_label(shape))} into <b>{esc(dst_node.name)}</b>"]
    d = first_error(dst_report) if has_shape_error(dst_report) else None
    if d is not None:
        lines.append(diagnostic_html(d))
    return "<p style='white-space:pre-wrap'>" + "<br>".join(lines) + "</p>"
