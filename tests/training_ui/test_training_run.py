"""Real short training runs driven from the panel, on the bundled digits (offscreen Qt)."""
import os

import numpy as np

from engine.training import events as ev
from engine.training.rundir import load_checkpoint

SCREENSHOTS = os.environ.get("TRAINING_UI_SCREENSHOTS")  # keep the pictures somewhere to look at


def _collect(controller):
    seen = []
    controller.session.trainer_event.connect(seen.append)
    return seen


def _wait_for(qtbot, predicate, timeout=30000):
    qtbot.waitUntil(predicate, timeout=timeout)


def _screenshot(widget, tmp_path, name):
    folder = SCREENSHOTS or str(tmp_path)
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, name)
    assert widget.grab().save(path)
    assert os.path.getsize(path) > 10_000  # a real picture, not an empty widget
    return path


def test_a_run_fills_the_curves_and_the_selected_nodes_feature_maps(qtbot, training_app, tmp_path):
    controller, window = training_app
    panel, views = controller.panel, controller.views
    conv = next(n for n, node in controller.document.design.nodes.items() if node.block == "conv2d")
    controller.document.set_selection([conv])
    panel.epochs.setValue(40)
    panel.start_button.click()
    seen = _collect(controller)
    # Mid-run: points on the curves and maps of the selected node.
    _wait_for(qtbot, lambda: any(isinstance(e, ev.EpochEnd) for e in seen)
              and conv in views.feature_maps.maps and views.curves.point_count("train_loss") > 3)
    # The curves redraw up to 5 times a second, less often when redrawing is slow (at least once a second).
    _wait_for(qtbot, lambda: views.curves.point_count("train_loss") > 3 and views.curves.point_count("val_acc") >= 1,
              timeout=5000)
    assert views.feature_maps.node_id == conv
    maps, _when = views.feature_maps.maps[conv]
    assert maps.shape == (8, 8, 8)  # 8 channels of the conv at 8×8
    assert panel.status.text().startswith("epoch") and "samples/s" in panel.status.text()
    _screenshot(window, tmp_path, "training_mid_run.png")
    views.setCurrentWidget(views.feature_maps)
    qtbot.wait(50)
    _screenshot(window, tmp_path, "feature_maps.png")
    panel.stop_button.click()
    _wait_for(qtbot, lambda: not controller.session.is_running() and panel.start_button.isEnabled())
    record = controller.record
    assert record.status == "stopped"
    assert len(record.curves["train_loss"]) > 3 and len(record.curves["val_loss"]) >= 1
    assert controller.trained_state, "the stopped run's weights are kept"
    # After training: evaluation on the validation set fills the confusion matrix.
    panel.evaluate_button.click()  # computed in the background
    _wait_for(qtbot, lambda: "Validation accuracy" in panel.status.text())
    assert 0.0 <= record.summary["evaluated_val_accuracy"] <= 1.0
    views.feature_maps.tabs.setCurrentIndex(4)  # the translation probe, also in the background
    _wait_for(qtbot, lambda: "mismatch" in views.feature_maps.shift_label.text())


def test_pause_holds_the_run_and_stop_while_paused_runs_no_further_batch(qtbot, training_app):
    controller, _ = training_app
    panel = controller.panel
    panel.epochs.setValue(200)
    panel.start_button.click()
    seen = _collect(controller)
    _wait_for(qtbot, lambda: any(isinstance(e, ev.BatchProgress) for e in seen))
    panel.pause_button.click()
    assert panel.pause_button.text() == "Resume"
    _wait_for(qtbot, lambda: any(isinstance(e, ev.Paused) for e in seen))
    paused_at = next(e for e in seen if isinstance(e, ev.Paused)).step
    count = len(seen)
    qtbot.wait(300)
    assert len(seen) == count, "no events while paused"
    panel.pause_button.click()  # resume
    _wait_for(qtbot, lambda: any(isinstance(e, ev.BatchProgress) and e.step > paused_at for e in seen))
    assert any(isinstance(e, ev.Resumed) for e in seen)
    panel.pause_button.click()
    _wait_for(qtbot, lambda: sum(isinstance(e, ev.Paused) for e in seen) == 2)
    paused_again = [e for e in seen if isinstance(e, ev.Paused)][-1].step
    panel.stop_button.click()
    _wait_for(qtbot, lambda: not controller.session.is_running())
    finished = [e for e in seen if isinstance(e, ev.Finished)]
    assert finished and finished[0].reason == "stopped"
    checkpoint = load_checkpoint(os.path.join(controller.session.run_dir, "checkpoints", "last.pt"))
    assert checkpoint["step"] == paused_again, "stopping a paused run trains no further batch"


