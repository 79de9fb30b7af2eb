"""Stopping a running run within one batch, datasets loading off the UI thread, first-layer
filters during training, Export… after a run, and the panel at a narrow and a wide size."""
import os
import threading

import numpy as np
import torch

from designer.training.engine_adapter import FilterWeights
from engine.training import events as ev
from engine.training.rundir import load_checkpoint

from .test_training_run import _screenshot


def test_a_stop_while_running_ends_the_run_after_at_most_one_more_batch(qtbot, training_app):
    controller, _ = training_app
    panel = controller.panel
    original_config = panel.config
    # Every batch reports (no rate limit), so the steps done when Stop is pressed are known.
    panel.config = lambda: original_config().replace(event_rate=1e6)
    panel.batch_size.setValue(16)
    panel.epochs.setValue(200)
    panel.start_button.click()
    session = controller.session
    done_steps = []  # filled in the worker thread, as each batch ends (the UI gets them in batches)
    post = session.trainer.on_event

    def on_event(event):
        if isinstance(event, ev.BatchProgress):
            done_steps.append(event.step)
        post(event)
    session.trainer.on_event = on_event
    at_stop = []
    trainer_stop = session.trainer.stop  # the run's one stop flag: the trainer's

    def stop():
        at_stop.append(max(done_steps))
        trainer_stop()
    session.trainer.stop = stop
    qtbot.waitUntil(lambda: len(done_steps) >= 30, timeout=30000)  # well into the run, not paused
    assert not session.paused and not session.trainer.paused
    panel.stop_button.click()
    qtbot.waitUntil(lambda: not session.is_running(), timeout=30000)
    assert controller.record.status == "stopped"
    step_at_stop = at_stop[0]
    after = [s for s in done_steps if s > step_at_stop]
    assert len(after) <= 1, f"{len(after)} batches ran after the stop request"
    checkpoint = load_checkpoint(os.path.join(session.run_dir, "checkpoints", "last.pt"))
    assert step_at_stop <= checkpoint["step"] <= step_at_stop + 1
    assert checkpoint["step"] < 200 * 90


def test_a_slow_dataset_loads_in_the_background_with_a_busy_bar(qtbot, training_app, monkeypatch):
    from designer.training import controller as controller_module

    controller, _ = training_app
    panel = controller.panel
    release = threading.Event()
    real_load = controller_module.datasets.load
    threads = []

    def slow_load(name, *args, **kwargs):
        threads.append(threading.current_thread())
        assert release.wait(20), "the test never released the load"
        if name == "broken":
            raise RuntimeError("no network: cannot download broken")
        return real_load("digits")

    monkeypatch.setattr(controller_module.datasets, "load", slow_load)
    old_bundle = controller.bundle
    controller.choose_dataset("digits")  # returns at once although the load blocks
    assert controller.dataset_loading() and panel.loading.isVisibleTo(panel)
    assert "loading digits" in panel.loading.format()
    qtbot.wait(50)  # the event loop runs while the load waits
    assert controller.bundle is old_bundle
    panel.start_button.click()  # a start while loading waits for the data
    assert controller.session is None and "dataset" in panel.status.text()
    release.set()
    qtbot.waitUntil(lambda: not controller.dataset_loading(), timeout=20000)
    assert threads and threads[0] is not threading.main_thread()
    assert not panel.loading.isVisibleTo(panel) and controller.bundle is not old_bundle
    qtbot.waitUntil(lambda: controller.session is not None, timeout=5000)  # the deferred start happened
    controller.stop()
    qtbot.waitUntil(lambda: not controller.session.is_running(), timeout=30000)

    release.clear()
    controller.choose_dataset("broken")
    release.set()
    qtbot.waitUntil(lambda: not controller.dataset_loading(), timeout=20000)
    assert "no network" in panel.error.text() and panel.error.isVisibleTo(panel)
    assert controller.bundle is None


