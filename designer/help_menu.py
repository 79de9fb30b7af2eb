"""Help ▸ About, Keyboard Shortcuts, User Guide and Copy Diagnostic Information.

Nothing here imports torch: versions come from the installed packages' metadata, and the
devices (which need torch) are read once the app's background import is done
(designer/training/torch_runtime); until then they read "checking…".
"""
from __future__ import annotations

import platform
import sys
import traceback
from collections import deque
from pathlib import Path

from PySide6.QtCore import QObject, Qt, QUrl
from PySide6.QtGui import QAction, QDesktopServices, QGuiApplication, QKeySequence
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMenu,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
)

from .action_icons import app_icon
from .training import torch_runtime
from .version import app_version

ROOT = Path(__file__).resolve().parents[1]
GUIDE_CANDIDATES = (ROOT / "docs" / "guide.md", ROOT / "README.md")
CHECKING = "checking…"
CANVAS_GESTURES = ("Space + drag, or the middle button: pan · wheel: zoom · Shift + wheel: scroll sideways · "
                   "double-click a composite block: open it")


# -- what is installed ------------------------------------------------------------------------
def _installed(distribution: str) -> str:
    from importlib import metadata
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "not installed"


def torch_build() -> str:
    """The torch version, with its build (CUDA or CPU) once the app has imported torch."""
    version = _installed("torch")
    if not torch_runtime.is_ready() or "torch" not in sys.modules:
        return version
    torch = sys.modules["torch"]
    cuda = getattr(getattr(torch, "version", None), "cuda", None)
    return f"{torch.__version__} ({f'built for CUDA {cuda}' if cuda else 'CPU-only build'})"


def devices_text() -> str:
    if torch_runtime.is_ready():
        return "; ".join(choice.label for choice in torch_runtime.loader().devices or []) or "none found"
    if torch_runtime.error():
        return f"unavailable: {torch_runtime.error()}"
    return CHECKING


def versions() -> dict[str, str]:
    """Name → version of the app and what it runs on, in the order the About box shows them."""
    from PySide6 import __version__ as pyside_version
    from PySide6.QtCore import qVersion
    return {"Network Designer": app_version(),
            "Python": f"{platform.python_version()} ({platform.python_implementation()})",
            "PyTorch": torch_build(), "torchvision": _installed("torchvision"),
            "Qt": qVersion(), "PySide6": pyside_version, "pyqtgraph": _installed("pyqtgraph")}


# -- errors worth a bug report ------------------------------------------------------------------
_recent_exceptions: deque[str] = deque(maxlen=5)
_hooked = False


def remember_uncaught_exceptions() -> None:
    """Keep the last few uncaught exceptions (in a Qt slot they do not stop the app) for the
    diagnostic text; the previous hook still prints them."""
    global _hooked
    if _hooked:
        return
    _hooked = True
    previous = sys.excepthook

    def hook(kind, value, tb):
        _recent_exceptions.append("".join(traceback.format_exception_only(kind, value)).strip())
        previous(kind, value, tb)
    sys.excepthook = hook


def diagnostic_text(window) -> str:
    lines = [f"{name}: {version}" for name, version in versions().items()]
    lines.append(f"Devices: {devices_text()}")
    lines.append(f"OS: {platform.platform()} ({platform.machine()})")
    app = QGuiApplication.instance()
    screen = app.primaryScreen() if app is not None else None
    if screen is not None:
        size = screen.size()
        lines.append(f"Qt platform: {QGuiApplication.platformName()}; screen {size.width()}×{size.height()} "
                     f"at {screen.devicePixelRatio():g}×")
    document = getattr(window, "document", None)
    if document is not None:
        design, report = document.design, document.report
        edges = len(getattr(design, "edges", []) or [])
        lines.append(f"Design: “{design.name}”, {len(design.nodes)} nodes, {edges} edges, "
                     f"{'valid' if report.valid else f'{len(report.errors)} errors'}")
        lines += [f"  error: {error}" for error in list(report.errors)[:5]]
    training = getattr(window, "training", None)
    if training is not None:
        lines.append(f"Training status: {training.panel.status.text()}")
        if training.panel.error.text():
            lines.append(f"  training error: {training.panel.error.text()}")
    lines += [f"Uncaught exception: {text}" for text in _recent_exceptions]
    return "\n".join(lines)


