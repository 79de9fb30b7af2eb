"""The training panel inside the designer's main window."""
from PySide6.QtCore import QSettings

from engine.training import events as ev

from .conftest import small_cnn


def test_training_docks_are_in_the_main_window_and_closing_stops_the_run(qtbot, tmp_path, no_leaked_threads):
    from designer.document import Document
    from designer.main_window import MainWindow

    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    window = MainWindow(Document(small_cnn()), settings=settings, recovery_path=tmp_path / "recovery.json")
    qtbot.addWidget(window)
    window.show()
    assert {"Training", "Training views"} <= set(window.docks)
    controller = window.training
    controller.history.root = tmp_path / "runs"
    controller.panel.epochs.setValue(500)
    qtbot.waitUntil(lambda: controller.bundle is not None, timeout=30_000)  # loaded off the UI thread
    controller.panel.start_button.click()
    seen = []
    controller.session.trainer_event.connect(seen.append)
    qtbot.waitUntil(lambda: any(isinstance(e, ev.BatchProgress) for e in seen), timeout=30_000)
    window.document.undo_stack.setClean()  # nothing to ask about on close
    window.close()
    qtbot.waitUntil(lambda: not controller.session.is_running(), timeout=10_000)
    assert controller.record.status in ("stopped", "running")  # the thread is gone either way


def test_one_batch_size_for_training_and_the_memory_figure(qtbot, tmp_path):
    from designer.document import Document
    from designer.main_window import MainWindow

    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    window = MainWindow(Document(small_cnn()), settings=settings, recovery_path=tmp_path / "recovery.json")
    qtbot.addWidget(window)
    training_batch = window.training.panel.batch_size
    assert window.batch_spin.value() == training_batch.value()
    per_sample = window.document.report.activation_bytes

    training_batch.setValue(48)
    assert window.batch_spin.value() == 48
    from engine.summary import human_bytes
    assert f"{human_bytes(per_sample * 48)} activations" in window.totals_label.text()

    window.batch_spin.setValue(20)
    assert training_batch.value() == 20
    assert f"{human_bytes(per_sample * 20)} activations" in window.totals_label.text()
    window.document.undo_stack.setClean()


def test_the_training_views_get_room_when_first_brought_forward_and_keep_a_size_chosen_later(qtbot, tmp_path):
    """At 1440×900 Qt gave the views dock 230 px: curves 40-60 px tall under their legends."""
    from PySide6.QtCore import Qt

    from designer.dock_layout import WATCHED_SHARE
    from designer.document import Document
    from designer.main_window import MainWindow

    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    window = MainWindow(Document(small_cnn()), settings=settings, recovery_path=tmp_path / "recovery.json")
    qtbot.addWidget(window)
    window.resize(1440, 900)
    window.show()
    qtbot.waitExposed(window)
    views = window.docks["Training views"]
    assert not views.isVisible()  # a first start: nothing below the canvas
    window.dock_layout.bring_forward_to_watch(views)
    qtbot.waitUntil(lambda: views.height() >= WATCHED_SHARE * window.height() - 8)
    window.resizeDocks([views], [290], Qt.Orientation.Vertical)  # the user makes it smaller
    qtbot.waitUntil(lambda: abs(views.height() - 290) < 20)
    window.dock_layout.bring_forward_to_watch(views)  # the next run
    qtbot.wait(50)
    assert abs(views.height() - 290) < 20
    window.document.undo_stack.setClean()
