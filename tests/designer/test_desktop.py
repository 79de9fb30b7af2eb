"""Desktop conventions: the Help menu, the Run menu and F5, the toolbar, the app's icon and
``main.py --version``."""
from __future__ import annotations

import platform
import re
import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtCore import Qt, qVersion
from PySide6.QtGui import QAction, QGuiApplication, QKeySequence
from PySide6.QtWidgets import QApplication

from designer import help_menu as help_module
from designer.toolbar import TOOLBAR_ACTIONS
from designer.training import torch_runtime
from designer.version import app_version

ROOT = Path(__file__).resolve().parents[2]
NATIVE = QKeySequence.SequenceFormat.NativeText


def _menu_actions(menu) -> list[QAction]:
    found = []
    for action in menu.actions():
        if action.menu() is not None:
            found += _menu_actions(action.menu())
        elif not action.isSeparator():
            found.append(action)
    return found


def _plain(text: str) -> str:
    return text.replace("&", "")


def test_help_menu_has_its_four_entries(window):
    entries = [_plain(a.text()) for a in _menu_actions(window.menus["Help"])]
    assert entries == ["User Guide", "Keyboard Shortcuts", "Copy Diagnostic Information", "About Network Designer"]
    assert [_plain(a.text()) for a in window.menuBar().actions()] == ["File", "Edit", "View", "Run", "Help"]


def test_shortcuts_dialog_lists_every_shortcut_of_the_windows_actions(window):
    dialog = window.help_menu.show_shortcuts()
    listed = dialog.listed()
    with_keys = [a for a in window.findChildren(QAction) if any(not k.isEmpty() for k in a.shortcuts())]
    assert len(with_keys) > 20
    for action in with_keys:
        keys = ", ".join(k.toString(NATIVE) for k in action.shortcuts() if not k.isEmpty())
        assert any(row[0] == _plain(action.text()) and row[1] == keys for row in listed), (action.text(), keys)
    assert len(listed) == len(with_keys)  # each once
    assert ("Save", QKeySequence("Ctrl+S").toString(NATIVE), "File") in listed
    assert ("Train", "F5", "Run") in listed
    dialog.filter.setText("f5")
    shown = [r for r in range(dialog.table.rowCount()) if not dialog.table.isRowHidden(r)]
    assert {listed[r][0] for r in shown} == {"Train", "Stop"}
    dialog.close()


def test_about_says_checking_until_torch_is_there(window, monkeypatch):
    monkeypatch.setattr(torch_runtime, "is_ready", lambda: False)
    monkeypatch.setattr(torch_runtime, "error", lambda: "")
    dialog = help_module.AboutDialog(window)
    assert dialog.rows["Devices"].text() == help_module.CHECKING
    assert dialog.rows["Qt"].text() == qVersion()
    dialog.close()
    dialog.deleteLater()


def test_about_shows_the_torch_version_and_devices_once_known(qtbot, window):
    dialog = window.help_menu.show_about()
    assert app_version() in dialog.findChildren(type(dialog.rows["Qt"]))[1].text()  # the title line
    # torch is imported in the background after the window's first paint
    qtbot.waitUntil(lambda: dialog.rows["Devices"].text() != help_module.CHECKING, timeout=120_000)
    import torch
    assert torch.__version__ in dialog.rows["PyTorch"].text()
    assert "CPU" in dialog.rows["Devices"].text()
    assert dialog.rows["Python"].text().startswith(platform.python_version())
    dialog.close()


def test_diagnostic_information_goes_to_the_clipboard(window):
    from engine import templates
    info = templates.info("lenet5")
    window.files.new_from_template(("lenet5", info.default_input, info.default_classes))
    QGuiApplication.clipboard().clear()
    window.actions_by_name["help_diagnostics"].trigger()
    text = QGuiApplication.clipboard().text()
    for needle in (f"Network Designer: {app_version()}", f"Python: {platform.python_version()}",
                   f"Qt: {qVersion()}", "PyTorch: ", "torchvision: ", "pyqtgraph: ", "Devices: ", "OS: "):
        assert needle in text, needle
    assert f"{len(window.document.design.nodes)} nodes" in text


def test_diagnostic_information_names_the_designs_errors(window):
    from engine import Design
    d = Design("broken", num_classes=10)
    d.chain(("input", {"shape": [1, 8, 8]}), ("conv2d", {"out_channels": 6, "kernel": 5}),
            ("conv2d", {"out_channels": 16, "kernel": 5}), "flatten", ("linear", {"out_features": 10}), "output")
    window.document.replace_design(d)
    QApplication.processEvents()
    text = help_module.diagnostic_text(window)
    assert re.search(r"\d+ errors", text) and "  error: " in text


def test_user_guide_opens_the_guide_or_the_readme(window):
    opened = []
    window.help_menu.open_url = opened.append  # nothing is launched
    window.actions_by_name["help_guide"].trigger()
    assert len(opened) == 1 and opened[0].isLocalFile()
    assert Path(opened[0].toLocalFile()).name in ("guide.md", "README.md")
    assert Path(opened[0].toLocalFile()).is_file()


