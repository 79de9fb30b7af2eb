"""Formatting of analysis reports: a torchinfo-style text table and a JSON-ready dict.

Kept apart from the analysis records (as torchinfo keeps layer_info apart from formatting).
"""
from __future__ import annotations

from .analysis import Report
from .blocks.base import fmt_shape
from .graph import Design


def human(n: float, unit: str = "") -> str:
    for threshold, suffix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(n) >= threshold:
            return f"{n / threshold:.2f} {suffix}{unit}".rstrip()
    return f"{n:g} {unit}".rstrip()


def human_bytes(n: float) -> str:
    for threshold, suffix in ((1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")):
        if n >= threshold:
            return f"{n / threshold:.1f} {suffix}"
    return f"{n:.0f} B"


def rows(design: Design, report: Report) -> list[dict]:
    """One record per node, in execution order (the layer summary table and bar charts use it)."""
    out = []
    for node_id in report.order:
        n, node = report.nodes[node_id], design.nodes[node_id]
        out.append({"id": node_id, "name": node.name, "block": node.block, "title": design.spec(node.block).title,
                    "shape": n.shape, "params": n.params, "trainable": n.trainable_params, "macs": n.macs,
                    "memory": n.activation_bytes, "rf": n.receptive_field,
                    "status": "error" if n.has_error else ("warning" if n.diagnostics else "")})
    return out


def text_table(design: Design, report: Report, batch: int = 1) -> str:
    header = ("Layer", "Block", "Output shape", "Params", "MACs", "Memory")
    body = [(r["name"] + (" ⚠" if r["status"] == "warning" else " ✖" if r["status"] == "error" else ""),
             r["title"], fmt_shape(r["shape"]) if r["shape"] is not None else "?",
             f"{r['params']:,}", f"{r['macs']:,}", human_bytes(r["memory"] * batch)) for r in rows(design, report)]
    widths = [max(len(h), *(len(row[i]) for row in body)) if body else len(h) for i, h in enumerate(header)]
    align = ["<", "<", "<", ">", ">", ">"]

    def line(cells):
        return "  ".join(f"{c:{a}{w}}" for c, a, w in zip(cells, align, widths)).rstrip()

    rule = "─" * len(line(header))
    lines = [rule, line(header), rule, *map(line, body), rule]
    lines.append(f"Total parameters:     {report.total_params:,}")
    lines.append(f"Trainable parameters: {report.trainable_params:,}")
    if report.frozen_params:
        lines.append(f"Frozen parameters:    {report.frozen_params:,}")
    lines.append(f"Multiply-accumulates: {report.macs:,} ({human(report.macs)})")
    lines.append(f"Activation memory:    {human_bytes(report.activation_bytes * batch)} (batch {batch}, float32)")
    lines.append(rule)
    for d in report.diagnostics:
        lines.append(str(d))
    return "\n".join(lines)


def to_json(design: Design, report: Report) -> dict:
    return {
        "name": design.name,
        "valid": report.valid,
        "total_params": report.total_params,
        "trainable_params": report.trainable_params,
        "frozen_params": report.frozen_params,
        "macs": report.macs,
        "activation_bytes": report.activation_bytes,
        "nodes": [{"id": i, "name": design.nodes[i].name, "block": n.block,
                   "output_shape": list(n.shape) if n.shape is not None else None,
                   "params": n.params, "trainable_params": n.trainable_params, "macs": n.macs,
                   "activation_bytes": n.activation_bytes,
                   "receptive_field": [list(a) for a in n.receptive_field] if n.receptive_field else None,
                   "diagnostics": [d.to_dict() for d in n.diagnostics]}
                  for i, n in ((i, report.nodes[i]) for i in report.order)],
        "diagnostics": [d.to_dict() for d in report.diagnostics],
    }