def test_filters_update_every_epoch_and_export_after_a_run_uses_its_weights(qtbot, training_app, tmp_path):
    controller, _ = training_app
    panel, views = controller.panel, controller.views
    panel.epochs.setValue(2)
    titles = []
    real_set_filters = views.feature_maps.set_filters
    views.feature_maps.set_filters = lambda name, w: (titles.append(name), real_set_filters(name, w))
    panel.start_button.click()
    filters = []
    controller.session.trainer_event.connect(lambda e: isinstance(e, FilterWeights) and filters.append(e))
    qtbot.waitUntil(lambda: panel.start_button.isEnabled() and not controller.session.is_running(), timeout=60000)
    epochs = [f.epoch for f in filters]
    assert 0 in epochs and 1 in epochs, epochs  # one after each epoch (the initial one may precede the connect)
    first, last = filters[0].weights, filters[-1].weights
    assert first.shape == (8, 1, 3, 3) and not np.allclose(first, last), "the filters change as it learns"
    assert any("after epoch 1" in t for t in titles) and any("after epoch 2" in t for t in titles), titles
    # The view draws a page only when it is in front: bring the filters forward to look at them.
    views.setCurrentWidget(views.feature_maps)
    views.feature_maps.tabs.setCurrentWidget(views.feature_maps.filters)
    qtbot.waitUntil(lambda: "(final)" in views.feature_maps.filters.title.text, timeout=10000)  # read off-thread

    panel.export_button.click()
    dialog = panel.window().export_dialog
    assert "trained weights of run" in dialog.weights_label.text()
    dialog.set_format("python")
    dialog.set_path(str(tmp_path / "net.py"))
    dialog.export_button.click()
    qtbot.waitUntil(lambda: not dialog.is_busy(), timeout=60000)
    assert dialog.result is not None and dialog.result.verified, dialog.status.text()
    assert "max |difference|" in dialog.status.text()
    from engine.export import read_pt
    exported = read_pt(tmp_path / "net.pt")
    assert all(torch.equal(exported[k], controller.trained_state[k]) for k in controller.trained_state)
    # The training script takes the run's data and settings (its data.json and config.json).
    dialog.set_format("script")
    dialog.set_path(str(tmp_path / "script"))
    dialog.export_button.click()
    qtbot.waitUntil(lambda: not dialog.is_busy(), timeout=60000)
    assert dialog.result is not None and dialog.result.verified, dialog.status.text()
    import json
    assert json.loads((tmp_path / "script" / "train_config.json").read_text())["epochs"] == 2
    assert (tmp_path / "script" / "dataset.pt").is_file()  # the digits travel with the script
    dialog.close()


def test_the_panel_form_fits_a_narrow_dock_and_a_wide_one(qtbot, training_app, tmp_path):
    from PySide6.QtWidgets import QScrollArea

    controller, _ = training_app
    panel = controller.panel
    panel.setParent(None)
    qtbot.addWidget(panel)
    scroll = panel.findChild(QScrollArea)
    for width, name in ((panel.minimumWidth(), "panel_narrow.png"), (640, "panel_wide.png")):
        panel.resize(width, 900)
        panel.show()
        qtbot.wait(50)
        inner = scroll.widget()
        assert inner.width() <= scroll.viewport().width(), f"the form is cut off at {width} px"
        for child in (panel.start_button, panel.export_button, panel.device, panel.lr, panel.progress):
            right = child.mapTo(inner, child.rect().topRight()).x()
            assert right <= scroll.viewport().width(), f"{child.objectName() or type(child).__name__} cut off"
        _screenshot(panel, tmp_path, name)
        scroll.verticalScrollBar().setValue(scroll.verticalScrollBar().maximum())  # the Run group
        qtbot.wait(20)
        _screenshot(panel, tmp_path, name.replace(".png", "_bottom.png"))
        scroll.verticalScrollBar().setValue(0)
