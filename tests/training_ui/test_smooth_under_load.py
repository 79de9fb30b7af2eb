"""Smooth under load (issue 15 item 8): what used to stall the UI thread during and after a run.

- The Curves view makes new curves in a timed redraw only within a few ms (at least one): a run's
  first points made four curves with their legend entries at once (the longest redraw of a run). Shown on request
  (the tab brought forward, runs chosen for overlay) everything is drawn at once.
- torch's first-use imports (the first optimizer imports ``torch._dynamo``, about 900 modules)
  happen in the background import, frozen out of the cycle collector's sight, not in the first
  run: there they stalled the UI, and the objects they left made each collection after a run
  walk 150,000 more objects on the UI thread.
"""
import subprocess
import sys
import textwrap

from engine.runs import RunHistory

from .conftest import small_cnn


def _run_with_first_points(history=None):
    run = (history or RunHistory()).new_run(small_cnn(), {"epochs": 2})
    for series in ("train_loss", "train_acc", "train_loss_epoch", "val_loss", "train_acc_epoch", "val_acc"):
        run.add_point(series, 1.0, 0.5)
    return run


def _curve_count(view) -> int:
    return sum(len(p.curves) for p in view.plots.values())


def _curves_view(qtbot):
    from designer.training.plots import CurvesView
    view = CurvesView()
    qtbot.addWidget(view)
    view.resize(1000, 400)
    view.show()
    view.grid.ensure_built()
    return view


def _new_run_in_view(qtbot):
    view = _curves_view(qtbot)
    view.set_runs([], current=None)
    run = _run_with_first_points()
    view._runs, view._current = [run], run.run_id  # as a new run's record fills during training
    view.mark_dirty()
    return view


def test_a_timed_redraw_makes_new_curves_only_within_its_budget(qtbot):
    view = _new_run_in_view(qtbot)
    counts = []
    for _ in range(8):
        view._redraw_if_dirty(new_curves_ms=0.0)  # a slow machine: every curve takes the budget
        counts.append(_curve_count(view))
    assert counts[:6] == [1, 2, 3, 4, 5, 6], counts  # at least one a tick, never all at once
    assert counts[-1] == 6 and not view._dirty  # all drawn, nothing left pending

    view = _new_run_in_view(qtbot)
    view._redraw_if_dirty(new_curves_ms=10_000.0)  # a fast one: all within the budget
    assert _curve_count(view) == 6


def test_a_run_that_ended_is_drawn_at_once(qtbot):
    view = _new_run_in_view(qtbot)
    view._redraw_if_dirty(new_curves_ms=0.0)
    assert _curve_count(view) == 1
    view.catch_up()  # what the controller does when the run ends
    assert _curve_count(view) == 6 and not view._dirty


def test_shown_or_chosen_runs_are_drawn_at_once(qtbot):
    view = _curves_view(qtbot)
    history = RunHistory()
    runs = [_run_with_first_points(history), _run_with_first_points(history)]
    view.set_runs(runs, current=runs[0].run_id)  # the user chose them in the Runs table
    assert _curve_count(view) == 12

    view.hide()
    third = _run_with_first_points(history)
    view._runs.append(third)
    view.mark_dirty()
    view.show()  # the tab brought forward
    assert _curve_count(view) == 18


