"""Explain view pictures that are plots, not images: a 1-D signal with its heat map behind it,
signals stacked one above the other (top patches, maximised inputs, neighbours), and the PCA
scatter. A signal drawn as a one-pixel-high image says nothing; as a curve it shows its shape.

Plain pyqtgraph items added to the view's GraphicsLayoutWidget; colours from the theme."""
from __future__ import annotations

from designer import theme as themes
from designer.deferred import np, pg

HIGHLIGHT = (230, 30, 30)
GAP = 1.35  # vertical distance between stacked signals (each scaled to 0..1)


def _plot(graphics, row: int, col: int, x_label: str = "position (samples)"):
    plot = graphics.addPlot(row=row, col=col)
    plot.setMenuEnabled(False)
    plot.setMouseEnabled(False, False)
    plot.hideButtons()
    plot.setLabel("bottom", x_label)
    return plot


def _pen(width: float = 1.6):
    return pg.mkPen(themes.plot_foreground(), width=width)


def heat_plot(graphics, row: int, col: int, sample, heat, levels, colormap) -> None:
    """The signal's channels as curves over its heat map, drawn as a coloured band behind them
    (same colours and levels as the colour bar beside it)."""
    sample = np.atleast_2d(np.asarray(sample, np.float32))
    heat = np.asarray(heat, np.float32).reshape(1, -1)
    plot = _plot(graphics, row, col)
    plot.setLabel("left", "value")
    lo, hi = float(np.min(sample)), float(np.max(sample))
    if hi <= lo:
        hi = lo + 1.0
    pad = 0.08 * (hi - lo)
    band = pg.ImageItem(axisOrder="row-major")
    band.setColorMap(colormap)
    band.setImage(heat, levels=levels)
    band.setRect(-0.5, lo - pad, heat.shape[1], hi - lo + 2 * pad)  # each value centred on its position
    band.setOpacity(0.85)
    plot.addItem(band)
    for channel in sample:
        plot.plot(np.arange(len(channel)), channel, pen=_pen(2.2))
    plot.setXRange(-0.5, heat.shape[1] - 0.5, padding=0)
    plot.setYRange(lo - pad, hi + pad, padding=0)


def stacked_plot(graphics, row: int, col: int, samples, labels, highlights=None) -> None:
    """N signals (N×C×L; channels averaged), each scaled to 0..1 and drawn one above the other,
    the first at the top, labelled on the left; ``highlights`` [(lo, hi)] marks a stretch of each
    (the part the unit sees) in red."""
    samples = np.asarray(samples, np.float32)
    curves = samples.mean(axis=1) if samples.ndim == 3 else samples.reshape(len(samples), -1)
    plot = _plot(graphics, row, col)
    plot.hideAxis("left")
    n, length = curves.shape if curves.ndim == 2 else (0, 1)
    red = pg.mkPen(HIGHLIGHT, width=3)
    for i in range(n):
        c = curves[i]
        lo, hi = float(c.min()), float(c.max())
        y = (c - lo) / (hi - lo) if hi > lo else np.full_like(c, 0.5)
        offset = (n - 1 - i) * GAP
        plot.plot(np.arange(length), y + offset, pen=_pen())
        if highlights is not None and i < len(highlights):
            a, b = (int(v) for v in highlights[i])
            b = min(max(b, a + 1), length)
            plot.plot(np.arange(a, b), y[a:b] + offset, pen=red)
        text = pg.TextItem(str(labels[i]) if i < len(labels) else "", color=themes.plot_foreground(), anchor=(1, 0.5))
        text.setPos(-1, offset + 0.5)
        plot.addItem(text)
    plot.setXRange(-0.12 * length, length, padding=0.01)
    plot.setYRange(-0.1, max(1, n) * GAP, padding=0)


def projection_plot(graphics, row: int, col: int, projection, classes) -> None:
    """The PCA points coloured by true class, with a legend of the classes (the first 20)."""
    plot = _plot(graphics, row, col, x_label=f"first direction ({projection.explained[0]:.0%} of the variance)")
    plot.setLabel("left", f"second direction ({projection.explained[1]:.0%})")
    legend = plot.addLegend(offset=(-4, 4), labelTextColor=themes.plot_foreground(), labelTextSize="8pt")
    points, labels = np.asarray(projection.points), np.asarray(projection.labels)
    present = sorted({int(v) for v in labels})
    for k, c in enumerate(present):
        mask = labels == c
        name = str(classes[c]) if 0 <= c < len(classes) else str(c)
        colour = pg.intColor(k, hues=max(len(present), 1), values=1, maxValue=220, minValue=150)
        plot.addItem(pg.ScatterPlotItem(points[mask, 0], points[mask, 1], size=5, pen=None, brush=colour,
                                        name=name if k < 20 else None))
    if len(present) > 20:
        legend.addItem(pg.ScatterPlotItem(), f"… {len(present) - 20} more classes")


def bar_plot(graphics, row: int, col: int, values, levels, colormap) -> None:
    """One bar per input feature (a table's row has no positions to draw a map over), coloured
    as the colour bar beside it."""
    values = np.asarray(values, np.float32).ravel()
    plot = _plot(graphics, row, col, x_label="input feature")
    lo, hi = (float(v) for v in levels)
    scaled = np.clip((values - lo) / (hi - lo), 0, 1) if hi > lo else np.zeros_like(values)
    brushes = [pg.mkBrush(c) for c in colormap.map(scaled, mode="qcolor")]
    plot.addItem(pg.BarGraphItem(x=np.arange(len(values)), height=values, width=0.8, brushes=brushes,
                                 pen=_pen(0.8)))
    plot.getAxis("bottom").setTicks([[(i, str(i)) for i in range(len(values))]] if len(values) <= 40 else None)
