"""A run record learns from the trainer's events, without Qt or torch: a synthetic run."""
import numpy as np
import pytest

from engine import Design
from engine.runs import RunHistory
from engine.training import events as ev


def record():
    d = Design("tiny", num_classes=3)
    d.chain(("input", {"shape": [4]}), ("linear", {"out_features": 3}), "output")
    return RunHistory().new_run(d, {"epochs": 3})


def batch(epoch, done, loss, acc, lr=0.1, batches=4):
    return ev.BatchProgress(epoch, done, batches, epoch * batches + done, loss, acc, lr, 100.0, 1.0, 2.0)


def epoch_end(epoch, val_acc, confusion=None):
    return ev.EpochEnd(epoch, 1.0 / (epoch + 1), 0.5 + 0.1 * epoch, 1.2 / (epoch + 1), val_acc, None, 0.1, 2.0,
                       True, confusion)


def test_a_whole_run_of_events_fills_the_curves_and_the_summary():
    r = record()
    run = [ev.RunStarted("cpu", "the CPU (no GPU found)", 80, 20, 4, 3, 0, 15, 0, None),
           batch(0, 2, 1.5, 0.25), batch(0, 4, 1.0, 0.5), epoch_end(0, 0.40),
           ev.Warning("resized", "resized"), ev.Paused(4), ev.Resumed(4),
           batch(1, 4, 0.8, 0.6, lr=0.05), epoch_end(1, 0.70, np.eye(3, dtype=np.int64)),
           ev.FeatureMaps(1, 8, np.zeros((4,), np.float32), {}, np.ones(3) / 3),
           batch(2, 4, float("nan"), 0.6), epoch_end(2, 0.65),
           ev.Finished("completed", 3, 2, 0.70, [], None, 6.5)]
    for event in run:
        r.apply(event)
    assert r.curves["train_loss"].to_list() == [[0.5, 1.5], [1.0, 1.0], [2.0, 0.8]]  # NaN skipped
    assert r.curves["train_acc"].x.tolist() == [0.5, 1.0, 2.0, 3.0]
    assert r.curves["lr"].y.tolist() == [0.1, 0.1, 0.05, 0.1]
    assert r.curves["val_acc"].to_list() == [[1.0, 0.40], [2.0, 0.70], [3.0, 0.65]]
    assert r.curves["val_loss"].x.tolist() == [1.0, 2.0, 3.0]
    assert r.curves["train_loss_epoch"].y.tolist() == pytest.approx([1.0, 0.5, 1 / 3])
    assert r.curves["train_acc_epoch"].y.tolist() == pytest.approx([0.5, 0.6, 0.7])
    assert r.summary == {"device": "cpu", "best_val_accuracy": 0.70, "reason": "completed", "epochs_done": 3,
                         "best_epoch": 2, "seconds": 6.5}
    assert r.status == "running" and r.message == ""  # the thread's end sets the status
    r.finish("finished")
    assert r.status == "finished" and r.message == ""
    assert r.from_dict(r.to_dict()).summary == r.summary  # plain data: saved and read back


def test_an_error_is_the_record_message_and_a_failed_run_keeps_it():
    r = record()
    for event in [batch(0, 1, 2.0, 0.1), ev.Error("the loss became NaN", "non_finite"),
                  ev.Finished("non_finite", 0, None, None, [], None, 0.3)]:
        r.apply(event)
    assert r.message == "the loss became NaN"
    assert r.summary["reason"] == "non_finite" and r.summary["best_epoch"] is None
    assert "best_val_accuracy" not in r.summary and "val_acc" not in r.curves
    r.finish("failed", "RuntimeError: boom")
    assert r.status == "failed" and r.message == "RuntimeError: boom"


def test_a_stopped_run_without_message_is_stopped():
    r = record()
    r.apply(ev.Finished("stopped", 0, None, None, [], None, 0.1))
    r.finish("stopped")
    assert r.status == "stopped" and r.summary["reason"] == "stopped"
