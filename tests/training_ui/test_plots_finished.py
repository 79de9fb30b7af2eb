"""Plots finished (issue 15 item 4): the plots follow the theme, legends sit outside the plot
area, big counts read with SI prefixes, the learning-rate plot only for a changing schedule."""
import os

import numpy as np
import pytest
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QApplication

from designer import theme as themes

from .conftest import small_cnn

SHOTS = os.environ.get("ND_PLOT_SHOTS", "")  # a folder: write the Curves view's screenshots there


@pytest.fixture
def restore_theme():
    yield
    themes.apply(QApplication.instance(), themes.LIGHT)


def _runs(schedule="none"):
    from engine.runs import RunHistory
    history = RunHistory()
    run = history.new_run(small_cnn(), {"epochs": 5, "schedule": schedule})
    for i in range(500):
        e = i / 100
        run.add_point("train_loss", e, 2.3 * np.exp(-e) + 0.05 * np.sin(i))
        run.add_point("train_acc", e, 1 - 0.9 * np.exp(-e))
        run.add_point("lr", e, 0.1 * (0.1 ** (i // 200)) if schedule != "none" else 0.1)
    for ep in range(1, 6):
        run.add_point("train_loss_epoch", ep, 2.3 * np.exp(-ep))
        run.add_point("val_loss", ep, 2.4 * np.exp(-ep) + 0.05)
        run.add_point("train_acc_epoch", ep, 1 - 0.9 * np.exp(-ep))
        run.add_point("val_acc", ep, 0.97 - 0.9 * np.exp(-ep))  # up to the top of the plot
    return [run]


def _curves(qtbot, schedule="none"):
    from designer.training.plots import CurvesView
    view = CurvesView()
    qtbot.addWidget(view)
    view.resize(1200, 420)
    view.show()
    runs = _runs(schedule)
    view.set_runs(runs, current=runs[0].run_id)
    view.grid.ensure_built()
    qtbot.wait(50)
    view._redraw_if_dirty()
    return view


def _background(graphics_view) -> str:
    return graphics_view.backgroundBrush().color().name()


def test_plots_follow_the_theme(qtbot, restore_theme):
    from designer.summary import BarChart
    from designer.training.schedule_preview import SchedulePreview
    from engine.training.config import TrainConfig

    view = _curves(qtbot, "step")
    preview = SchedulePreview()
    qtbot.addWidget(preview)
    preview.ensure_built()
    preview.show_config(TrainConfig(schedule="step"), 10)
    chart = BarChart("parameters")
    qtbot.addWidget(chart)
    chart.ensure_built()
    app = QApplication.instance()
    for theme in (themes.DARK, themes.LIGHT, themes.DARK):
        themes.apply(app, theme)
        for graphics in (view.grid.graphics, preview.plot, chart.plot):
            assert _background(graphics) == QColor(theme.node_fill).name(), (theme.name, graphics)
        axis = view.plots["loss"].getAxis("left")
        assert axis.textPen().color().name() == QColor(theme.text).name()
        if SHOTS:
            os.makedirs(SHOTS, exist_ok=True)
            qtbot.wait(50)
            view.grab().save(os.path.join(SHOTS, f"curves_{theme.name}.png"))
    # A plot made after the switch is born in the theme.
    later = SchedulePreview()
    qtbot.addWidget(later)
    later.ensure_built()
    assert _background(later.plot) == QColor(themes.DARK.node_fill).name()


def test_legends_are_outside_the_plot_area(qtbot):
    view = _curves(qtbot)
    for name in ("loss", "accuracy"):
        plot = view.plots[name]
        legend = plot.legend
        assert len(legend.items) >= 2
        legend_rect = legend.mapRectToScene(legend.boundingRect())
        vb = plot.getViewBox()
        vb_rect = vb.mapRectToScene(vb.boundingRect())
        assert legend_rect.height() > 0 and not legend_rect.intersects(vb_rect), name


def test_lr_plot_only_for_a_changing_schedule(qtbot):
    constant = _curves(qtbot, "none")
    assert not constant.plots["lr"].isVisible()
    assert constant.plots["lr"].width() < 1
    step = _curves(qtbot, "step")
    lr, loss = step.plots["lr"], step.plots["loss"]
    assert lr.isVisible() and lr.width() > 50
    assert lr.width() < loss.width()  # a narrow column
    step.set_runs(_runs("none"))
    qtbot.wait(20)
    assert not lr.isVisible() and lr.width() < 1


def test_big_counts_have_si_prefixes(qtbot):
    from designer.summary import BarChart

    chart = BarChart("parameters")
    qtbot.addWidget(chart)
    chart.resize(400, 300)
    chart.show()
    chart.ensure_built()
    chart.show_bars([3.5e8, 1.2e8], ["#2f7ed8", "#13a89e"], [[(0, "conv1"), (1, "fc")]])
    qtbot.wait(50)
    axis = chart.plot.getAxis("left")
    text = " ".join(axis.tickStrings([0, 1e8, 2e8, 3e8], axis.scale, 1e8)) + " " + axis.labelString()
    assert "M" in text and "e+08" not in text, text
