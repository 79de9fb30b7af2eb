"""The training run off the UI thread.

:class:`TrainingWorker` lives in a ``QThread`` and only emits signals: it never touches a
widget and never reads the live design (the trainer holds the run's snapshot, taken when it was
made). Stop, pause and resume are the trainer's own thread-safe controls
(:class:`engine.training.trainer.Trainer`): the UI thread calls them directly and the trainer
checks them between batches, so there is one copy of the run's state.

:class:`TrainingSession` is the UI-thread owner of one run: it starts the thread, forwards
stop/pause/resume to the trainer, and :meth:`shutdown` stops the run and waits for the thread,
so closing the window never leaves a thread running.

A finished run keeps nothing alive: the worker returns itself to the UI thread and forgets the
trainer; the session then frees its thread and worker and drops the trainer (and with it the
model, its optimizer state and any resized copy of the data) and empties torch's device cache.
What the run was stays in its :class:`engine.runs.RunRecord` and its run folder.
"""
from __future__ import annotations

import sys
import threading
import time
import traceback

from PySide6.QtCore import QObject, QTimer, Signal

from .background import CallThread
from .devices import training_threads

DELIVERY_INTERVAL_S = 0.03  # events reach the UI thread in batches at most this often


class TrainingWorker(QObject):
    """Runs ``trainer.run()`` in its thread; the trainer's events reach the UI thread in order,
    in batches, each re-emitted there as ``trainer_event``.

    ``trainer`` is an engine trainer (anything with ``design``, ``on_event``, ``run()``,
    ``stop()``, ``pause()``, ``resume()``, ``stop_requested`` and ``paused``). Whatever
    happens, ``finished`` is emitted exactly once, as the worker's last act; by then it has let
    go of the trainer. The worker stays in the UI thread (:class:`CallThread` calls ``run`` in
    the run's thread; see :mod:`.background` for why it is not moved there): its signals reach
    the UI thread queued.

    Why batches: each queued signal makes the UI thread take the GIL from the training thread
    (a forced switch, and the trainer waits for it back). A small model finishing 25 epochs a
    second sends over 100 events a second (progress, and at each epoch's end its result,
    filters, health, maps); the UI thread now wakes for them at most ``1 / DELIVERY_INTERVAL_S``
    times a second and handles what has arrived in one go. The trainer appends to a list under a
    lock and sends a wake-up only when none is pending.
    """

    # Not named "event": a signal of that name hides QObject.event(), and PySide6 then keeps a
    # reference to the object for every queued call delivered through it (a finished run's
    # session, or its worker, stayed alive for good; tests/training_ui/test_runs_memory.py).
    trainer_event = Signal(object)  # one trainer event (plain data), on the UI thread
    finished = Signal(str, str, object)  # status (finished/stopped/failed), message, result
    _events_waiting = Signal()  # from the run's thread: the UI thread should deliver the events

    def __init__(self, trainer, parent=None):
        super().__init__(parent)
        self.trainer = trainer
        self._lock = threading.Lock()
        self._waiting: list = []
        self._wake_pending = False
        self._last_delivery = 0.0
        self.deliveries = 0  # times the UI thread handled a batch of events
        self._deliver_timer = QTimer(self)  # a delivery put off to keep them apart
        self._deliver_timer.setSingleShot(True)
        self._deliver_timer.timeout.connect(self.deliver)
        self._events_waiting.connect(self._on_events_waiting)
        trainer.on_event = self._post

    def _post(self, event) -> None:
        """In the run's thread: keep the event; wake the UI thread unless a wake-up is pending."""
        with self._lock:
            self._waiting.append(event)
            if self._wake_pending:
                return
            self._wake_pending = True
        self._events_waiting.emit()

    def _on_events_waiting(self) -> None:
        """UI thread: deliver now, or when the interval since the last delivery is over."""
        wait_s = self._last_delivery + DELIVERY_INTERVAL_S - time.perf_counter()
        if wait_s <= 0:
            self.deliver()
        elif not self._deliver_timer.isActive():
            self._deliver_timer.start(max(1, int(wait_s * 1000)))

    def deliver(self) -> None:
        """UI thread: emit every event that has arrived, in order (the next one wakes us again)."""
        self._deliver_timer.stop()
        with self._lock:
            events, self._waiting = self._waiting, []
            self._wake_pending = False
        self._last_delivery = time.perf_counter()
        self.deliveries += 1
        for event in events:
            self.trainer_event.emit(event)

    def run(self) -> None:
        import torch  # here, in the worker thread: the app's first window is shown without torch

        from .torch_runtime import wait_for_first_use_imports
        wait_for_first_use_imports()  # at most what this run would spend importing them itself
        # Leave one core to the UI thread: with every core busy, the event loop stalls for
        # over 100 ms at a time on a 2-core machine.
        torch.set_num_threads(training_threads())
        trainer = self.trainer
        try:
            result = trainer.run()
            status = "stopped" if trainer.stop_requested else "finished"
            message = getattr(result, "message", "") or ""
            if getattr(result, "status", None) in ("failed", "stopped"):
                status = result.status
            outcome = (status, message, result)
        except Exception as exc:  # noqa: BLE001 - a failed run is a message, never a dead app
            outcome = ("failed", f"{type(exc).__name__}: {exc}", traceback.format_exc())
        finally:
            # The trainer emits nothing more: break trainer → signal → worker, forget the trainer.
            trainer.on_event = _ignore
            self.trainer = trainer = None
        self.finished.emit(*outcome)


