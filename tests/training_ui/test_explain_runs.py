"""The Explain view (issue 18) on any run: one picked in the Runs table (made outside the app,
another design), a 1-D signal run through every method, the occlusion and maximisation settings
reaching the engine, and closing the window during a long maximisation returning at once."""
import inspect
import os
import time
from pathlib import Path

import numpy as np
import pytest

from designer.training.explain_view import MAXIMISE_DEFAULTS, METHODS, OCCLUSION_DEFAULTS
from engine import Design, explain as ex
from engine.training import TrainConfig, Trainer
from tests.training_ui.conftest import small_cnn

SHOTS = os.environ.get("EXPLAIN_SCREENSHOTS", "/tmp/explain18v")


def train_outside(folder: Path, design: Design, dataset: str) -> Path:
    """A run folder as `main.py train` writes it (the engine's Trainer, no app)."""
    config = TrainConfig(dataset=dataset, epochs=1, batch_size=64, seed=0, num_threads=1)
    finished = Trainer(design, config, run_dir=folder).run()
    assert finished.reason == "completed"
    return folder


def signal_cnn() -> Design:
    d = Design("signal cnn", num_classes=4)
    d.chain(("input", {"shape": [1, 64]}), ("conv1d", {"out_channels": 6, "kernel": 5, "padding": 2}), "relu",
            ("maxpool1d", {"kernel": 2}), ("conv1d", {"out_channels": 8, "kernel": 3, "padding": 1}), "relu",
            "flatten", ("linear", {"out_features": 4}), "output")
    return d


def run_method(qtbot, view, method: str):
    view.method.setCurrentText(method)
    before = view.result
    view.run_button.click()
    qtbot.waitUntil(lambda: view.result is not before and not view.is_running(), timeout=120_000)
    assert view.caption.text() == view.result.caption, method
    return view.result


def pick_in_runs_table(qtbot, controller, folder: Path) -> None:
    runs, view = controller.views.runs, controller.views.explain
    controller.views.setCurrentWidget(runs)
    qtbot.waitUntil(lambda: folder.name in runs.records, timeout=20_000)  # the table's poll found it
    runs.select([folder.name])
    assert runs.explain_button.isEnabled()
    runs.explain_button.click()
    assert controller.views.currentWidget() is view
    qtbot.waitUntil(lambda: view.run_dir == str(folder) and view.run_button.isEnabled(), timeout=60_000)


def screenshots_light_and_dark(qtbot, view, name: str) -> None:
    """Grab the view in both themes; the picture is drawn again in the theme's colours."""
    from PySide6.QtWidgets import QApplication

    from designer import theme as themes
    os.makedirs(SHOTS, exist_ok=True)
    try:
        for mode in ("light", "dark"):
            theme = themes.current(mode == "dark")
            themes.apply(QApplication.instance(), theme)
            qtbot.wait(50)
            assert view.graphics.backgroundBrush().color().name() == themes.plot_background(theme)
            assert view.grab().save(os.path.join(SHOTS, f"{name}-{mode}.png"))
    finally:
        themes.apply(QApplication.instance(), themes.current(False))


def plots(view):
    import pyqtgraph as pg
    return [item for item in view.graphics.ci.items
            if isinstance(item, pg.PlotItem) and not isinstance(item, pg.ColorBarItem)]


