"""The training run off the UI thread.

:class:`TrainingWorker` lives in a ``QThread`` and only emits signals: it never touches a
widget and never reads the live design (it trains a snapshot taken at start). Its
``request_*`` methods are called from the UI thread while ``run`` is busy in the worker thread,
so they only set flags that the trainer checks between batches.

:class:`TrainingSession` is the UI-thread owner of one run: it starts the thread, forwards
stop/pause/resume, and :meth:`shutdown` stops the run and waits for the thread, so closing the
window never leaves a thread running.
"""
from __future__ import annotations

import threading
import traceback

from PySide6.QtCore import QObject, QThread, Signal, Slot

from engine.graph import Design

from .devices import training_threads


class TrainingWorker(QObject):
    """Runs ``runner(design, config, emit, control)`` in its thread.

    ``runner`` is the engine trainer adapter (see :mod:`designer.training.engine_adapter`); it
    calls ``emit(event)`` with plain Python/numpy events and checks ``control`` between
    batches. Whatever happens, ``finished`` is emitted exactly once.
    """

    event = Signal(object)  # one trainer event (plain data)
    finished = Signal(str, str, object)  # status (finished/stopped/failed), message, result

    def __init__(self, design: Design, config: dict, runner, parent=None):
        super().__init__(parent)
        self.design = design.copy()  # the run's own copy: canvas edits during the run are safe
        self.config = dict(config)
        self.control = RunControl()
        self._runner = runner

    @Slot()
    def run(self) -> None:
        import torch  # here, in the worker thread: the app's first window is shown without torch

        # Leave one core to the UI thread: with every core busy, the event loop stalls for
        # over 100 ms at a time on a 2-core machine.
        torch.set_num_threads(training_threads())
        try:
            result = self._runner(self.design, self.config, self.event.emit, self.control)
            status = "stopped" if self.control.stop_requested else "finished"
            message = getattr(result, "message", "") or ""
            if getattr(result, "status", None) in ("failed", "stopped"):
                status = result.status
            self.finished.emit(status, message, result)
        except Exception as exc:  # noqa: BLE001 - a failed run is a message, never a dead app
            self.finished.emit("failed", f"{type(exc).__name__}: {exc}", traceback.format_exc())

    # Called from the UI thread: flags only.
    def request_stop(self) -> None:
        self.control.stop()

    def request_pause(self) -> None:
        self.control.pause()

    def request_resume(self) -> None:
        self.control.resume()


class RunControl:
    """Thread-safe stop/pause flags shared by the UI thread and the training loop, plus
    the input the UI wants feature maps of, which may change during the run."""

    def __init__(self):
        self._stop = threading.Event()
        self._running = threading.Event()
        self._running.set()
        self._lock = threading.Lock()
        self._sample = None
        self._sample_changed = False
        self.listeners: list = []  # callables(kind) the adapter forwards to the engine trainer

    @property
    def stop_requested(self) -> bool:
        return self._stop.is_set()

    @property
    def paused(self) -> bool:
        return not self._running.is_set()

    def stop(self) -> None:
        self._stop.set()
        self._running.set()  # a paused run must wake up to stop
        self._notify("stop")

    def pause(self) -> None:
        self._running.clear()
        self._notify("pause")

    def resume(self) -> None:
        self._running.set()
        self._notify("resume")

    def wait_while_paused(self, timeout: float = 0.1) -> None:
        self._running.wait(timeout)

    @property
    def sample(self):
        """The input whose feature maps the run shows (un-normalised C×… array), or None."""
        with self._lock:
            return self._sample

    def set_sample(self, sample) -> None:
        with self._lock:
            self._sample = sample
            self._sample_changed = True

    def take_sample(self):
        """The sample chosen since the last call, else None (the training loop polls this)."""
        with self._lock:
            changed, self._sample_changed = self._sample_changed, False
            return self._sample if changed else None

    def _notify(self, kind: str) -> None:
        for listener in list(self.listeners):
            listener(kind)


class TrainingSession(QObject):
    """One run's thread and worker, owned by the UI thread."""

    event = Signal(object)
    finished = Signal(str, str, object)

    def __init__(self, design: Design, config: dict, runner, parent=None):
        super().__init__(parent)
        self.thread = QThread()
        self.thread.setObjectName("training")
        self.worker = TrainingWorker(design, config, runner)
        self.worker.moveToThread(self.thread)
        self.thread.started.connect(self.worker.run)
        # Queued: the slots run on the UI thread, in order, after the worker emitted.
        self.worker.event.connect(self.event)
        self.worker.finished.connect(self._on_worker_finished)
        self.status = "idle"

    @property
    def design(self) -> Design:
        return self.worker.design

    @property
    def control(self) -> RunControl:
        return self.worker.control

    def start(self) -> None:
        self.status = "running"
        self.thread.start()

    def is_running(self) -> bool:
        return self.thread.isRunning()

    def stop(self) -> None:
        self.worker.request_stop()

    def pause(self) -> None:
        self.worker.request_pause()
        self.status = "paused"

    def resume(self) -> None:
        self.worker.request_resume()
        self.status = "running"

    def shutdown(self, timeout_ms: int = 30000) -> bool:
        """Stop the run and wait for its thread to end (window closing, app quitting)."""
        if self.thread.isRunning():
            self.worker.request_stop()
            self.thread.quit()
            return self.thread.wait(timeout_ms)
        return True

    def _on_worker_finished(self, status: str, message: str, result) -> None:
        self.status = status
        self.thread.quit()
        self.thread.wait()
        self.finished.emit(status, message, result)
