"""The worker's signal path under load, the inspection probes and the small views."""
import numpy as np
import torch

from designer.training.worker import TrainingSession
from engine import Design

from .conftest import small_cnn


class FakeTrainer:
    """The trainer's interface to the worker: a design snapshot, on_event, run and the controls."""

    def __init__(self, design, run):
        self.design, self._run = design.copy(), run
        self.on_event = None
        self.stop_requested = self.paused = False

    def run(self):
        return self._run(self.on_event)

    def stop(self):
        self.stop_requested, self.paused = True, False

    def pause(self):
        self.paused = True

    def resume(self):
        self.paused = False


def test_100000_events_cross_the_thread_queued_without_a_crash(qtbot, no_leaked_threads):
    """The PySide6 6.12.0/Python 3.11 trap aborts after a few hundred emits; this path must hold."""
    n = 100_000

    def flood(emit):
        for i in range(n):
            emit({"i": i, "ok": True, "none": None})
        return None

    received = []
    session = TrainingSession(FakeTrainer(small_cnn(), flood))
    session.trainer_event.connect(lambda e: received.append(e["i"]))
    with qtbot.waitSignal(session.finished, timeout=120_000) as done:
        session.start()
    assert done.args[0] == "finished"
    qtbot.waitUntil(lambda: len(received) == n, timeout=60_000)
    assert received[:3] == [0, 1, 2] and received[-1] == n - 1  # queued: in order, none lost
    assert session.shutdown()


def test_a_flood_of_events_wakes_the_ui_thread_a_few_times_and_the_last_come_before_the_end(qtbot, no_leaked_threads):
    """Each wake-up of the UI thread takes the GIL from the trainer: events arrive in batches,
    at most about every DELIVERY_INTERVAL_S, and whatever is still waiting when the run ends is
    delivered before ``finished``."""
    import time

    from designer.training.worker import DELIVERY_INTERVAL_S
    n = 20_000

    def flood(emit):
        for i in range(n):
            emit(i)
            if i % 1000 == 0:
                time.sleep(0.005)  # a trainer between batches
        return None

    received, at_finish = [], []
    session = TrainingSession(FakeTrainer(small_cnn(), flood))
    worker = session.worker
    session.trainer_event.connect(received.append)
    session.finished.connect(lambda *_: at_finish.append(len(received)))
    started = time.perf_counter()
    with qtbot.waitSignal(session.finished, timeout=60_000):
        session.start()
    elapsed = time.perf_counter() - started
    assert received == list(range(n)) and at_finish == [n]
    assert 1 <= worker.deliveries <= elapsed / DELIVERY_INTERVAL_S + 3, (worker.deliveries, elapsed)
    assert session.shutdown()


def test_a_runner_that_raises_finishes_as_failed(qtbot, no_leaked_threads):
    def broken(emit):
        raise RuntimeError("boom")

    session = TrainingSession(FakeTrainer(small_cnn(), broken))
    with qtbot.waitSignal(session.finished, timeout=10_000) as done:
        session.start()
    assert done.args[0] == "failed" and "boom" in done.args[1]
    assert session.shutdown()


def test_the_run_trains_a_snapshot_of_the_design():
    from designer.training.engine_adapter import make_trainer
    from engine.training import TrainConfig
    design = small_cnn()
    session = TrainingSession(make_trainer(design, TrainConfig()))
    linear = next(n for n, node in design.nodes.items() if node.block == "linear")
    design.set_params(linear, {"out_features": 3})
    assert session.design.nodes[linear].params["out_features"] == 10
    assert session.design is session.trainer.design  # one copy: the trainer's


def test_the_session_forwards_its_controls_to_the_trainer():
    trainer = FakeTrainer(small_cnn(), lambda emit: None)
    session = TrainingSession(trainer)
    session.pause()
    assert trainer.paused and session.paused
    session.resume()
    assert not trainer.paused and not session.paused
    session.stop()
    assert trainer.stop_requested