# -- dialogs ----------------------------------------------------------------------------------
class AboutDialog(QDialog):
    def __init__(self, window):
        super().__init__(window)
        self.window_ = window
        self.setWindowTitle("About Network Designer")
        logo = QLabel()
        logo.setPixmap(app_icon().pixmap(72, 72))
        logo.setAlignment(Qt.AlignmentFlag.AlignTop)
        title = QLabel(f"<b style='font-size:15pt'>Network Designer</b><br>version {app_version()}<br>"
                       "Design, check, train and export convolutional networks in PyTorch.")
        title.setTextFormat(Qt.TextFormat.RichText)
        self.form = QFormLayout()
        self.rows: dict[str, QLabel] = {}
        for name in (*list(versions())[1:], "Devices"):
            label = QLabel()
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            label.setWordWrap(True)
            self.rows[name] = label
            self.form.addRow(f"{name}:", label)
        head = QHBoxLayout()
        head.addWidget(logo)
        head.addWidget(title, 1)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        copy = buttons.addButton("Copy Diagnostic Information", QDialogButtonBox.ButtonRole.ActionRole)
        copy.clicked.connect(lambda: copy_diagnostics(window))
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(head)
        layout.addLayout(self.form)
        layout.addWidget(buttons)
        self.setMinimumWidth(460)
        self.refresh()
        if not torch_runtime.is_ready() and not torch_runtime.error():
            # Bound methods: a dialog deleted before torch is there is disconnected with it.
            torch_runtime.when_ready(self._on_torch_known, self._on_torch_known)

    def _on_torch_known(self, _devices_or_message) -> None:
        self.refresh()

    def refresh(self) -> None:
        found = versions()
        for name, label in self.rows.items():
            label.setText(devices_text() if name == "Devices" else found[name])

    def text(self) -> str:
        return "\n".join(f"{name}: {label.text()}" for name, label in self.rows.items())


def shortcut_rows(window) -> list[tuple[str, str, str]]:
    """(action, shortcuts, menu) for every QAction of the window that has a shortcut: those in
    the menus in menu order, then any other (none today), so nothing can be left out."""
    rows, listed = [], []

    def add(action: QAction, where: str) -> None:
        keys = [k for k in action.shortcuts() if not k.isEmpty()]  # a standard key the platform lacks is empty
        if keys and not any(action is other for other in listed):
            listed.append(action)
            text = ", ".join(k.toString(QKeySequence.SequenceFormat.NativeText) for k in keys)
            rows.append((_plain(action.text()) or action.objectName(), text, where))

    def walk(menu: QMenu, path: str) -> None:
        for action in menu.actions():
            if action.menu() is not None:
                walk(action.menu(), f"{path} ▸ {_plain(action.menu().title())}")
            elif not action.isSeparator():
                add(action, path)

    for top in window.menuBar().actions():
        if top.menu() is not None:
            walk(top.menu(), _plain(top.text()))
    for action in window.findChildren(QAction):
        add(action, "—")
    return rows


def _plain(text: str) -> str:
    return text.replace("&&", "\0").replace("&", "").replace("\0", "&")


