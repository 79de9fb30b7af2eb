"""Run ▸ Sweep… (issue 19 item 3, the app): the settings editor shows engine.sweep's messages at
the row, a real 2×2 sweep fills the comparison table, the curves and the parallel-coordinates
plot, the table sorts numerically, Stop skips the runs not started, closing asks, the app's
shutdown never hangs, and "Use the best settings" sets the Training panel."""
from __future__ import annotations

import math
import os
import time

import pytest
from PySide6.QtCore import QPointF, Qt

from engine.sweep import Sweep
from engine.training import TrainConfig
from engine.training.rundir import read_metrics

SHOTS = os.environ.get("SWEEP_SHOTS")  # a folder: the finished dialog is grabbed there, light and dark


# -- the axes of the parallel-coordinates plot (plain arithmetic) ---------------------------------
def test_axes_are_log_linear_or_categorical():
    from designer.training.parallel_coordinates import make_axis

    lr = make_axis("lr", [1e-3, 1e-2, 1e-1])
    assert lr.kind == "log"
    assert [round(lr.position(v), 6) for v in (1e-3, 1e-2, 1e-1)] == [0.0, 0.5, 1.0]
    batch = make_axis("batch_size", [32, 64, 128])
    assert batch.kind == "linear"  # 4× is not a span for a log scale
    assert batch.position(64) == pytest.approx(1 / 3)
    opt = make_axis("optimizer", ["sgd", "adam", "adamw"])
    assert opt.kind == "category"
    assert [opt.position(v) for v in ("sgd", "adam", "adamw")] == [0.0, 0.5, 1.0]
    assert [label for _, label in opt.ticks(["sgd", "adam", "adamw"])] == ["sgd", "adam", "adamw"]
    flags = make_axis("nesterov", [True, False])
    assert flags.kind == "category"  # a flag is a choice, not the numbers 0 and 1
    one = make_axis("lr", [0.01])
    assert one.position(0.01) == 0.5  # a single value sits in the middle, not at an edge
    accuracy = make_axis("best val acc", [0.5, 0.75], percent=True)
    assert [label for _, label in accuracy.ticks([0.5, 0.75])] == ["50.0%", "75.0%"]


def test_tick_labels_that_would_overlap_are_dropped_but_the_ends_kept():
    from designer.training.parallel_coordinates import spaced

    ticks = [(0.0, "64.3%"), (0.9, "80.8%"), (0.97, "82.7%"), (1.0, "83.3%"), (0.5, "74%")]
    assert spaced(ticks) == [(0.0, "64.3%"), (0.5, "74%"), (0.9, "80.8%"), (1.0, "83.3%")]


def test_many_values_get_a_few_spread_ticks_not_one_each():
    from designer.training.parallel_coordinates import MAX_TICKS, make_axis

    values = [10 ** (-4 + i * 0.1) for i in range(31)]
    axis = make_axis("lr", values)
    ticks = axis.ticks(values)
    assert len(ticks) == MAX_TICKS
    assert ticks[0][0] == pytest.approx(0) and ticks[-1][0] == pytest.approx(1)


def test_plot_draws_finished_runs_only_with_categorical_and_variant_axes(qtbot):
    from designer.training.parallel_coordinates import ParallelCoordinates
    from engine.sweep import PointResult, parse_grid, plan_points

    grid = parse_grid(["lr=1e-4,1e-2", "optimizer=sgd,adam", "template=lenet5,alexnet"])
    results = [PointResult(i, p, f"/nowhere/{i}", status="completed", best_val_accuracy=0.5 + i / 20)
               for i, p in enumerate(plan_points(grid))]
    results[3].status, results[3].best_val_accuracy = "failed", None
    results[4].status = "running"  # a running run's accuracy is not its best yet
    plot = ParallelCoordinates()
    qtbot.addWidget(plot)
    plot.set_results(list(grid), results)
    assert [a.kind for a in plot.axes] == ["log", "category", "category", "linear"]
    assert sorted(plot.lines) == [0, 1, 2, 5, 6, 7]
    assert plot.best_index == 7
    ys = plot.lines[7].getData()[1]
    expected = [plot.axes[0].position(results[7].settings["lr"]), plot.axes[1].position(results[7].settings["optimizer"]),
                plot.axes[2].position(results[7].settings["template"]), 1.0]
    assert list(ys) == pytest.approx(expected)
    plot.set_selected([0])
    widths = {i: line.opts["pen"].widthF() for i, line in plot.lines.items()}
    assert widths[7] > widths[1] and widths[0] > widths[1]  # the best and the selected stand out
    assert plot.lines[7].opts["pen"].color().alpha() == 255  # the best is never faded


