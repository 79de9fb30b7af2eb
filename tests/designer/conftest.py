"""Fixtures for the designer tests: a main window with scripted answers to its questions, and
an autouse check that no QThread keeps running and no top-level window outlives its test."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
from PySide6.QtCore import QCoreApplication, QEvent, QPointF, QSettings, Qt
from PySide6.QtWidgets import QApplication

# Screenshots go here when set (CI keeps them as artefacts); otherwise to the test's tmp folder.
SHOTS_ENV = "DESIGNER_SCREENSHOTS"
_IGNORED_TOP_LEVEL = {"QTipLabel"}  # Qt's one shared tooltip window


class ScriptedPrompts:
    """Answers the app's questions like a user would, and records what was asked."""

    def __init__(self):
        self.save_changes = "discard"
        self.restore = True
        self.open_answer: str | None = None
        self.save_answer: str | None = None
        self.text_answer: str | None = "My block"
        self.template_answer = None
        self.asked: list[tuple] = []
        self.errors: list[tuple[str, str]] = []

    def ask_save_changes(self, parent, name):
        self.asked.append(("save_changes", name))
        return self.save_changes

    def ask_restore(self, parent, description):
        self.asked.append(("restore", description))
        return self.restore

    def error(self, parent, title, message):
        self.errors.append((title, message))

    def open_path(self, parent, folder=""):
        return self.open_answer

    def save_path(self, parent, suggested=""):
        return self.save_answer

    def text(self, parent, title, label, default=""):
        return self.text_answer

    def choose_template(self, parent):
        return self.template_answer


@pytest.fixture(scope="module", autouse=True)
def _collect_on_ui_thread_only(ui_thread_collector):
    """As in the app: cycle collection on the UI thread only (designer/ui_collector.py)."""
    yield


@pytest.fixture(autouse=True)
def no_leaks(qapp, no_leaked_threads):
    """Fail the test if a QThread it started still runs (``no_leaked_threads``, checked after
    this teardown has delivered the pending events), or a top-level window it made lives on."""
    before = {id(w) for w in QApplication.topLevelWidgets()}
    yield
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    QCoreApplication.processEvents()
    leaked = [w for w in QApplication.topLevelWidgets()
              if id(w) not in before and type(w).__name__ not in _IGNORED_TOP_LEVEL and w.parent() is None
              and w.isWindow() and _is_window_kind(w)]
    for w in leaked:
        w.deleteLater()
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    assert not leaked, f"top-level windows outlived the test: {[type(w).__name__ for w in leaked]}"


def _is_window_kind(widget) -> bool:
    # Popups (menus, combo lists) belong to their owner; only real windows count.
    return widget.windowType() in (Qt.WindowType.Window, Qt.WindowType.Dialog)


@pytest.fixture
def prompts():
    return ScriptedPrompts()


@pytest.fixture
def settings(tmp_path):
    return QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)


@pytest.fixture
def make_window(qtbot, tmp_path, prompts, settings):
    """Build main windows sharing one settings file and recovery path (a 'restart' makes another)."""
    from designer.main_window import MainWindow

    windows = []

    def make(**kwargs):
        kwargs.setdefault("settings", settings)
        kwargs.setdefault("prompts", prompts)
        kwargs.setdefault("recovery_path", tmp_path / "recovery" / "recovery.json")
        window = MainWindow(**kwargs)
        qtbot.addWidget(window)
        window.show()
        windows.append(window)
        return window

    yield make
    for window in windows:
        try:
            window.document.undo_stack.setClean()  # do not ask at teardown
        except RuntimeError:
            pass  # already closed and deleted


@pytest.fixture
def window(make_window):
    return make_window()


@pytest.fixture
def shots_dir(tmp_path) -> Path:
    folder = Path(os.environ.get(SHOTS_ENV) or tmp_path / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def scene_point(window, item_or_point):
    """Viewport coordinates of a scene point or of a graphics item's scene position."""
    point = item_or_point if isinstance(item_or_point, QPointF) else item_or_point.scenePos()
    return window.view.mapFromScene(point)
