"""Training health in the app (issue 19, item 4): the heat maps under the curves show what the
engine sampled (one row per layer, one column per sample, capped), and the diagnostics reach the
Problems list on their node until the next run."""
from __future__ import annotations

import math

import numpy as np
import pytest

from designer.training.health_view import MAX_COLUMNS, HealthView
from engine.training import events


def sample(step, grads, dead=None):
    return events.Health(step, 0, grads, dead or {})


@pytest.fixture
def view(qtbot):
    v = HealthView()
    qtbot.addWidget(v)
    v.resize(800, 200)
    v.show()
    return v


def test_rows_are_layers_columns_samples_on_a_log_scale(view):
    view.reset({"conv1": "first conv", "fc": "classifier"})
    view.add(sample(0, {"conv1": 1e-3, "fc": 1.0}, {"relu1": 0.25}))
    view.add(sample(50, {"conv1": 1e-2, "fc": 10.0}, {"relu1": 0.5}))
    view.add(sample(100, {"fc": 100.0}, {"relu1": 0.75}))  # conv1 frozen from here on: no gradient
    view.redraw()
    shown, _ = view.grads._shown
    assert shown.shape == (2, 3)
    (lo, hi), label = view.grads.scale
    assert (lo, hi) == (pytest.approx(-3.0), pytest.approx(2.0)) and "log₁₀" in label
    assert shown[0, 0] == pytest.approx(0.0) and shown[1, 2] == pytest.approx(1.0)
    assert math.isnan(shown[0, 2])  # not sampled: a gap, not a zero
    assert view.grads.tick_labels("left") == ["first conv", "classifier"]
    assert view.grads.tick_labels("bottom") == ["0", "50", "100"]
    dead, _ = view.dead._shown
    assert dead.tolist() == [[0.25, 0.5, 0.75]] and view.dead.scale[0] == (0.0, 1.0)
    assert "3 samples, the last at step 100" in view.caption.text()
    assert "Most dead ReLU units: relu1 75%" in view.caption.text()


def test_a_long_run_draws_at_most_max_columns(view):
    view.reset()
    for i in range(3 * MAX_COLUMNS):
        view.add(sample(i * 50, {"a": float(i + 1)}))
    view.redraw()
    shown, _ = view.grads._shown
    assert shown.shape[1] <= MAX_COLUMNS
    assert view.grads.tick_labels("bottom")[-1] == f"{(3 * MAX_COLUMNS - 1) * 50:,}"  # the last sample is drawn
    assert np.nanmax(shown) == pytest.approx(1.0)


def test_training_diagnostics_are_listed_on_their_node_until_cleared(qtbot):
    from designer.diagnostics import DiagnosticsPanel
    from designer.document import Document

    from .conftest import small_cnn

    document = Document(small_cnn())
    panel = DiagnosticsPanel(document)
    qtbot.addWidget(panel)
    before = panel.count
    relu = next(n.id for n in document.design.nodes.values() if n.block == "relu")
    chosen = []
    panel.node_chosen.connect(chosen.append)
    panel.add_run_diagnostic(relu, "dead ReLU units at relu: 95% of its units output zero")
    assert panel.count == before + 1
    item = panel.list.item(panel.count - 1)
    assert item.text().startswith("training: dead ReLU units")
    assert "1 from training" in panel.summary.text()
    panel.list.itemClicked.emit(item)
    assert chosen == [relu]
    document.report_changed.emit(document.report)  # an edit re-analyses: the note stays
    assert panel.count == before + 1
    panel.clear_run_diagnostics()
    assert panel.count == before and "from training" not in panel.summary.text()


def test_a_run_in_the_app_draws_its_health_in_its_tab(qtbot, training_app):
    from engine.training import events as ev

    controller, window = training_app
    views = controller.views
    controller.panel.epochs.setValue(3)  # digits: 1,438 samples, batch 64 -> 66 steps: samples at 0 and 50
    diagnostics = []
    controller.health_diagnostic.connect(lambda node, message: diagnostics.append((node, message)))
    controller.panel.start_button.click()
    qtbot.waitUntil(lambda: controller.session is None or not controller.session.is_running(), timeout=120_000)
    health = views.health
    qtbot.waitUntil(lambda: len(health.steps) >= 2, timeout=10_000)
    assert health.steps[:2] == [0, 50]
    convs = [n for n, node in controller.document.design.nodes.items() if node.block in ("conv2d", "linear")]
    assert set(convs) <= set(health.grad_rows)  # every trainable layer has a row
    assert health.grads._shown is None  # the tab was hidden: nothing drawn yet
    views.setCurrentWidget(health)
    qtbot.waitUntil(lambda: health.grads._shown is not None, timeout=5000)
    assert health.grads._shown[0].shape[0] == len(health.grad_rows)
    # a diagnostic from the run reaches the window's listeners and marks the tab
    health_tab = views.indexOf(health)
    assert views.tabText(health_tab) == "Health"
    controller._on_event(ev.HealthDiagnostic(convs[0], "vanishing", "vanishing gradients at conv", 50))
    assert diagnostics == [(convs[0], "vanishing gradients at conv")]
    assert "vanishing gradients at conv" in controller.panel.status.text()
    assert views.tabText(health_tab) == "Health ⚠"


def test_the_main_window_lists_training_diagnostics_in_problems(qtbot):
    from designer.document import Document
    from designer.main_window import MainWindow

    from .conftest import small_cnn

    window = MainWindow(Document(small_cnn()))
    qtbot.addWidget(window)
    before = window.diagnostics.count
    relu = next(n for n, node in window.document.design.nodes.items() if node.block == "relu")
    window.training.health_diagnostic.emit(relu, "dead ReLU units at relu")
    assert window.diagnostics.count == before + 1
    window.training.health_reset.emit()
    assert window.diagnostics.count == before
    window.training.shutdown()