def test_a_run_picked_in_the_runs_table_is_explained_with_its_own_design(qtbot, training_app, monkeypatch):
    controller, _ = training_app
    view = controller.views.explain
    other = small_cnn()
    other.name = "wider cnn"
    first_conv = next(n for n in other.nodes.values() if n.block == "conv2d")
    other.set_params(first_conv.id, {"out_channels": 5})
    folder = train_outside(controller.runs_root / "from-the-command-line", other, "digits")
    pick_in_runs_table(qtbot, controller, folder)
    assert "from-the-command-line" in view.message.text() and "wider cnn" in view.message.text()
    assert any("5 channels" in view.node.itemText(i) for i in range(view.node.count()))  # its design, not the app's
    view.klass.setValue(-1)
    view.node.setCurrentIndex(view.node.findData(first_conv.id))
    shown = run_method(qtbot, view, "Grad-CAM")
    explainer, bundle = ex.load_explainer(None, folder)
    expected = ex.gradcam(explainer, bundle.val[0][0], first_conv.id)
    np.testing.assert_allclose(shown.map, expected.map, rtol=1e-5, atol=1e-6)
    assert shown.caption == expected.caption
    screenshots_light_and_dark(qtbot, view, "picked-gradcam")
    # Selected in the table, the command-line run's curves are overlaid (read from metrics.jsonl).
    curves = controller.views.curves
    controller.views.setCurrentWidget(curves)
    curves._redraw()
    drawn = {series for run_id, series in curves._items if run_id == folder.name}
    assert {"val_acc", "val_loss", "train_loss_epoch"} <= drawn

    # A folder without weights cannot be explained: the button says so by being off.
    (controller.runs_root / "no-weights").mkdir()
    (controller.runs_root / "no-weights" / "config.json").write_text("{}")
    (controller.runs_root / "no-weights" / "design.json").write_text((folder / "design.json").read_text())
    runs = controller.views.runs
    controller.views.setCurrentWidget(runs)
    qtbot.waitUntil(lambda: "no-weights" in runs.records, timeout=20_000)
    runs.select(["no-weights"])
    assert not runs.explain_button.isEnabled()
    view.explain_run(str(controller.runs_root / "no-weights"))
    qtbot.waitUntil(lambda: "Could not explain" in view.message.text(), timeout=20_000)
    assert "holds no weights" in view.message.text()

    # Deleted in the table while explained: the view lets it go.
    view.explain_run(str(folder))
    qtbot.waitUntil(lambda: view.run_dir == str(folder) and view.run_button.isEnabled(), timeout=60_000)
    runs.select([folder.name])
    monkeypatch.setattr(runs, "confirm_delete", lambda records: True)
    monkeypatch.setattr("designer.training.run_history._move_to_trash", lambda path: False)
    runs.delete_button.click()
    assert not folder.exists() and (controller.runs_root / "no-weights").is_dir()
    assert view.run_dir is None and not view.run_button.isEnabled() and "deleted" in view.message.text()


def test_occlusion_and_maximisation_settings_reach_the_engine(qtbot, training_app):
    controller, _ = training_app
    view = controller.views.explain
    occlusion, maximise = inspect.signature(ex.occlusion).parameters, inspect.signature(ex.maximise).parameters
    assert OCCLUSION_DEFAULTS == {"size": occlusion["size"].default, "stride": occlusion["stride"].default}
    assert (MAXIMISE_DEFAULTS["steps"], MAXIMISE_DEFAULTS["l2"]) == (maximise["steps"].default, maximise["l2"].default)
    assert maximise["jitter"].default is None and maximise["blur_every"].default is None  # "auto" in the view
    assert view.settings() == {"size": 4, "stride": 2, "steps": 64, "jitter": None, "l2": 1e-3, "blur_every": None}
    assert view.jitter.text() == "jitter: auto" and view.blur.text() == "blur: auto"
    view.method.setCurrentText("Occlusion")
    assert view.patch.isVisibleTo(view) and not view.steps.isVisibleTo(view)
    view.method.setCurrentText("Maximise")
    assert view.steps.isVisibleTo(view) and not view.patch.isVisibleTo(view)

    folder = train_outside(controller.runs_root / "settings", small_cnn(), "digits")
    view.explain_run(str(folder))
    qtbot.waitUntil(lambda: view.run_dir == str(folder) and view.run_button.isEnabled(), timeout=60_000)
    explainer, bundle = ex.load_explainer(None, folder)
    view.patch.setValue(3)
    view.stride.setValue(1)
    view.sample.setValue(5)
    shown = run_method(qtbot, view, "Occlusion")
    expected = ex.occlusion(explainer, bundle.val[5][0], size=3, stride=1)
    assert "3-pixel patch (stride 1)" in shown.caption
    np.testing.assert_allclose(shown.map, expected.map, rtol=1e-5, atol=1e-6)

    view.steps.setValue(5)
    view.jitter.setValue(0)
    view.l2.setValue(0.01)
    view.blur.setValue(2)
    node = view.node.currentData()
    shown = run_method(qtbot, view, "Maximise")
    assert "jitter 0 px, L2 0.01, blur every 2 steps, 5 steps" in shown.caption
    expected = ex.maximise(explainer, node, steps=5, jitter=0, l2=0.01, blur_every=2)
    np.testing.assert_allclose(shown.images, expected.images, rtol=1e-4, atol=1e-5)