def _ignore(_event) -> None:
    """A finished trainer's listener."""


class TrainingSession(QObject):
    """One run's thread and worker, owned by the UI thread. Once the run has finished the
    session keeps only its design snapshot and run folder: :meth:`is_running` is False and the
    controls do nothing."""

    trainer_event = Signal(object)  # (not "event": see TrainingWorker)
    finished = Signal(str, str, object)

    def __init__(self, trainer, parent=None):
        super().__init__(parent)
        self.trainer = trainer
        self.design = trainer.design  # the run's snapshot of the design (the trainer's own copy)
        self.run_dir: str | None = None
        self.source_dataset = None  # the dataset the run was given (set by the controller)
        self.dataset = None  # after the run: the dataset it trained on (resized to its input, maybe)
        self.worker = TrainingWorker(trainer)
        self.thread = CallThread(self.worker.run, "training")
        self._running = False  # from start until its end is handled here (or shutdown waited for it)
        # The worker emits each event on the UI thread, in order (see TrainingWorker.deliver).
        self.worker.trainer_event.connect(self.trainer_event)
        self.worker.finished.connect(self._on_worker_finished)

    @property
    def paused(self) -> bool:
        return self.trainer is not None and self.trainer.paused

    def start(self) -> None:
        self._running = True
        self.thread.start()

    def is_running(self) -> bool:
        """Started and its end not yet handled on the UI thread (the thread itself may have
        ended a moment before: its last act is to emit ``finished``)."""
        return self._running

    # Called from the UI thread; the trainer's controls are thread-safe.
    def stop(self) -> None:
        if self.trainer is not None:
            self.trainer.stop()

    def pause(self) -> None:
        if self.trainer is not None:
            self.trainer.pause()

    def resume(self) -> None:
        if self.trainer is not None:
            self.trainer.resume()

    def inspect(self, sample) -> None:
        """Show this sample's feature maps from now on (the trainer's thread-safe control)."""
        if self.trainer is not None:
            self.trainer.inspect(sample)

    def shutdown(self, timeout_ms: int = 30000) -> bool:
        """Stop the run and wait for its thread to end (window closing, app quitting)."""
        if self.is_running() and self.thread is not None:
            self.trainer.stop()
            if not self.thread.wait(timeout_ms):
                kill = getattr(self.trainer, "kill", None)  # a distributed run's processes: end them
                if kill is None:
                    return False
                kill()
                if not self.thread.wait(10_000):
                    return False
            self._running = False  # over; its queued end is still handled when it arrives
        return True

    def _on_worker_finished(self, status: str, message: str, result) -> None:
        self.thread.wait()  # finished was the worker's last act: the thread is ending
        self.worker.deliver()  # the run's last events come before its end
        self._running = False
        self._release()
        self.finished.emit(status, message, result)

    def _release(self) -> None:
        """Free the run's thread, worker and trainer (the worker is back in the UI thread and no
        longer refers to the trainer), and return the device memory torch cached for it."""
        self.dataset = getattr(self.trainer, "bundle", None)  # the controller keeps a resized copy, or drops it
        self.worker.trainer_event.disconnect(self.trainer_event)
        # Both are Python-owned, idle and in this thread: dropping them deletes them now.
        # (deleteLater would hand them to Qt until the event loop's next turn at this level,
        # which a nested loop, a modal dialog, never reaches.)
        self.worker = self.thread = self.trainer = None
        release_device_memory()


def collect_run_garbage() -> None:
    """UI thread, after a run: collect what only reference cycles still held of it (its model's
    tensors among them). Never in a background thread: a collection there finalises Qt
    wrappers of the UI thread's objects, and while the UI thread was creating a QObject the
    two threads deadlocked (seen in the suite: gc.collect in a worker against
    BackgroundTask.__init__)."""
    import gc
    gc.collect()


def release_host_memory() -> None:
    """Background thread, after a run and :func:`collect_run_garbage`: hand the heap pages the C
    allocator kept (a finished run's tensors, hundreds of MB for a ResNet) back to the system
    (glibc's ``malloc_trim``; elsewhere nothing). It touches no Python object. Measured: five
    ResNet-18 runs left the process 300 MB bigger than one run without this, a few MB with it."""
    import ctypes
    import ctypes.util
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.malloc_trim(0)  # ctypes lets go of the GIL during the call (about 0.2 s for 700 MB)
    except (OSError, AttributeError):  # not glibc (musl has no malloc_trim)
        pass


def release_device_memory() -> None:
    """Hand the memory torch's CUDA allocator keeps cached back to the device, once the run's
    tensors are gone (a collection first: a model in a reference cycle would keep its tensors)."""
    torch = sys.modules.get("torch")
    if torch is None or not torch.cuda.is_available() or not torch.cuda.is_initialized():
        return
    import gc
    gc.collect()
    torch.cuda.empty_cache()
