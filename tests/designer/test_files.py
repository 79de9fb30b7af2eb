"""Files: corrupt files open nothing and say why, closing asks, autosave and crash recovery,
recent files, the window title's unsaved marker, the remembered layout."""

from PySide6.QtCore import QSettings, Qt

from engine import persistence, templates

from .helpers import snapshot


def test_corrupt_file_opens_nothing_and_shows_the_engine_error(window, prompts, tmp_path):
    window.files.new_from_template(("lenet5", (1, 32, 32), 10))
    before = snapshot(window.document.design)
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "network-designer", "version": 1, "nodes": [{"id": "a", "block": "conv9d"}]}')
    prompts.open_answer = str(bad)
    window.actions_by_name["open"].trigger()
    assert snapshot(window.document.design) == before
    (title, message), = prompts.errors
    assert "nodes[0]" in message and "conv9d" in message


def test_closing_with_unsaved_changes_asks(qtbot, make_window, prompts):
    window = make_window()
    window.document.add_node("input")
    prompts.save_changes = "cancel"
    window.close()
    assert window.isVisible() and prompts.asked[-1][0] == "save_changes"
    prompts.save_changes = "discard"
    window.close()
    assert not window.isVisible()


def test_autosave_then_restore_after_a_crash(qtbot, make_window, prompts, tmp_path):
    window = make_window()
    window.files.new_from_template(("lenet5", (1, 32, 32), 10))
    window.document.set_meta(name="before the crash")
    assert window.files.autosave.save_now()
    window.files.autosave.wait()
    saved = snapshot(window.document.design)
    recovery = window.files.autosave.path
    assert recovery.exists()
    # A crash: the window never closes normally, the recovery file stays. A new session starts.
    window.files.autosave.stop()
    restarted = make_window()
    assert restarted.files.offer_recovery()
    assert prompts.asked[-1][0] == "restore"
    assert snapshot(restarted.document.design) == saved
    assert restarted.isWindowModified()
    restarted.document.undo_stack.setClean()
    restarted.close()
    assert not recovery.exists()  # a clean close leaves nothing to restore


def test_autosave_timer_writes_only_unsaved_changes(qtbot, make_window):
    window = make_window(autosave_ms=20)
    path = window.files.autosave.path
    qtbot.wait(60)
    assert not path.exists()  # nothing to protect
    window.document.add_node("input")
    qtbot.waitUntil(path.exists, timeout=2000)
    assert persistence.load(path).nodes.keys() == window.document.design.nodes.keys()


def test_autosave_writes_off_the_ui_thread_and_a_failed_write_is_tried_again(qtbot, make_window, monkeypatch):
    import threading
    window = make_window()
    autosave = window.files.autosave
    window.document.add_node("input")
    writers, real_write = [], persistence.atomic_write_text

    def failing_write(path, text):
        writers.append(threading.get_ident())
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(persistence, "atomic_write_text", failing_write)
    assert autosave.save_now()
    autosave.wait()
    assert writers and threading.get_ident() not in writers and not autosave.path.exists()
    monkeypatch.setattr(persistence, "atomic_write_text", real_write)
    assert autosave.save_now()  # the same version again: the failed write is not taken as done
    autosave.wait()
    assert persistence.load(autosave.path).nodes.keys() == window.document.design.nodes.keys()


def test_recent_files_and_title(qtbot, window, prompts, tmp_path):
    path = tmp_path / "net.json"
    persistence.save(templates.build("lenet5"), path)
    window.files.open(str(path))
    assert window.windowTitle().startswith("net.json")
    assert not window.isWindowModified()
    window.document.add_node("relu")
    assert window.isWindowModified()
    window.document.undo_stack.undo()
    assert not window.isWindowModified()
    assert window.files.recent.paths()[0] == str(path.resolve())
    assert [a.text() for a in window.recent_menu.actions()] == ["net.json"]


def test_layout_is_remembered(qtbot, make_window):
    first = make_window()
    first.docks["Inspector"].hide()
    first.close()
    second = make_window()
    assert not second.docks["Inspector"].isVisible()


def test_command_line_file_opens(qtbot, tmp_path, monkeypatch):
    import designer.app as app_module

    path = tmp_path / "cli.json"
    persistence.save(templates.build("lenet5"), path)
    opened = {}

    class FakeApp:
        def exec(self):
            window = next(w for w in app_module.QApplication.topLevelWidgets()
                          if type(w).__name__ == "MainWindow" and w.isVisible())
            opened["nodes"] = len(window.document.design.nodes)
            window.files.shutdown()
            window.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
            window.close()
            return 0

    monkeypatch.setattr(app_module, "make_application", lambda: FakeApp())
    monkeypatch.setattr("designer.main_window.default_recovery_path", lambda: tmp_path / "r.json")
    monkeypatch.setattr("designer.main_window.QSettings",
                        lambda: QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat))
    assert app_module.run(str(path)) == 0
    assert opened["nodes"] == len(templates.build("lenet5").nodes)
