"""Opening a file reads and parses it off the UI thread: the window keeps running, a slow load
shows an indicator (a quick one does not), a corrupt file keeps the current design, the latest
request wins, and edits made while a file loads are not dropped without asking."""
from __future__ import annotations

import threading
import time

import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt, QTimer, QUrl
from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent
from PySide6.QtWidgets import QApplication

from engine import Design, persistence

from .helpers import snapshot

SLOW = 0.45  # seconds: longer than the 300 ms after which the indicator shows


@pytest.fixture
def loads(monkeypatch):
    """Wrap engine.persistence.load: records (thread, design) per call; files named in
    ``loads.slow`` take SLOW seconds more."""
    original = persistence.load

    class Recorder(list):
        slow: set[str] = set()

    calls = Recorder()

    def load(path):
        if str(path) in calls.slow:
            time.sleep(SLOW)
        design = original(path)
        calls.append((threading.current_thread(), design))
        return design

    monkeypatch.setattr(persistence, "load", load)
    return calls


@pytest.fixture
def win(make_window):
    return make_window(training=False)


def design_file(tmp_path, name: str, blocks: int = 3):
    design = Design(name, num_classes=10)
    design.chain(("input", {"shape": [1, 8, 8]}), *["relu"] * (blocks - 2), "output")
    path = tmp_path / f"{name}.json"
    persistence.save(design, path)
    return path


def drop_file(window, path) -> None:
    """Drag a file from the file manager onto the canvas and let go."""
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    viewport, pos = window.view.viewport(), window.view.viewport().rect().center()
    args = (Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    for event in (QDragEnterEvent(pos, *args), QDragMoveEvent(pos, *args), QDropEvent(QPointF(pos), *args)):
        QApplication.sendEvent(viewport, event)
        assert event.isAccepted()


def open_from(how: str, window, prompts, path) -> None:
    if how == "menu":
        prompts.open_answer = str(path)
        window.actions_by_name["open"].trigger()
    elif how == "recent":
        window.files.recent.add(str(path))
        window.files.recent_changed.emit()
        window.recent_menu.actions()[0].trigger()
    elif how == "drop":
        drop_file(window, path)
    else:  # the command line's file argument (designer.app.run)
        window.files.open_path(str(path))


def test_every_way_of_opening_reads_the_file_in_a_background_thread(qtbot, win, prompts, loads, tmp_path, monkeypatch):
    shown = []  # a quick load never shows the indicator (no flash)
    monkeypatch.setattr(win.loading_indicator, "show", lambda: shown.append(True))
    for how in ("menu", "recent", "drop", "command line"):
        path = design_file(tmp_path, how.replace(" ", "_"))
        open_from(how, win, prompts, path)
        if how != "drop":  # a small file is open when the call returns
            assert win.document.path == str(path.resolve()) and not win.files.is_loading(), how
        qtbot.waitUntil(lambda: win.document.path == str(path.resolve()), timeout=2000)
        thread, loaded = loads[-1]
        assert thread is not threading.main_thread(), how
        assert snapshot(win.document.design) == snapshot(loaded)
        # Only the plain design crossed threads: the document copied it into its own design
        # (whose listeners are the views); nobody subscribed to the object made in the worker.
        assert loaded is not win.document.design and not loaded._listeners
        assert len(win.scene.node_items) == 3
    assert len(loads) == 4 and not prompts.errors and not shown


def test_a_slow_open_shows_the_indicator_while_the_ui_keeps_running(qtbot, win, loads, tmp_path):
    path = design_file(tmp_path, "slow")
    loads.slow.add(str(path))
    ticks_while_loading = []
    timer = QTimer(interval=20)
    timer.timeout.connect(lambda: ticks_while_loading.append(1) if win.files.is_loading() else None)
    timer.start()
    started = time.perf_counter()
    assert win.files.open_path(str(path))  # returns while the file is still loading
    assert time.perf_counter() - started < SLOW and win.files.is_loading()
    qtbot.waitUntil(win.loading_indicator.isVisible, timeout=1000)
    assert "slow.json" in win.loading_indicator.label.text()
    assert win.document.design.name == "Untitled"  # the current design stays until the new one is ready
    qtbot.waitUntil(lambda: win.document.design.name == "slow", timeout=2000)
    timer.stop()
    assert not win.loading_indicator.isVisible()
    assert len(ticks_while_loading) >= 5  # the UI thread ran its timers during the load
    assert loads[0][0] is not threading.main_thread()


def test_a_corrupt_file_shows_the_error_and_keeps_the_design(qtbot, win, prompts, loads, tmp_path):
    win.files.new_from_template(("lenet5", (1, 32, 32), 10))
    before = snapshot(win.document.design)
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "network-designer", "version": 1, "nodes": [{"id": "a", "block": "conv9d"}]}')
    loads.slow.add(str(bad))
    prompts.open_answer = str(bad)
    win.actions_by_name["open"].trigger()
    assert win.files.is_loading()
    qtbot.waitUntil(lambda: bool(prompts.errors), timeout=2000)
    (title, message), = prompts.errors
    assert title == "Cannot open the design" and message.startswith("bad.json: ")
    assert "nodes[0]" in message and "conv9d" in message
    assert snapshot(win.document.design) == before and win.document.path is None
    assert not win.loading_indicator.isVisible() and not win.files.is_loading()


def test_the_second_of_two_opens_wins(qtbot, win, prompts, loads, tmp_path):
    first, second = design_file(tmp_path, "first"), design_file(tmp_path, "second", blocks=4)
    loads.slow.add(str(first))
    replaced = []
    win.document.design_replaced.connect(lambda: replaced.append(win.document.design.name))
    win.files.open_path(str(first))
    assert win.files.is_loading()
    drop_file(win, second)  # while the first is still being read
    qtbot.waitUntil(lambda: len(loads) == 2 and not win.files.is_loading(), timeout=3000)
    qtbot.wait(50)  # nothing of the first arrives late
    assert replaced == ["second"] and win.document.path == str(second.resolve())
    assert len(win.scene.node_items) == 4 and not prompts.errors
    assert win.files.recent.paths() == [str(second.resolve())]


def test_edits_made_while_a_file_loads_are_asked_about(qtbot, win, prompts, loads, tmp_path):
    path = design_file(tmp_path, "later")
    loads.slow.add(str(path))
    win.files.open_path(str(path))
    node = win.document.add_node("input")  # the window stays usable during the load
    prompts.save_changes = "cancel"
    qtbot.waitUntil(lambda: not win.files.is_loading(), timeout=2000)
    assert prompts.asked == [("save_changes", "Untitled")]
    assert list(win.document.design.nodes) == [node] and win.document.path is None


def test_new_while_loading_drops_the_file_and_closing_waits_for_the_reader(qtbot, win, loads, tmp_path):
    path = design_file(tmp_path, "dropped")
    loads.slow.add(str(path))
    win.files.open_path(str(path))
    win.actions_by_name["new"].trigger()
    assert not win.files.is_loading() and not win.loading_indicator.isVisible()
    win.close()  # waits for the reading thread (the autouse fixture checks none is left running)
    assert not win.isVisible() and len(loads) == 1
    QApplication.processEvents()
    assert win.document.design.name == "Untitled" and win.document.path is None