# -- the settings editor ---------------------------------------------------------------------------
def test_settings_editor_shows_the_engines_message_at_the_row(qtbot):
    from designer.training.sweep_dialog import SettingsEditor

    editor = SettingsEditor()
    qtbot.addWidget(editor)
    lr, batch = editor.rows
    assert editor.grid == {"lr": [0.001, 0.01], "batch_size": [32, 64]}
    assert editor.messages() == []

    lr.values.setText("1e-3, fast")
    assert lr.message.text() == "lr=fast: not a number"
    assert batch.message.text() == ""  # the other row is fine and says nothing
    assert editor.grid is None

    batch.values.setText("32, 3.5")
    assert "takes a whole number" in batch.message.text()
    lr.values.setText("")
    assert "type the values of lr" in lr.message.text()
    lr.values.setText("0.1, 0.1")
    assert "lists a value twice" in lr.message.text()

    lr.values.setText("0.1, 0.01")
    batch.setting.setCurrentText("lr")
    batch.values.setText("0.5")
    assert "given twice" in batch.message.text() and lr.message.text() == ""

    batch.setting.setCurrentText("template")
    batch.values.setText("lenet5, nosuch")
    assert "no such template" in batch.message.text()
    batch.values.setText("lenet5")
    assert editor.messages() == [] and editor.grid == {"lr": [0.1, 0.01], "template": ["lenet5"]}

    row = editor.add_row("width", "0")
    assert "above 0" in row.message.text()
    row.remove.click()
    assert len(editor.rows) == 2 and editor.grid is not None


def test_the_setting_combo_offers_the_engines_settings_and_the_variants():
    from designer.training.sweep_dialog import setting_names
    from engine.sweep import sweepable_defaults

    names = setting_names()
    assert set(sweepable_defaults()) <= set(names)
    assert names[-2:] == ["template", "width"]
    assert "resume" not in names and "init_weights" not in names


# -- the dialog on a real sweep --------------------------------------------------------------------
def _dialog(qtbot, controller, epochs=1):
    from designer.training.sweep_dialog import SweepDialog

    controller.panel.epochs.setValue(epochs)
    dialog = SweepDialog(controller)
    qtbot.addWidget(dialog)
    dialog.show()
    return dialog


def _set_rows(dialog, rows):
    editor = dialog.editor
    while len(editor.rows) > len(rows):
        editor.rows[-1].remove.click()
    while len(editor.rows) < len(rows):
        editor.add_row("seed", "1")
    for row, (name, values) in zip(editor.rows, rows):
        row.setting.setCurrentText(name)
        row.values.setText(values)
    assert editor.messages() == []


def _wait_finished(qtbot, dialog, timeout):
    qtbot.waitUntil(lambda: not dialog.is_running(), timeout=timeout)