def test_the_background_import_leaves_nothing_for_the_first_optimizer_to_import():
    script = textwrap.dedent("""
        import gc, sys
        import torch
        from designer.training import torch_runtime
        assert "torch._dynamo" not in sys.modules, "torch imports it eagerly now: this test is moot"
        frozen = gc.get_freeze_count()
        torch_runtime._warm_first_use()
        assert gc.get_freeze_count() > frozen + 50_000, (frozen, gc.get_freeze_count())
        before = set(sys.modules)
        torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
        new = set(sys.modules) - before
        assert not new, sorted(new)[:10]
        print("ok")
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and "ok" in done.stdout, done.stderr[-2000:]


def test_a_run_started_while_torch_warms_waits_for_it(monkeypatch):
    """The warm-up ends with gc.freeze: a run's model made before then would never be collected."""
    import threading

    from designer.training import torch_runtime
    from designer.training.worker import TrainingWorker

    class Trainer:  # just enough of one: records whether the warm-up was over when it ran
        design = on_event = None
        stop_requested = False

        def run(self):
            self.warm_when_run = torch_runtime._first_use_warmed.is_set()

    warmed = threading.Event()
    monkeypatch.setattr(torch_runtime, "_first_use_warmed", warmed)
    monkeypatch.setattr(torch_runtime, "_first_use_warming", True)
    trainer = Trainer()
    worker = TrainingWorker(trainer)
    thread = threading.Thread(target=worker.run)
    thread.start()
    thread.join(0.3)
    assert thread.is_alive()  # waiting for the warm-up
    warmed.set()
    thread.join(10)
    assert not thread.is_alive() and trainer.warm_when_run

    monkeypatch.setattr(torch_runtime, "_first_use_warming", False)  # never started: no wait
    monkeypatch.setattr(torch_runtime, "_first_use_warmed", threading.Event())
    trainer = Trainer()
    TrainingWorker(trainer).run()
    assert trainer.warm_when_run is False


def test_a_starting_run_gets_its_curves_before_its_first_points(qtbot):
    """Made during training, each new curve and legend entry was a redraw's costliest part."""
    view = _curves_view(qtbot)
    history = RunHistory()
    finished = _run_with_first_points(history)
    finished.status = "finished"
    starting = history.new_run(small_cnn(), {"epochs": 2})  # no points yet
    assert starting.status == "running"
    view.set_runs([finished, starting], current=starting.run_id)
    mine = [key for key in view._items if key[0] == starting.run_id]
    assert len(mine) == 6  # loss and accuracy, batch, epoch and validation; no LR plot for a flat rate
    assert all(view._items[key].xData is None for key in mine)  # empty until points arrive

    ended = history.new_run(small_cnn(), {"epochs": 2})
    ended.status = "stopped"  # a run that ended before its first points gets none
    view.set_runs([ended], current=ended.run_id)
    assert not view._items


def test_epoch_markers_give_way_to_a_line_on_a_long_run(qtbot):
    from designer.training.plots import SYMBOLS_UP_TO

    view = _curves_view(qtbot)
    run = RunHistory().new_run(small_cnn(), {"epochs": 100})
    view.set_runs([run], current=run.run_id)
    item = view._items[(run.run_id, "val_loss")]
    for epoch in range(1, SYMBOLS_UP_TO + 1):
        run.add_point("val_loss", epoch, 1.0 / epoch)
    view.mark_dirty()  # as the controller does when points arrive
    view.catch_up()
    assert item.opts["symbol"] == "o" and len(item.xData) == SYMBOLS_UP_TO  # a short run marks each epoch
    run.add_point("val_loss", SYMBOLS_UP_TO + 1, 0.01)
    view.mark_dirty()
    view.catch_up()
    assert item.opts["symbol"] is None and len(item.xData) == SYMBOLS_UP_TO + 1
    assert view._items[(run.run_id, "train_loss")].opts["symbol"] is None  # per batch: never marked


def test_a_redraw_costs_its_painting_too(qtbot):
    """Qt paints a redraw once, after it; the paint's time counts toward the next interval."""
    view = _curves_view(qtbot)
    run = _run_with_first_points()
    view.set_runs([run], current=run.run_id)
    qtbot.waitUntil(view.grid.graphics.isVisible)  # (shown on the event loop's next turn)
    painted = []
    qtbot.waitUntil(lambda: painted.append(view.grid.take_paint_ms()) or painted[-1] > 0)  # its first paint
    assert view.grid.take_paint_ms() == 0.0  # taken: nothing painted since
    view.grid.graphics.viewport().repaint()
    assert view.grid.take_paint_ms() > 0


def test_a_costly_redraw_puts_the_next_one_off(qtbot, monkeypatch):
    """The curves take at most REDRAW_BUDGET of the UI thread: interval = cost / budget, between
    1/REDRAW_HZ and MAX_REDRAW_INTERVAL_MS (they stay live)."""
    import time

    from designer.training import plots
    view = _curves_view(qtbot)
    run = _run_with_first_points()
    view.set_runs([run], current=run.run_id)
    view.grid.take_paint_ms()

    def redraw_costing(ms):
        def redraw(_new_curves_ms=None):
            view._dirty = False
            end = time.thread_time() + ms / 1000
            while time.thread_time() < end:  # CPU time, as the view measures it
                pass
        return redraw

    cost = 0.3 * plots.MAX_REDRAW_INTERVAL_MS * plots.REDRAW_BUDGET  # well inside the bounds
    monkeypatch.setattr(view, "_redraw", redraw_costing(cost))
    view._cost_ms = 0.0
    view.mark_dirty()
    view._redraw_if_dirty()
    interval = view._timer.interval()
    assert 1000 // plots.REDRAW_HZ <= interval <= plots.MAX_REDRAW_INTERVAL_MS
    assert abs(interval - cost / plots.REDRAW_BUDGET) <= 0.5 * cost / plots.REDRAW_BUDGET

    monkeypatch.setattr(view, "_redraw", redraw_costing(50 * cost))
    view._cost_ms = 0.0
    view.mark_dirty()
    view._redraw_if_dirty()
    assert view._timer.interval() == plots.MAX_REDRAW_INTERVAL_MS  # never less than once a second


def test_tick_labels_of_a_short_plot_do_not_overlap(qtbot):
    """pyqtgraph labels 0, 0.2, … 1 even on a 60 px axis; they were drawn over each other."""
    from PySide6.QtGui import QFont, QFontMetricsF

    from designer.training.plots import _major_ticks
    view = _curves_view(qtbot)
    axis = view.plots["accuracy"].getAxis("left")
    line = QFontMetricsF(axis.style.get("tickFont") or QFont()).height()
    for pixels in (60, 90, 150):
        ticks = _major_ticks(axis, 0.0, 1.0, pixels)
        assert len(ticks) >= 2, (pixels, ticks)
        assert pixels / (len(ticks) - 1) >= 1.5 * line, (pixels, ticks)  # room for each label
    assert _major_ticks(axis, 0.0, 1.0, 25) == [0.0, 1.0]  # too short for two: still both ends
    assert [round(t, 6) for t in _major_ticks(axis, 0.0, 1.0, 400)] == [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]  # tall: as before
