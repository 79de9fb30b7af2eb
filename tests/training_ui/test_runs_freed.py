"""A finished run keeps its record and frees everything else (issue 13): its thread, worker,
trainer and model are garbage once it has finished, and the curves view holds items only for
the runs it shows, however many runs were made."""
import gc
import weakref

from engine.training import events as ev


def _run_once(qtbot, controller, refs):
    panel = controller.panel
    panel.start_button.click()
    session = controller.session
    trainer = weakref.ref(session.trainer)
    # (Not the QThread's wrapper: the no_leaked_threads fixture keeps every started thread for its
    # end-of-test check. The session lets go of it: session.thread is None below.)
    refs.update(trainer=trainer, worker=weakref.ref(session.worker))

    def on_event(event):  # holds the trainer weakly: the test itself must not keep the model alive
        if isinstance(event, ev.RunStarted) and trainer() is not None and trainer().model is not None:
            refs["model"] = weakref.ref(trainer().model)
    session.trainer_event.connect(on_event)
    qtbot.waitUntil(lambda: not session.is_running() and panel.start_button.isEnabled(), timeout=60_000)
    return session


def test_a_finished_run_frees_its_thread_worker_trainer_and_model(qtbot, training_app):
    controller, _ = training_app
    controller.panel.epochs.setValue(1)
    runs = []
    for _ in range(2):
        refs = {}
        session = _run_once(qtbot, controller, refs)
        runs.append(refs)
        assert controller.record.status == "finished"
        assert not session.is_running() and session.trainer is None and session.worker is None
        assert session.thread is None
        assert session.run_dir and session.design is controller.record.design  # what the run was stays
    gc.collect()
    for refs in runs:
        assert "model" in refs, "the run reported its start"
        alive = [name for name, ref in refs.items() if ref() is not None]
        assert not alive, f"a finished run still holds its {', '.join(alive)}"
    # The record keeps the curves and the result; the run's weights were read from its folder.
    record = controller.record
    assert len(record.curves["train_loss"]) > 0 and len(record.curves["val_acc"]) == 1
    assert record.summary["epochs_done"] == 1 and controller.trained_state


def test_plot_items_stay_bounded_after_many_runs(qtbot, training_app):
    from designer.training.plots import CURVES
    from designer.training.run_history import AUTO_OVERLAYS

    controller, _ = training_app
    views = controller.views
    views.setCurrentWidget(views.curves)
    controller.panel.epochs.setValue(1)
    counts = []
    for _ in range(AUTO_OVERLAYS + 3):
        _run_once(qtbot, controller, {})
        views.curves._redraw()
        counts.append(views.curves.item_count())
        curves = views.curves
        in_plots = sum(len(p.curves) for p in curves.plots.values())
        assert in_plots == len(curves._items), "every curve in a plot is one the view shows"
        assert len({run_id for run_id, _series in curves._items}) <= AUTO_OVERLAYS + 1
    assert counts[-1] == counts[-2] == counts[AUTO_OVERLAYS], f"plot items grow with the runs: {counts}"
    assert counts[-1] <= (AUTO_OVERLAYS + 1) * len(CURVES) * 2
    # The runs are all kept in the history; the older ones are just not overlaid any more.
    assert views.runs.count() == AUTO_OVERLAYS + 3 == len(controller.history.runs)
    assert len(views.runs.chosen_runs()) == AUTO_OVERLAYS + 1