def test_stop_while_running_ends_the_run_early(qtbot, training_app):
    controller, _ = training_app
    controller.panel.epochs.setValue(500)
    controller.panel.start_button.click()
    seen = _collect(controller)
    _wait_for(qtbot, lambda: any(isinstance(e, ev.BatchProgress) for e in seen))
    controller.panel.stop_button.click()
    _wait_for(qtbot, lambda: not controller.session.is_running())
    last_seen = max(e.step for e in seen if isinstance(e, ev.BatchProgress))
    checkpoint = load_checkpoint(os.path.join(controller.session.run_dir, "checkpoints", "last.pt"))
    assert checkpoint["step"] < 23 * 500 and controller.record.status == "stopped"
    assert checkpoint["step"] >= last_seen


def test_closing_during_a_run_stops_it_and_leaves_no_thread(qtbot, training_app, no_leaked_threads):
    controller, window = training_app
    controller.panel.epochs.setValue(500)
    controller.panel.start_button.click()
    seen = _collect(controller)
    _wait_for(qtbot, lambda: any(isinstance(e, ev.BatchProgress) for e in seen))
    controller.shutdown()  # what the main window does in closeEvent
    window.close()
    assert not controller.session.is_running()
    assert no_leaked_threads, "the run did use a thread"


def test_editing_the_design_during_a_run_is_safe_and_said(qtbot, training_app):
    controller, _ = training_app
    document = controller.document
    controller.panel.epochs.setValue(500)
    controller.panel.start_button.click()
    seen = _collect(controller)
    _wait_for(qtbot, lambda: any(isinstance(e, ev.BatchProgress) for e in seen))
    linear = next(n for n, node in document.design.nodes.items() if node.block == "linear")
    document.set_params(linear, {"out_features": 3})
    assert controller.panel.design_changed.isVisibleTo(controller.panel)
    assert controller.session.design.nodes[linear].params["out_features"] == 10  # the run's own copy
    controller.panel.stop_button.click()
    _wait_for(qtbot, lambda: not controller.session.is_running())
    assert controller.record.status == "stopped"


def test_a_failing_run_shows_a_message_not_a_crash(qtbot, training_app):
    controller, _ = training_app
    document = controller.document
    linear = next(n for n, node in document.design.nodes.items() if node.block == "linear")
    # 4 outputs for 10 classes: the trainer refuses the data, and the run ends with a message.
    controller.panel.epochs.setValue(1)
    document.set_params(linear, {"out_features": 4})
    document.refresh()
    controller.panel.start_button.click()
    if controller.session is not None:
        _wait_for(qtbot, lambda: not controller.session.is_running() and controller.panel.start_button.isEnabled())
    assert controller.panel.error.text()
    assert controller.panel.start_button.isEnabled()


def test_fix_buttons_set_the_class_count_through_undoable_edits(qtbot, training_app):
    controller, _ = training_app
    document = controller.document
    linear = next(n for n, node in document.design.nodes.items() if node.block == "linear")
    document.set_params(linear, {"out_features": 4})
    document.refresh()
    from PySide6.QtWidgets import QPushButton
    fix = controller.panel.findChild(QPushButton, "fix_num_classes")
    assert fix is not None, "the class-count problem offers a fix"
    fix.click()
    assert document.design.nodes[linear].params["out_features"] == 10
    assert controller.panel.findChild(QPushButton, "fix_num_classes") is None or \
        not controller.panel.findChild(QPushButton, "fix_num_classes").isVisible()
    document.undo_stack.undo()
    document.undo_stack.undo() if document.design.nodes[linear].params["out_features"] == 10 else None
    assert document.design.nodes[linear].params["out_features"] == 4
    assert np.isfinite(controller.panel.lr.value())


def test_a_panel_made_once_torch_is_ready_loads_its_dataset_once(qtbot, training_app, no_leaked_threads):
    """Torch's readiness arriving after the load began started a second, concurrent load of
    the same dataset; in CI the two once hung each other until the tests timed out."""
    from PySide6.QtWidgets import QWidget

    from designer.document import Document
    from designer.training import build_training_ui, torch_runtime

    from .conftest import small_cnn
    assert torch_runtime.is_ready()  # the fixture's panel waited for it
    started = len(no_leaked_threads)
    container = QWidget()
    qtbot.addWidget(container)
    _panel, _views, controller = build_training_ui(Document(small_cnn()), parent=container)
    qtbot.waitUntil(lambda: controller.bundle is not None and not controller.dataset_loading(), timeout=120_000)
    names = [t.objectName() for t in no_leaked_threads[started:]]
    assert names.count("dataset") == 1, names
    controller.shutdown()
