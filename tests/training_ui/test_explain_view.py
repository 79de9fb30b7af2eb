"""The Explain view (issue 18): a hint before any run; after a short run, Grad-CAM computed in
the background shows a picture and a caption; Cancel stops activation maximisation."""
import os
import threading

import engine.explain
from designer.training.explain_view import HINT

SHOTS = os.environ.get("EXPLAIN_SCREENSHOTS", "/tmp/explain18v")


def test_before_any_run_the_view_says_to_train_first(qtbot, training_app):
    controller, _ = training_app
    view = controller.views.explain
    controller.views.setCurrentWidget(view)
    assert view.message.text() == HINT
    assert not view.run_button.isEnabled()
    assert view.result is None


def test_gradcam_after_a_short_run_in_the_background_and_cancel_stops_maximise(qtbot, training_app, monkeypatch):
    controller, window = training_app
    view = controller.views.explain
    controller.panel.epochs.setValue(1)
    controller.panel.start_button.click()
    qtbot.waitUntil(lambda: controller.trained_state is not None and view.run_button.isEnabled(), timeout=120_000)
    assert view.node.count() >= 2  # the feature-map nodes of the trained design
    assert view.run_dir == controller.record.folder  # the run just trained

    threads = []
    real = engine.explain.gradcam

    def recording(*args, **kwargs):
        threads.append(threading.current_thread())
        return real(*args, **kwargs)

    monkeypatch.setattr(engine.explain, "gradcam", recording)
    controller.views.setCurrentWidget(view)
    view.method.setCurrentText("Grad-CAM")
    view.run_button.click()
    qtbot.waitUntil(lambda: view.result is not None and not view.is_running(), timeout=120_000)
    assert threads and threads[0] is not threading.main_thread()
    assert view.result.map.shape == (8, 8)
    assert view.caption.text() == view.result.caption and view.caption.text()
    assert view.graphics is not None and view.graphics.isVisible()
    os.makedirs(SHOTS, exist_ok=True)
    qtbot.wait(100)
    assert view.grab().save(os.path.join(SHOTS, "x.png"))

    view.steps.setValue(8)
    for method in ("Top patches", "Occlusion", "Saliency", "Nearest neighbours", "PCA", "Maximise"):
        view.method.setCurrentText(method)
        before = view.result
        view.run_button.click()
        qtbot.waitUntil(lambda: view.result is not before and not view.is_running(), timeout=120_000)
        assert view.caption.text() == view.result.caption, method
        bars = [i for i in view.graphics.ci.items if type(i).__name__ == "ColorBarItem"]
        assert len(bars) == (method in ("Occlusion", "Saliency")), method  # maps of numbers carry their scale
        qtbot.wait(50)
        assert view.grab().save(os.path.join(SHOTS, method.replace(" ", "_") + ".png"))

    shown = view.result
    view.steps.setMaximum(200_000)
    view.steps.setValue(200_000)  # would take far longer than the test: only Cancel ends it
    view.method.setCurrentText("Maximise")
    view.run_button.click()
    assert view.is_running() and view.cancel_button.isEnabled() and not view.run_button.isEnabled()
    qtbot.waitUntil(lambda: view.bar.value() > 0, timeout=120_000)  # it is optimising
    view.cancel_button.click()
    qtbot.waitUntil(lambda: not view.is_running(), timeout=120_000)
    assert view.result is shown  # no new result
    assert "Stopped" in view.message.text()
    assert view.run_button.isEnabled() and not view.cancel_button.isEnabled()


def test_the_view_does_not_widen_the_training_views_dock(qtbot):
    """The training views share one dock: the narrowest Explain view sets its narrowest width,
    and at 960 px it squeezed the block palette beside it to 100 px."""
    from designer.training.explain_view import ExplainView
    view = ExplainView()
    qtbot.addWidget(view)
    view.node.addItems(["a_layer_with_a_rather_long_name (Conv2d, 512 channels)"] * 3)
    assert view.minimumSizeHint().width() <= 700
