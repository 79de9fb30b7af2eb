"""Memory after N runs returns to within a few MB of after one (issue 13).

The model here has about 920,000 parameters: its weights and gradients alone are 7 MB a run
(15 MB with Adam's two moments), so a run that kept its model, optimizer or trainer alive (a reference from a
view, a signal connection, a cache keyed by run) shows as that many MB more of the C heap in use
(glibc's mallinfo2: torch's CPU tensors are allocated there; freed pages glibc keeps are not
counted, so fragmentation does not make the test flaky). Measured: +0.4 to +0.8 MB over three runs."""
import ctypes
import ctypes.util
import gc
import sys
import weakref

import pytest

from engine import Design
from engine.training import events as ev

MiB = 2 ** 20


class _MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]


def _c_heap_in_use():
    """Bytes glibc's allocator has handed out and not had back (None if not glibc 2.33+)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.mallinfo2.restype = _MallInfo2
    except (OSError, AttributeError):
        return None
    info = libc.mallinfo2()
    return info.uordblks + info.hblkhd


def _wide_mlp() -> Design:
    d = Design("wide mlp", num_classes=10)
    d.chain(("input", {"shape": [1, 8, 8]}), "flatten", ("linear", {"out_features": 12288}), "relu",
            ("linear", {"out_features": 10}), "output")
    return d


def _run(qtbot, controller) -> dict:
    """One run through the panel's Train button, left to finish and its after-run work (saving,
    reading the weights back, the filters) to settle; weak references to what it made."""
    panel = controller.panel
    panel.start_button.click()
    session = controller.session
    trainer = weakref.ref(session.trainer)
    refs = {"session": weakref.ref(session), "trainer": trainer}

    def on_event(event):  # holds the trainer weakly
        if isinstance(event, ev.RunStarted) and trainer() is not None and trainer().model is not None:
            refs["model"] = weakref.ref(trainer().model)
    session.trainer_event.connect(on_event)
    qtbot.waitUntil(lambda: not controller.session.is_running() and panel.start_button.isEnabled(), timeout=120_000)
    del session
    qtbot.waitUntil(lambda: not controller.jobs._running, timeout=30_000)
    qtbot.wait(300)
    gc.collect()
    return refs


@pytest.fixture
def five_runs(qtbot, training_app):
    """(controller, C heap in use in MB after each run, weak references of each run)."""
    if _c_heap_in_use() is None:
        pytest.skip("needs glibc's mallinfo2")
    controller, _ = training_app
    controller.document.replace_design(_wide_mlp())
    controller.panel.epochs.setValue(1)
    heap, runs = [], []
    for _ in range(5):
        runs.append(_run(qtbot, controller))
        assert controller.record.status == "finished", controller.record.message
        heap.append(_c_heap_in_use() / MiB)
    return controller, heap, runs


def test_memory_after_runs_returns_to_within_a_few_mb_of_after_one(five_runs):
    controller, heap, runs = five_runs
    # From run 2: run 1 warms what is made once (torch's kernels, the views' first images).
    growth = heap[-1] - heap[1]
    assert growth < 6, f"the C heap grew {growth:.1f} MB over 3 runs of a 7-15 MB model: {[round(h) for h in heap]}"
    for number, refs in enumerate(runs, 1):
        assert "model" in refs, "the run reported its start"
        assert refs["trainer"]() is None, f"run {number} still holds its trainer"
    assert all(refs["model"]() is None for refs in runs[1:]), "a run after the first still holds its model"
    assert runs[-1]["session"]() is controller.session  # kept for its design and run folder only


def test_every_earlier_session_and_model_is_freed(five_runs):
    controller, _heap, runs = five_runs
    for number, refs in enumerate(runs[:-1], 1):  # the last session is the controller's
        alive = [name for name, ref in refs.items() if ref() is not None]
        assert not alive, f"run {number} still holds its {', '.join(alive)}"


def test_a_session_and_its_worker_are_freed_after_many_queued_events(qtbot):
    """The cause of the leak above: a signal named ``event`` hides ``QObject.event()``, and
    PySide6 then keeps one reference to the object per queued call delivered through it (the
    session as receiver of a signal-to-signal connection, the worker as sender to a function)."""
    from designer.training.worker import TrainingSession

    class Trainer:  # emits a run's worth of events from the run's thread
        design = None
        stop_requested = paused = False
        on_event = None

        def run(self):
            for i in range(200):
                self.on_event(("event", i))

    session = TrainingSession(Trainer())
    worker = weakref.ref(session.worker)
    got, done = [], []
    session.trainer_event.connect(got.append)
    session.finished.connect(lambda *outcome: done.append(outcome))
    session.start()
    qtbot.waitUntil(lambda: bool(done), timeout=10_000)
    assert len(got) == 200
    assert sys.getrefcount(session) <= 3  # the local name and getrefcount's argument (+1 spare)
    gone = weakref.ref(session)
    del session
    gc.collect()
    assert gone() is None and worker() is None


def test_no_qobject_of_the_app_names_a_signal_event():
    import re
    from pathlib import Path
    root = Path(__file__).resolve().parents[2] / "designer"
    offenders = [f"{path.relative_to(root.parent)}:{number}" for path in root.rglob("*.py")
                 for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
                 if re.match(r"\s+event\s*=\s*Signal\(", line)]
    assert not offenders, offenders
