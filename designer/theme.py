"""Light and dark themes. The app follows the system colour scheme (Qt ≥ 6.5 reports it and
signals changes); the canvas draws with the colours of the current :class:`Theme`."""
from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QGuiApplication, QPalette

# One hue per catalog category: the node's header strip, its palette icon and its chart bars.
CATEGORY_COLORS = {
    "Structure": "#5b7083",
    "Convolution": "#2f7ed8",
    "Pooling": "#13a89e",
    "Activation": "#e8891d",
    "Normalization": "#8e5bd6",
    "Regularization": "#c0508f",
    "Composite": "#4a9a3f",
}
CATEGORY_GLYPHS = {
    "Structure": "▭", "Convolution": "▦", "Pooling": "▼", "Activation": "∫",
    "Normalization": "σ", "Regularization": "◌", "Composite": "◆",
}


@dataclass(frozen=True)
class Theme:
    name: str
    background: str
    grid: str
    node_fill: str
    node_border: str
    selection: str
    text: str
    subtext: str
    edge: str
    edge_label_bg: str
    edge_label_text: str
    port: str
    port_disabled: str
    port_ok: str
    error: str
    warning: str
    bad_text: str

    def color(self, name: str) -> QColor:
        return QColor(getattr(self, name))


LIGHT = Theme("light", background="#f4f5f7", grid="#e3e6ea", node_fill="#ffffff", node_border="#b8c0ca",
              selection="#1e6fd9", text="#1c2330", subtext="#576273", edge="#7d8897",
              edge_label_bg="#ffffff", edge_label_text="#344054", port="#5b7083", port_disabled="#d3d7dc",
              port_ok="#1fa34a", error="#d93025", warning="#e0a100", bad_text="#b3261e")
DARK = Theme("dark", background="#1e2126", grid="#272b31", node_fill="#2c3138", node_border="#48505b",
             selection="#5aa2ff", text="#e8eaed", subtext="#aab2bd", edge="#8d97a5",
             edge_label_bg="#2a2f36", edge_label_text="#d0d5dc", port="#9aa8b8", port_disabled="#3c424a",
             port_ok="#3ddc84", error="#ff6b5e", warning="#ffc93c", bad_text="#ff8a80")


def system_is_dark() -> bool:
    app = QGuiApplication.instance()
    if app is None:
        return False
    scheme = app.styleHints().colorScheme()
    if scheme != Qt.ColorScheme.Unknown:
        return scheme == Qt.ColorScheme.Dark
    return app.palette().color(QPalette.ColorRole.Window).lightness() < 128


def current(dark: bool | None = None) -> Theme:
    return DARK if (system_is_dark() if dark is None else dark) else LIGHT


def qt_palette(theme: Theme) -> QPalette:
    """A Fusion palette for the widgets around the canvas."""
    p = QPalette()
    dark = theme.name == "dark"
    window, base, text = ("#25292e", "#1e2126", "#e8eaed") if dark else ("#eef0f3", "#ffffff", "#1c2330")
    roles = {
        QPalette.ColorRole.Window: window, QPalette.ColorRole.WindowText: text,
        QPalette.ColorRole.Base: base, QPalette.ColorRole.AlternateBase: "#2a2f36" if dark else "#f6f7f9",
        QPalette.ColorRole.Text: text, QPalette.ColorRole.Button: "#30353c" if dark else "#f4f5f7",
        QPalette.ColorRole.ButtonText: text, QPalette.ColorRole.Highlight: theme.selection,
        QPalette.ColorRole.HighlightedText: "#ffffff", QPalette.ColorRole.ToolTipBase: base,
        QPalette.ColorRole.ToolTipText: text, QPalette.ColorRole.PlaceholderText: theme.subtext,
        QPalette.ColorRole.Link: theme.selection, QPalette.ColorRole.Mid: theme.node_border,
    }
    for role, color in roles.items():
        p.setColor(role, QColor(color))
    p.setColor(QPalette.ColorGroup.Disabled, QPalette.ColorRole.Text, QColor(theme.subtext))
    p.setColor(QPalette.ColorGroup.Disabled, QPalette.ColorRole.ButtonText, QColor(theme.subtext))
    return p


def apply(app, theme: Theme) -> None:
    app.setStyle("Fusion")
    app.setPalette(qt_palette(theme))
    apply_to_plots(theme)


# -- plots (pyqtgraph) follow the theme ----------------------------------------------------------
# The theme last applied (None until MainWindow applies one: then the system's). Plot widgets read
# it when they are made and are restyled by :func:`apply` when it changes.
_active: Theme | None = None
_plot_listeners: list = []  # callables(theme) of plot widgets with colours of their own (grids)


def active() -> Theme:
    return _active if _active is not None else current()


def plot_background(theme: Theme | None = None) -> str:
    return (theme or active()).node_fill


def plot_foreground(theme: Theme | None = None) -> str:
    return (theme or active()).text


def on_plot_theme(callback) -> None:
    """Call ``callback(theme)`` whenever a theme is applied (held weakly for bound methods)."""
    import weakref
    ref = weakref.WeakMethod(callback) if hasattr(callback, "__self__") else (lambda: callback)
    _plot_listeners.append(ref)


def style_plot_view(view, theme: Theme | None = None) -> None:
    """Background, axes, titles and legend text of one pyqtgraph GraphicsView in the theme's colours."""
    import pyqtgraph as pg

    theme = theme or active()
    view.setBackground(QColor(plot_background(theme)))
    scene = view.scene()
    if scene is None:
        return
    for item in scene.items():
        if isinstance(item, pg.AxisItem):
            item.setPen(QColor(theme.subtext))
            item.setTextPen(QColor(theme.text))
        elif isinstance(item, pg.LegendItem):
            item.setLabelTextColor(QColor(theme.text))
        elif isinstance(item, pg.LabelItem) and item.text:
            item.setText(item.text, color=theme.text)


def _restyle_plots(theme: Theme) -> None:
    import sys

    pg = sys.modules.get("pyqtgraph")
    if pg is None or getattr(getattr(pg, "__spec__", None), "_initializing", False) \
            or not hasattr(pg, "setConfigOptions"):
        return  # no plot made yet (or the warm-up thread is importing it): each is styled when made
    pg.setConfigOptions(background=plot_background(theme), foreground=plot_foreground(theme))
    app = QGuiApplication.instance()
    for widget in app.allWidgets() if hasattr(app, "allWidgets") else ():
        if isinstance(widget, pg.GraphicsView):
            style_plot_view(widget, theme)
    for ref in list(_plot_listeners):
        callback = ref()
        if callback is None:
            _plot_listeners.remove(ref)
            continue
        try:
            callback(theme)
        except RuntimeError:  # its Qt items were deleted with their widget
            _plot_listeners.remove(ref)


def apply_to_plots(theme: Theme) -> None:
    """Make ``theme`` the plots' theme and restyle the plots made so far."""
    global _active
    _active = theme
    _restyle_plots(theme)


def si_ticks(axis) -> None:
    """Tick labels of big counts with SI prefixes (350 M, 1.2 k), not 3.5e+08; small values as they are."""
    def tick_strings(values, scale, spacing):
        out = []
        for v in values:
            v = v * scale
            magnitude = abs(v)
            for div, prefix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
                if magnitude >= div:
                    out.append(f"{v / div:.3g} {prefix}")
                    break
            else:
                out.append(f"{v:.3g}")
        return out
    axis.tickStrings = tick_strings
    axis.enableAutoSIPrefix(False)  # the prefix is on each label, not folded into the axis title
