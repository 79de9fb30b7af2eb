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