def test_version_flag_prints_the_version_without_qt_or_torch():
    done = subprocess.run([sys.executable, "-X", "importtime", "main.py", "--version"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == f"network-designer {app_version()}"
    assert re.fullmatch(r"network-designer \d+\.\d+(\.\d+)?\S*", done.stdout.strip())
    imported = {line.rsplit("|", 1)[-1].strip().split(".")[0] for line in done.stderr.splitlines() if "|" in line}
    assert "designer" in imported  # the check sees imports
    assert not imported & {"PySide6", "shiboken6", "torch", "numpy", "pyqtgraph"}


def test_toolbar_reuses_the_menu_actions_and_names_their_shortcuts(window):
    names = [n for n in TOOLBAR_ACTIONS if n is not None]
    assert list(window.toolbar.named) == names
    in_menus = [a for menu in window.menus.values() for a in _menu_actions(menu)]
    for name, action in window.toolbar.named.items():
        assert action is window.actions_by_name[name]
        assert any(action is a for a in in_menus), name
        assert not action.icon().isNull(), name
        keys = action.shortcut().toString(NATIVE)
        assert keys and action.toolTip().endswith(f"({keys})"), (name, action.toolTip())
    assert window.toolbar.named["save"].toolTip() == f"Save ({QKeySequence('Ctrl+S').toString(NATIVE)})"
    assert window.toolbar.named["train"].toolTip() == "Train (F5)"
    style = window.toolbar.widgetForAction(window.toolbar.named["train"]).toolButtonStyle()
    assert style == Qt.ToolButtonStyle.ToolButtonTextBesideIcon  # the one primary action has its word
    # In the menu bar's row (designer/toolbar), no taller than a menu bar: the canvas keeps its room.
    assert window.menuBar().cornerWidget(Qt.Corner.TopRightCorner) is window.toolbar
    assert window.toolbar.height() <= max(window.menuBar().fontMetrics().height() + 8, 24)
    undo = window.toolbar.named["undo"]
    window.edits.append_block("relu")  # the undo action renames itself; the tooltip follows
    undo_keys = undo.shortcut().toString(NATIVE)
    assert undo.toolTip() == f"{_plain(undo.text())} ({undo_keys})" and undo.toolTip() != f"Undo ({undo_keys})"


def test_window_without_training_has_no_run_menu(make_window):
    window = make_window(training=False)
    assert "Run" not in window.menus
    assert "train" not in window.toolbar.named and "save" in window.toolbar.named


def test_the_application_and_window_have_the_icon(window):
    from designer.action_icons import APP_ICON_PATH, app_icon
    from designer.app import make_application
    assert APP_ICON_PATH.is_file() and APP_ICON_PATH.suffix == ".svg"
    app = make_application()
    assert not app.windowIcon().isNull()
    assert not window.windowIcon().isNull()
    for size in (16, 256):
        image = app_icon().pixmap(size, size).toImage()
        assert image.width() == size and image.pixelColor(size // 2, size // 2).alpha() == 255


def test_f5_trains_brings_the_curves_forward_and_the_run_state_drives_the_actions(qtbot, make_window, tmp_path):
    from designer.document import Document
    from tests.training_ui.conftest import small_cnn

    window = make_window(document=Document(small_cnn()))
    controller = window.training
    controller.history.root = tmp_path / "runs"
    controller.panel.epochs.setValue(500)  # runs until stopped
    run = window.run_actions
    assert run.train.isEnabled() and not run.stop.isEnabled() and not run.pause.isEnabled()
    qtbot.waitUntil(lambda: controller.bundle is not None and not controller.dataset_loading(), timeout=120_000)
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=5000)
    qtbot.keyClick(window.view, Qt.Key.Key_F5)
    qtbot.waitUntil(lambda: controller.session is not None and controller.session.is_running(), timeout=30_000)
    views_dock, panel_dock = window.docks["Training views"], window.docks["Training"]
    assert views_dock.isVisible() and not views_dock.visibleRegion().isEmpty()
    assert controller.views.currentWidget() is controller.views.curves
    assert panel_dock.isVisible() and not panel_dock.visibleRegion().isEmpty()
    assert not run.train.isEnabled() and run.stop.isEnabled() and run.pause.isEnabled()
    run.pause.trigger()
    assert _plain(run.pause.text()) == "Resume"
    run.pause.trigger()
    assert _plain(run.pause.text()) == "Pause"
    with qtbot.waitSignal(controller.run_finished, timeout=60_000):
        qtbot.keyClick(window.view, Qt.Key.Key_F5, Qt.KeyboardModifier.ShiftModifier)  # Stop
    qtbot.waitUntil(run.train.isEnabled, timeout=10_000)
    assert not run.stop.isEnabled() and not run.pause.isEnabled()


@pytest.mark.parametrize("mode", ["light", "dark"])
def test_main_window_with_toolbar_screenshot(qtbot, window, shots_dir, mode):
    from engine import templates
    window.set_theme_mode(mode)
    window.resize(1440, 900)
    info = templates.info("lenet5")
    window.files.new_from_template(("lenet5", info.default_input, info.default_classes))
    QApplication.processEvents()
    window.view.fit(readable=True)
    QApplication.processEvents()
    path = shots_dir / f"main_toolbar_{mode}.png"
    assert window.grab().save(str(path))
    assert window.toolbar.grab().save(str(shots_dir / f"toolbar_{mode}.png"))
    assert path.stat().st_size > 10_000
    window.set_theme_mode("light")


def test_run_menu_entries_call_the_training_controller(window):
    run = window.run_actions
    assert [_plain(a.text()) for a in _menu_actions(window.menus["Run"])] == ["Train", "Pause", "Stop", "Evaluate", "Sweep…"]
    assert run.train.shortcut().toString() == "F5"
    run.evaluate.trigger()  # no run yet: the controller says what to do first
    assert window.training.panel.status.text().startswith("Train a run first")
