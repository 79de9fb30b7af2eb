"""The main toolbar: New, Open, Save | Undo, Redo | Fit | Train, Stop | Export. The buttons are
the menus' own QActions (one enabled state, one shortcut); their tooltips name the shortcut
("Save (Ctrl+S)"). Icons are drawn (designer/action_icons) and redrawn when the palette turns
light or dark; icon-only but for Train, the one primary action, which shows its word.

The canvas comes first: a toolbar row of its own would take 35 px of height from it (the
canvas's share of a 1440×900 window fell from 55.4 % to 53.0 %), so the toolbar sits at the
right end of the menu bar's row, where run controls are in JetBrains IDEs and VS Code, and
costs the canvas a few pixels at most. A menu bar outside the window (macOS, global menus on
Linux) has no such room: there it is an ordinary toolbar, in the title bar on macOS."""
from __future__ import annotations

import shiboken6
from PySide6.QtCore import QEvent, QSize, Qt
from PySide6.QtGui import QAction, QKeySequence, QPalette
from PySide6.QtWidgets import QToolBar, QToolButton

from .action_icons import DRAWINGS, action_icon

# Action names in window.actions_by_name; None is a separator. Names that do not exist (Train
# and Stop in a window without training) are left out.
TOOLBAR_ACTIONS = ("new", "open", "save", None, "undo", "redo", None, "fit", None, "train", "stop", None, "export")
WITH_TEXT = ("train",)


def plain_text(action: QAction) -> str:
    """'&Open…' → 'Open'; the undo stack's 'Undo Add conv2d' stays as it is."""
    return action.text().replace("&&", "\0").replace("&", "").replace("\0", "&").rstrip("…").rstrip(".").strip()


def shortcut_tooltip(action: QAction) -> str:
    keys = action.shortcut()
    name = plain_text(action)
    if keys.isEmpty():
        return name
    return f"{name} ({keys.toString(QKeySequence.SequenceFormat.NativeText)})"


class MainToolBar(QToolBar):
    def __init__(self, window):
        super().__init__("Toolbar", window)
        self.setObjectName("main_toolbar")  # saveState/restoreState need it
        self.setIconSize(QSize(16, 16))  # the menu bar's text height: the row hardly grows
        self._make_compact()
        self.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonIconOnly)
        self.setFloatable(False)
        self.named: dict[str, QAction] = {}
        for name in TOOLBAR_ACTIONS:
            if name is None:
                if self.actions() and not self.actions()[-1].isSeparator():
                    self.addSeparator()
                continue
            action = window.actions_by_name.get(name)
            if action is None:
                continue
            self.addAction(action)
            self.named[name] = action
            if name in WITH_TEXT:
                self.widgetForAction(action).setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
            self._keep_tooltip(action)
        self._make_compact()
        # Menu-only actions with a drawn icon (Run ▸ Pause, Evaluate) are recoloured with the rest.
        self.iconed = {name: action for name, action in window.actions_by_name.items() if name in DRAWINGS}
        self.refresh_icons()

    def _keep_tooltip(self, action: QAction) -> None:
        # Undo and Redo rename themselves after every edit ("Undo Move conv1"); changed fires then.
        # A bound method: disconnected when the toolbar goes.
        action.changed.connect(self._on_action_changed)
        self._update_tooltip(action)

    def _on_action_changed(self) -> None:
        action = self.sender()
        if isinstance(action, QAction) and shiboken6.isValid(action):  # also emitted while a window is torn down
            self._update_tooltip(action)

    @staticmethod
    def _update_tooltip(action: QAction) -> None:
        tip = shortcut_tooltip(action)
        if action.toolTip() != tip:  # setToolTip emits changed again: stop when unchanged
            action.setToolTip(tip)

    def refresh_icons(self) -> None:
        dark = self.palette().color(QPalette.ColorRole.Window).lightness() < 128
        for name, action in self.iconed.items():
            action.setIcon(action_icon(name, dark))

    def _make_compact(self) -> None:
        # The style's toolbar frame and item margins would add 8 px to the menu bar's row.
        self.setContentsMargins(0, 0, 0, 0)
        self.layout().setContentsMargins(0, 0, 6, 0)  # off the window edge
        self.layout().setSpacing(1)
        for button in self.findChildren(QToolButton):  # 2 px around the icon, as in a menu bar
            button.setMaximumHeight(self.iconSize().height() + 4)

    def changeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().changeEvent(event)
        if event.type() in (QEvent.Type.PaletteChange, QEvent.Type.ApplicationPaletteChange):
            self.refresh_icons()
        elif event.type() == QEvent.Type.StyleChange:  # Qt gives the layout the style's margins again
            self._make_compact()


def install_toolbar(window) -> MainToolBar:
    toolbar = MainToolBar(window)
    bar = window.menuBar()
    if bar.isNativeMenuBar():  # the menus are outside the window: a toolbar of its own
        toolbar.setIconSize(QSize(20, 20))
        toolbar._make_compact()
        window.addToolBar(Qt.ToolBarArea.TopToolBarArea, toolbar)
        window.setUnifiedTitleAndToolBarOnMac(True)
    else:
        bar.setCornerWidget(toolbar, Qt.Corner.TopRightCorner)
        toolbar.show()
    window.toolbar = toolbar
    window.menus["View"].addAction(toolbar.toggleViewAction())
    return toolbar


__all__ = ["MainToolBar", "TOOLBAR_ACTIONS", "install_toolbar", "plain_text", "shortcut_tooltip"]