@pytest.mark.slow
def test_a_2x2_sweep_fills_the_table_the_curves_and_the_plot(qtbot, training_app):
    controller, _container = training_app
    dialog = _dialog(qtbot, controller)
    _set_rows(dialog, [("lr", "1e-3, 0.05"), ("batch_size", "32, 64")])
    dialog.parallel.setValue(2)
    assert "4 runs" in dialog.plan.text() and "2 at a time" in dialog.plan.text()
    assert dialog.start_button.isEnabled()
    seen_running = []
    dialog.point_changed.connect(lambda r: seen_running.append(r.index) if r.status == "running" else None)
    started = time.monotonic()
    dialog.start()
    assert dialog.is_running() and not dialog.start_button.isEnabled() and dialog.stop_button.isEnabled()
    _wait_finished(qtbot, dialog, 240_000)
    print(f"2x2 sweep, 2 at a time: {time.monotonic() - started:.1f} s")
    results = dialog.model.results
    assert [r.status for r in results] == ["completed"] * 4, [r.message for r in results]
    assert sorted(seen_running) == [0, 1, 2, 3]  # live updates reached the UI thread
    assert dialog.coordinates.line_count == 4
    # Every number shown is the run folder's own (the trainer's metrics.jsonl, real torch).
    for r in results:
        rows = read_metrics(r.run_dir)
        assert r.epochs == len(rows) == 1
        assert r.best_val_accuracy == max(row["val_accuracy"] for row in rows)
        shown = dialog.model.data(dialog.model.index(r.index, dialog.model.columns().index("best val acc")))
        assert shown == f"{r.best_val_accuracy:.2%}"
    best = max(results, key=lambda r: r.best_val_accuracy)
    assert dialog.model.best_index == dialog.coordinates.best_index == best.index
    assert dialog.curves.shown == {0: 1, 1: 1, 2: 1, 3: 1}  # nothing selected: every run's curves
    assert dialog.best_button.isEnabled()

    # Sorting by accuracy is numeric, highest first when descending.
    column = dialog.model.columns().index("best val acc")
    dialog.table.sortByColumn(column, dialog.table.horizontalHeader().sortIndicatorOrder().DescendingOrder)
    order = [dialog.proxy.data(dialog.proxy.index(row, column), role=dialog.proxy.sortRole())
             for row in range(dialog.proxy.rowCount())]
    assert order == sorted((r.best_val_accuracy for r in results), reverse=True)
    lr_column = dialog.model.columns().index("lr")
    dialog.table.sortByColumn(lr_column, dialog.table.horizontalHeader().sortIndicatorOrder().AscendingOrder)
    lrs = [dialog.proxy.data(dialog.proxy.index(row, lr_column)) for row in range(4)]
    assert lrs == ["0.001", "0.001", "0.05", "0.05"]

    # Table selection and the plot agree; a line clicked selects its row.
    dialog.select_point(2)
    assert dialog.selected_indices() == [2]
    assert dialog.curves.shown == {2: 1}
    assert dialog.coordinates.lines[2].opts["pen"].widthF() > dialog.coordinates.lines[
        next(i for i in range(4) if i not in (2, best.index))].opts["pen"].widthF()

    # Hover in step: a line's shape is its stroke (not its bounding box, which covers every line),
    # a hovered line tints its row, a hovered row thickens its line.
    line = dialog.coordinates.lines[1]
    ys = line.getData()[1]
    on_line = line.mapToScene(QPointF(0.5, (ys[0] + ys[1]) / 2))
    off_line = line.mapToScene(QPointF(0.5, (ys[0] + ys[1]) / 2 + (0.4 if ys[0] + ys[1] < 1 else -0.4)))
    assert line.shape().contains(line.mapFromScene(on_line))
    assert not line.shape().contains(line.mapFromScene(off_line))

    class Hover:
        def __init__(self, exit_):
            self.exit_ = exit_

        def isExit(self):  # noqa: N802 - pyqtgraph's name
            return self.exit_

    line.hoverEvent(Hover(False))
    background = dialog.model.data(dialog.model.index(1, 0), Qt.ItemDataRole.BackgroundRole)
    assert background is not None and dialog.model.data(dialog.model.index(0, 0), Qt.ItemDataRole.BackgroundRole) is None
    line.hoverEvent(Hover(True))
    assert dialog.model.data(dialog.model.index(1, 0), Qt.ItemDataRole.BackgroundRole) is None
    dialog.table.entered.emit(dialog.proxy.mapFromSource(dialog.model.index(3, 0)))
    assert dialog.coordinates.hovered == 3
    dialog.coordinates.set_hovered(-1)

    if SHOTS:
        _screenshots(qtbot, dialog, "finished")

    # Use the best: the panel shows its settings.
    text = dialog.use_best()
    panel = controller.panel
    assert math.isclose(panel.lr.value(), best.settings["lr"])
    assert panel.batch_size.value() == best.settings["batch_size"]
    assert panel.config().epochs == 1  # the rest of the panel is kept
    assert "Training panel now has" in text and "variant" not in text


@pytest.mark.slow
def test_stop_leaves_the_runs_not_started_stopped_and_closing_asks(qtbot, training_app):
    controller, _container = training_app
    dialog = _dialog(qtbot, controller, epochs=30)
    _set_rows(dialog, [("lr", "0.01, 0.02, 0.03")])
    dialog.start()
    qtbot.waitUntil(lambda: dialog.model.results[0].status == "running", timeout=60_000)
    epochs_column = dialog.model.columns().index("epochs")
    assert dialog.model.data(dialog.model.index(0, epochs_column)) == "0/30"  # progress of a running run
    if SHOTS:  # mid-sweep, with a few epochs drawn
        qtbot.waitUntil(lambda: dialog.model.progress.get(0, (0,))[0] >= 3, timeout=90_000)
        _screenshots(qtbot, dialog, "running")
    dialog.ask_to_stop = lambda: False
    dialog.close()
    assert dialog.isVisible() and dialog.is_running()  # "no": the sweep goes on
    dialog.ask_to_stop = lambda: True
    dialog.close()
    assert not dialog.isVisible()
    _wait_finished(qtbot, dialog, 60_000)
    statuses = [r.status for r in dialog.model.results]
    assert statuses[1:] == ["stopped", "stopped"]
    assert statuses[0] in ("stopped", "completed")
    assert not dialog.stop_button.isEnabled() and dialog.start_button.isEnabled()