class ShortcutsDialog(QDialog):
    def __init__(self, window):
        super().__init__(window)
        self.setWindowTitle("Keyboard Shortcuts")
        self.rows = shortcut_rows(window)
        self.filter = QLineEdit()
        self.filter.setPlaceholderText("Filter by action, key or menu")
        self.filter.setClearButtonEnabled(True)
        self.table = QTableWidget(len(self.rows), 3)
        self.table.setHorizontalHeaderLabels(["Action", "Shortcut", "Menu"])
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 8)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.table.setShowGrid(False)
        self.table.setAlternatingRowColors(True)
        for r, row in enumerate(self.rows):
            for c, text in enumerate(row):
                self.table.setItem(r, c, QTableWidgetItem(text))
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        self.filter.textChanged.connect(self._apply_filter)
        gestures = QLabel(f"On the canvas: {CANVAS_GESTURES}")
        gestures.setWordWrap(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.filter)
        layout.addWidget(self.table, 1)
        layout.addWidget(gestures)
        layout.addWidget(buttons)
        self.resize(620, 640)

    def listed(self) -> list[tuple[str, str, str]]:
        return [tuple(self.table.item(r, c).text() for c in range(3)) for r in range(self.table.rowCount())]

    def _apply_filter(self, text: str) -> None:
        needle = text.strip().lower()
        for r, row in enumerate(self.rows):
            self.table.setRowHidden(r, bool(needle) and not any(needle in cell.lower() for cell in row))


# -- the menu ---------------------------------------------------------------------------------
def copy_diagnostics(window) -> str:
    text = diagnostic_text(window)
    QGuiApplication.clipboard().setText(text)
    status = window.statusBar() if hasattr(window, "statusBar") else None
    if status is not None:
        status.showMessage("Diagnostic information copied to the clipboard: paste it into your bug report.", 6000)
    return text


def guide_path() -> Path | None:
    return next((path for path in GUIDE_CANDIDATES if path.is_file()), None)


class HelpMenu(QObject):
    """``open_url`` is QDesktopServices.openUrl; tests replace it (nothing is launched)."""

    def __init__(self, window):
        super().__init__(window)
        self.window = window
        self.open_url = QDesktopServices.openUrl
        self.menu = window.menuBar().addMenu("&Help")
        window.menus["Help"] = self.menu
        self.guide = self._action("guide", "&User Guide", self.open_guide, QKeySequence.StandardKey.HelpContents)
        self.shortcuts = self._action("shortcuts", "&Keyboard Shortcuts", self.show_shortcuts, "Ctrl+/")
        self.diagnostics = self._action("diagnostics", "&Copy Diagnostic Information",
                                        lambda: copy_diagnostics(window))
        self.menu.addSeparator()
        self.about = self._action("about", "&About Network Designer", self.show_about)
        self.about.setMenuRole(QAction.MenuRole.AboutRole)  # macOS puts it in the application menu
        self.dialogs: dict[str, QDialog] = {}
        remember_uncaught_exceptions()

    def _action(self, name, text, slot, shortcut=None) -> QAction:
        action = QAction(text, self.window)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        action.triggered.connect(lambda _checked=False: slot())
        self.menu.addAction(action)
        self.window.addAction(action)
        self.window.actions_by_name[f"help_{name}"] = action
        return action

    def _show(self, name: str, make) -> QDialog:
        dialog = self.dialogs.get(name)
        if dialog is None:  # one of each, made when first asked for
            dialog = self.dialogs[name] = make(self.window)
        if isinstance(dialog, AboutDialog):
            dialog.refresh()
        dialog.show()
        dialog.raise_()
        return dialog

    def show_about(self) -> AboutDialog:
        return self._show("about", AboutDialog)

    def show_shortcuts(self) -> ShortcutsDialog:
        old = self.dialogs.pop("shortcuts", None)  # made anew: the actions' texts and keys as they are now
        if old is not None:
            old.close()
            old.deleteLater()
        return self._show("shortcuts", ShortcutsDialog)

    def open_guide(self) -> Path | None:
        path = guide_path()
        if path is None:
            self.window.statusBar().showMessage("The user guide is not installed with this copy.", 6000)
            return None
        self.open_url(QUrl.fromLocalFile(str(path)))
        return path


def install_help_menu(window) -> HelpMenu:
    window.help_menu = HelpMenu(window)
    return window.help_menu


__all__ = ["AboutDialog", "HelpMenu", "ShortcutsDialog", "copy_diagnostics", "diagnostic_text", "install_help_menu",
           "shortcut_rows", "versions"]