def test_closing_during_a_long_maximisation_returns_at_once(qtbot, training_app):
    controller, _ = training_app
    view = controller.views.explain
    folder = train_outside(controller.runs_root / "long", small_cnn(), "digits")
    view.explain_run(str(folder))
    qtbot.waitUntil(lambda: view.run_dir == str(folder) and view.run_button.isEnabled(), timeout=60_000)
    view.method.setCurrentText("Maximise")
    view.steps.setMaximum(200_000)
    view.steps.setValue(200_000)  # minutes of optimisation: only the cancel flag ends it
    view.run_button.click()
    qtbot.waitUntil(lambda: view.bar.value() > 0, timeout=60_000)  # it is optimising
    start = time.perf_counter()
    controller.shutdown()  # what closing the window does
    elapsed = time.perf_counter() - start
    assert elapsed < 1.0, f"closing waited {elapsed:.1f} s for the maximisation"
    assert not any(task.thread.isRunning() for task in controller.jobs._running.values())


@pytest.fixture
def signal_run(training_app):
    controller, _ = training_app
    return controller, train_outside(controller.runs_root / "signals", signal_cnn(), "signal")


def test_every_method_on_a_one_dimensional_signal_run(qtbot, signal_run):
    import pyqtgraph as pg
    controller, folder = signal_run
    view = controller.views.explain
    view.explain_run(str(folder))
    qtbot.waitUntil(lambda: view.run_dir == str(folder) and view.run_button.isEnabled(), timeout=60_000)
    controller.views.setCurrentWidget(view)
    explainer, bundle = ex.load_explainer(None, folder)
    convs = [n for n in explainer.report.order if explainer.design.nodes[n].block == "conv1d"]
    view.node.setCurrentIndex(view.node.findData(convs[-1]))
    view.steps.setValue(8)
    os.makedirs(SHOTS, exist_ok=True)
    for method in METHODS:
        out = run_method(qtbot, view, method)
        [plot, *more] = plots(view)
        curves = plot.listDataItems()
        if method in ("Occlusion", "Grad-CAM", "Saliency"):
            assert out.map.shape == (64,)
            sample = np.asarray(bundle.val[0][0]).reshape(1, 64)
            # The signal as a curve over its heat map (a 1×64 band), with a colour bar beside it.
            [curve] = curves
            np.testing.assert_allclose(curve.yData, sample[0], rtol=1e-5, atol=1e-6)
            [band] = [i for i in plot.items if isinstance(i, pg.ImageItem)]
            np.testing.assert_allclose(band.image, out.map.reshape(1, 64))
            assert any(isinstance(i, pg.ColorBarItem) for i in view.graphics.ci.items)
        elif method == "Top patches":
            k = len(out.samples)
            assert len(curves) == 2 * k  # each signal, and in red the stretch its unit sees
            for bounds, red in zip(out.bounds, curves[1::2]):
                [(lo, hi)] = bounds
                assert (red.xData[0], red.xData[-1]) == (lo, hi - 1)
        elif method == "Maximise":
            assert len(curves) == explainer.report.nodes[convs[-1]].shape[0] == len(out.images)
            assert out.images.shape[1:] == (1, 64)
        elif method == "Nearest neighbours":
            assert len(more) == 1 and len(curves) == len(more[0].listDataItems()) == len(out.feature_indices)
        elif method == "PCA":
            scatter = [i for i in plot.items if isinstance(i, pg.ScatterPlotItem)]
            assert sum(len(s.data) for s in scatter) == len(out.points) == len(bundle.val)
            assert len(scatter) == len(set(out.labels.tolist()))  # one colour per class
        qtbot.wait(30)
        assert view.grab().save(os.path.join(SHOTS, "signal-" + method.replace(" ", "_") + ".png"))
        if method in ("Occlusion", "Top patches"):
            screenshots_light_and_dark(qtbot, view, "signal-" + method.replace(" ", "_"))