@pytest.mark.slow
def test_shutdown_kills_runs_that_do_not_stop_in_time(qtbot, training_app):
    controller, _container = training_app
    dialog = _dialog(qtbot, controller, epochs=50)
    _set_rows(dialog, [("lr", "0.01, 0.02")])
    dialog.start()
    qtbot.waitUntil(lambda: dialog.model.results[0].status == "running", timeout=60_000)
    started = time.monotonic()
    dialog.shutdown(timeout_ms=1)  # no time to finish a batch: the runs are killed
    assert time.monotonic() - started < 8
    assert dialog.task.thread.isFinished()
    _wait_finished(qtbot, dialog, 10_000)
    assert [r.status for r in dialog.sweep.results] == ["stopped", "stopped"]


# -- the best run ----------------------------------------------------------------------------------
def test_use_the_best_of_a_variant_applies_the_training_settings_and_says_so(qtbot, training_app, tmp_path):
    controller, _container = training_app
    dialog = _dialog(qtbot, controller)
    points = [{"lr": 0.02, "width": 2.0, "weight_decay": 0.001}, {"lr": 0.5, "width": 0.5, "weight_decay": 0.0}]
    dialog.sweep = Sweep(controller.document.design, TrainConfig(), points, tmp_path / "s")
    dialog.sweep.results[0].best_val_accuracy = 0.9
    dialog.sweep.results[1].best_val_accuracy = 0.4
    text = dialog.use_best()
    assert math.isclose(controller.panel.lr.value(), 0.02)
    assert "Only the training settings were applied" in text and "width=2" in text
    assert "no field for weight_decay=0.001" in text  # the panel cannot show it: said, not hidden


def test_use_the_best_can_open_the_variant_as_a_new_design(qtbot, training_app, tmp_path):
    controller, _container = training_app

    class Files:
        def maybe_discard(self):
            return True

    class Window:
        files = Files()

    dialog = _dialog(qtbot, controller)
    dialog.window = Window()
    dialog.ask_open_variant = lambda label: True
    before = {n.id: n.params.get("out_channels") for n in controller.document.design.nodes.values()}
    dialog.sweep = Sweep(controller.document.design.copy(), TrainConfig(), [{"width": 2.0}], tmp_path / "s")
    dialog.sweep.results[0].best_val_accuracy = 0.9
    text = dialog.use_best()
    assert "open as a new, unsaved design" in text
    after = {n.id: n.params.get("out_channels") for n in controller.document.design.nodes.values()}
    widened = [k for k, v in before.items() if v is not None]
    assert widened and all(after[k] == 2 * before[k] for k in widened)


def _screenshots(qtbot, dialog, name):
    from PySide6.QtWidgets import QApplication

    from designer import theme as themes

    os.makedirs(SHOTS, exist_ok=True)
    try:
        for mode in ("light", "dark"):
            themes.apply(QApplication.instance(), themes.current(mode == "dark"))
            qtbot.wait(100)
            assert dialog.grab().save(os.path.join(SHOTS, f"sweep-{name}-{mode}.png"))
    finally:
        themes.apply(QApplication.instance(), themes.current(False))


# -- in the main window --------------------------------------------------------------------------
@pytest.mark.slow
def test_run_menu_opens_the_sweep_and_closing_the_window_stops_it(qtbot, tmp_path, no_leaked_threads):
    from PySide6.QtCore import QSettings

    from designer.document import Document
    from designer.main_window import MainWindow

    from .conftest import small_cnn

    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    window = MainWindow(Document(small_cnn()), settings=settings, recovery_path=tmp_path / "recovery.json")
    qtbot.addWidget(window)
    window.show()
    controller = window.training
    controller.runs_root = controller.history.root = tmp_path / "runs"
    action = window.actions_by_name["sweep"]
    assert action in window.menus["Run"].actions()
    action.trigger()  # opens once torch has loaded in the background
    qtbot.waitUntil(lambda: getattr(window, "sweep_dialog", None) is not None, timeout=120_000)
    dialog = window.sweep_dialog
    assert dialog.isVisible() and not dialog.isModal()
    action.trigger()
    assert window.sweep_dialog is dialog  # one dialog per window: its results stay
    controller.panel.epochs.setValue(50)
    _set_rows(dialog, [("lr", "0.01, 0.02")])
    dialog.start()
    qtbot.waitUntil(lambda: dialog.model.results[0].status == "running", timeout=60_000)
    window.document.undo_stack.setClean()  # nothing to ask about on close
    started = time.monotonic()
    window.close()
    qtbot.waitUntil(lambda: dialog.task.thread.isFinished(), timeout=20_000)
    assert time.monotonic() - started < 15
    assert [r.status for r in dialog.sweep.results] == ["stopped", "stopped"]