def test_convolutions_follow_a_shift_and_pooling_only_roughly():
    from designer.training.inspection import equivariance_probe, shift
    torch.manual_seed(0)
    d = Design("probe", num_classes=2)
    ids = d.chain(("input", {"shape": [1, 24, 24]}), ("conv2d", {"out_channels": 4, "kernel": 3, "padding": 1}),
                  ("maxpool2d", {"kernel": 2}), "flatten", ("linear", {"out_features": 2}), "output")
    x = torch.zeros(1, 1, 24, 24)
    x[0, 0, 8:14, 6:12] = 1.0
    x[0, 0, 10, 9] = 0.3
    rows = {r.node_id: r for r in equivariance_probe(d, None, x, 0, 2)}
    assert rows[ids[1]].error < 1e-5  # conv: the map moves exactly with the input
    odd = {r.node_id: r for r in equivariance_probe(d, None, x, 0, 1)}
    assert odd[ids[2]].scale == 0.5 and odd[ids[2]].error > 0.01  # pool: a 1-px shift is half a pixel there
    assert torch.equal(shift(x, 0, 2)[..., 2:], x[..., :-2])


def test_top_k_and_confusion():
    from designer.training.inspection import confusion_matrix, top_k
    top = top_k(np.array([0.0, 3.0, 1.0, 2.0, -1.0, 0.5]), list("abcdef"))
    assert [c for c, _ in top] == ["b", "d", "c", "f", "a"] and abs(sum(p for _, p in top)) < 1.0
    m = confusion_matrix(np.array([0, 1, 1]), np.array([0, 0, 1]), 2)
    assert m.tolist() == [[1, 1], [0, 1]]


def test_schedule_preview_uses_the_trainers_schedule():
    from designer.training.schedule_preview import lr_curve
    from engine.training.config import TrainConfig
    x, y = lr_curve(TrainConfig(lr=0.1, epochs=10, schedule="cosine", warmup_epochs=1), steps_per_epoch=20)
    assert x[-1] < 10 and y.max() <= 0.1 + 1e-12 and y[-1] < 0.01
    assert y[0] < y[np.searchsorted(x, 1.0)]  # warm-up rises first
    x, y = lr_curve(TrainConfig(lr=0.1, epochs=10, schedule="step", step_size=5), steps_per_epoch=20)
    assert np.isclose(y[x < 5], 0.1).all() and np.isclose(y[x >= 5], 0.01).all()


def test_smoothing_is_incremental_and_matches_the_full_pass():
    from designer.training.plots import IncrementalSmoother, smooth
    y = np.random.default_rng(0).random(500)
    inc = IncrementalSmoother(0.9)
    inc.extend(y[:200])
    np.testing.assert_allclose(inc.extend(y), smooth(y, 0.9))
    assert smooth(np.array([5.0, 5.0]), 0.9)[0] == 5.0  # bias-corrected: no drag towards 0


def test_curves_keep_downsampling_and_show_overlays(qtbot):
    from designer.training.plots import CurvesView
    from engine.runs import RunHistory
    view = CurvesView()
    qtbot.addWidget(view)
    history = RunHistory()
    a, b = history.new_run(small_cnn(), {}), history.new_run(small_cnn(), {})
    for i in range(20_000):
        a.add_point("train_loss", i / 1000, 1 / (1 + i))
    b.add_point("val_loss", 1, 0.5)
    view.set_runs([a, b], current=b.run_id)
    assert view.point_count("train_loss", a.run_id) == 20_000
    assert view.point_count("val_loss", b.run_id) == 1
    plot = view.plots["loss"]
    item = view._items[(a.run_id, "train_loss")]
    assert item.opts["autoDownsample"] and item.opts["clipToView"] and item.opts["downsampleMethod"] == "peak"
    view.log_loss.setChecked(True)
    assert plot.getAxis("left").logMode


def test_kernel_playground_shows_the_output_shape(qtbot):
    from designer.training.kernel_playground import KernelPlayground
    pg_ = KernelPlayground()
    qtbot.addWidget(pg_)
    pg_.set_image(np.zeros((28, 28)))
    pg_.stride.setValue(2)
    pg_.padding.setValue(1)
    assert "output 14×14" in pg_.shape_label.text()
    pg_.kernel_text.setPlainText("1 2\n3")
    assert "different lengths" in pg_.error_label.text()
    pg_.kernel_choice.setCurrentText("box blur")
    assert pg_.last_output.shape == (14, 14) and not pg_.error_label.text()