def test_colour_bar_labels_fit_for_tiny_and_huge_ranges():
    from designer.training.explain_view import bar_scale
    assert bar_scale((0, 0.5), "importance") == ((0, 0.5), "importance")
    (lo, hi), label = bar_scale((0, 6e-4), "importance")
    assert (lo, hi) == pytest.approx((0, 6)) and label == "importance (×10⁻⁴)"
    (lo, hi), label = bar_scale((-2e5, 3e5), "drop")
    assert (lo, hi) == pytest.approx((-2, 3)) and label == "drop (×10⁵)"


def volume_cnn() -> Design:
    d = Design("volume cnn", num_classes=3)
    d.chain(("input", {"shape": [1, 16, 16, 16]}), ("conv3d", {"out_channels": 4, "kernel": 3, "padding": 1}),
            "relu", ("maxpool3d", {"kernel": 2}), "flatten", ("linear", {"out_features": 3}), "output")
    return d


def test_every_method_on_a_volume_run_shows_depth_slices(qtbot, training_app):
    import pyqtgraph as pg
    controller, _ = training_app
    view = controller.views.explain
    folder = train_outside(controller.runs_root / "volumes", volume_cnn(), "volumes")
    view.explain_run(str(folder))
    qtbot.waitUntil(lambda: view.run_dir == str(folder) and view.run_button.isEnabled(), timeout=60_000)
    controller.views.setCurrentWidget(view)
    view.steps.setValue(4)
    for method in METHODS:
        out = run_method(qtbot, view, method)
        images = [i for i in view.graphics.scene().items() if isinstance(i, pg.ImageItem)]
        if method == "PCA":
            continue
        assert images and all(i.image.ndim in (2, 3) for i in images), method  # pictures, not volumes
        assert "depth slice" in view.message.text(), method
        if method == "Grad-CAM":
            heat = np.asarray(out.map)
            d = int(np.argmax(np.abs(heat).reshape(16, -1).sum(axis=1)))
            assert f"depth slice {d + 1} of 16" in view.message.text()
        qtbot.wait(30)
        assert view.grab().save(os.path.join(SHOTS, "volume-" + method.replace(" ", "_") + ".png"))


def test_a_table_run_saliency_as_bars_and_occlusion_says_why_not(qtbot, training_app, tmp_path):
    import pyqtgraph as pg
    controller, _ = training_app
    view = controller.views.explain
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 4))
    labels = np.where(x[:, 2] > 0, "up", "down")  # only the third feature decides
    table = tmp_path / "table.csv"
    table.write_text("a,b,c,d,label\n" + "".join(f"{r[0]:.3f},{r[1]:.3f},{r[2]:.3f},{r[3]:.3f},{lab}\n"
                                                 for r, lab in zip(x, labels)))
    d = Design("table mlp", num_classes=2)
    d.chain(("input", {"shape": [4]}), ("linear", {"out_features": 8}), "relu", ("linear", {"out_features": 2}),
            "output")
    folder = train_outside(controller.runs_root / "table", d, str(table))
    view.explain_run(str(folder))
    qtbot.waitUntil(lambda: view.run_dir == str(folder) and view.run_button.isEnabled(), timeout=60_000)
    controller.views.setCurrentWidget(view)
    out = run_method(qtbot, view, "Saliency")
    [plot] = plots(view)
    [bars] = [i for i in plot.items if isinstance(i, pg.BarGraphItem)]
    np.testing.assert_allclose(bars.opts["height"], out.map)
    assert out.map.shape == (4,)
    assert any(isinstance(i, pg.ColorBarItem) for i in view.graphics.ci.items)
    qtbot.wait(30)
    assert view.grab().save(os.path.join(SHOTS, "table-Saliency.png"))
    for method in ("Nearest neighbours", "PCA"):
        run_method(qtbot, view, method)
    view.method.setCurrentText("Occlusion")
    view.run_button.click()
    qtbot.waitUntil(lambda: not view.is_running(), timeout=60_000)
    assert "no positions" in view.message.text() and "Saliency" in view.message.text()
