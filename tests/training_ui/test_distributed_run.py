"""A run of two processes from the app (issue 19, item 1): the panel's Processes setting launches
torchrun, and the curves, run record and weights come back as from a local run."""
from __future__ import annotations

import pytest

from engine.training import events as ev


@pytest.mark.slow
def test_two_processes_from_the_panel_fill_the_curves_and_the_record(qtbot, training_app):
    controller, _window = training_app
    panel = controller.panel
    panel.epochs.setValue(2)
    panel.batch_size.setValue(64)
    panel.processes.setValue(2)
    seen = []
    panel.start_button.click()
    assert controller.session is not None
    controller.session.trainer_event.connect(seen.append)
    qtbot.waitUntil(lambda: not controller.session.is_running(), timeout=240_000)
    qtbot.waitUntil(lambda: controller.trained_state is not None, timeout=30_000)
    record = controller.record
    assert record.status == "finished", [e for e in seen if isinstance(e, ev.Error)]
    assert len(record.curves["val_acc"]) == 2 and len(record.curves["train_loss"]) >= 2
    assert any(isinstance(e, ev.RunStarted) for e in seen)
    assert "Run finished" in panel.status.text()
    # the run folder is a local run's, plus the stream rank 0 wrote and torchrun's log
    from pathlib import Path
    run_dir = Path(controller.session.run_dir)
    assert (run_dir / "weights.safetensors").is_file() and (run_dir / "events.jsonl").is_file()
    assert (run_dir / "launch" / "torchrun.log").is_file()


def test_a_batch_the_processes_cannot_share_is_refused_before_starting(qtbot, training_app):
    controller, _window = training_app
    controller.panel.batch_size.setValue(30)
    controller.panel.processes.setValue(4)
    controller.panel.start_button.click()
    assert controller.session is None or not controller.session.is_running()
    assert "cannot be shared by 4 processes: choose a multiple of 4" in controller.panel.error.text()
