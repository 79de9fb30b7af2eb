"""How big a node is drawn, per style, without Qt (the automatic layout reads it).

Two styles:

- ``full`` (the default): the layer's name, its block type with key parameters, and its output
  shape with parameter count (or, on a broken node, the first line of its error), in three rows.
- ``compact``: the name and the output shape only, in a smaller node, so a big flat network
  (an imported torchvision model of a few hundred layers) still fits on a screen. The scene
  uses it by itself above :data:`COMPACT_ABOVE` nodes, or when asked for.

A node is drawn as wide as its text needs, between its style's minimum width and
:func:`node_size`'s width, centred in that box: the box is what the layout must reserve (its
position is the box's top-left corner, its ports sit on the box's vertical centre line).
"""
from __future__ import annotations

FULL, COMPACT, AUTO = "full", "compact", "auto"
STYLES = (FULL, COMPACT)
COMPACT_ABOVE = 120  # nodes: above this many, "auto" draws compact nodes

_SIZES = {FULL: (240.0, 72.0), COMPACT: (170.0, 46.0)}  # (max width, height)
_MIN_WIDTHS = {FULL: 150.0, COMPACT: 110.0}


def node_size(style: str = FULL) -> tuple[float, float]:
    """(width, height) of the box a node of ``style`` may fill: the layout's slot."""
    return _SIZES[style]


def min_width(style: str = FULL) -> float:
    return _MIN_WIDTHS[style]


def style_for(node_count: int, preference: str = AUTO) -> str:
    """The style the canvas draws a design of ``node_count`` nodes in, for a user's
    ``preference`` ("auto", "full" or "compact")."""
    if preference in STYLES:
        return preference
    return COMPACT if node_count > COMPACT_ABOVE else FULL
