"""The training run off the UI thread.

:class:`TrainingWorker` lives in a ``QThread`` and only emits signals: it never touches a
widget and never reads the live design (the trainer holds the run's snapshot, taken when it was
made). Stop, pause and resume are the trainer's own thread-safe controls
(:class:`engine.training.trainer.Trainer`): the UI thread calls them directly and the trainer
checks them between batches, so there is one copy of the run's state.

:class:`TrainingSession` is the UI-thread owner of one run: it starts the thread, forwards
stop/pause/resume to the trainer, and :meth:`shutdown` stops the run and waits for the thread,
so closing the window never leaves a thread running.
"""
from __future__ import annotations

import traceback

from PySide6.QtCore import QObject, QThread, Signal, Slot

from engine.graph import Design

from .devices import training_threads


class TrainingWorker(QObject):
    """Runs ``trainer.run()`` in its thread, emitting each trainer event as ``event``.

    ``trainer`` is an engine trainer (anything with ``design``, ``on_event``, ``run()``,
    ``stop()``, ``pause()``, ``resume()``, ``stop_requested`` and ``paused``). Whatever
    happens, ``finished`` is emitted exactly once.
    """

    event = Signal(object)  # one trainer event (plain data)
    finished = Signal(str, str, object)  # status (finished/stopped/failed), message, result

    def __init__(self, trainer, parent=None):
        super().__init__(parent)
        self.trainer = trainer
        trainer.on_event = self.event.emit

    @Slot()
    def run(self) -> None:
        import torch  # here, in the worker thread: the app's first window is shown without torch

        # Leave one core to the UI thread: with every core busy, the event loop stalls for
        # over 100 ms at a time on a 2-core machine.
        torch.set_num_threads(training_threads())
        try:
            result = self.trainer.run()
            status = "stopped" if self.trainer.stop_requested else "finished"
            message = getattr(result, "message", "") or ""
            if getattr(result, "status", None) in ("failed", "stopped"):
                status = result.status
            self.finished.emit(status, message, result)
        except Exception as exc:  # noqa: BLE001 - a failed run is a message, never a dead app
            self.finished.emit("failed", f"{type(exc).__name__}: {exc}", traceback.format_exc())


class TrainingSession(QObject):
    """One run's thread and worker, owned by the UI thread."""

    event = Signal(object)
    finished = Signal(str, str, object)

    def __init__(self, trainer, parent=None):
        super().__init__(parent)
        self.trainer = trainer
        self.thread = QThread()
        self.thread.setObjectName("training")
        self.worker = TrainingWorker(trainer)
        self.worker.moveToThread(self.thread)
        self.thread.started.connect(self.worker.run)
        # Queued: the slots run on the UI thread, in order, after the worker emitted.
        self.worker.event.connect(self.event)
        self.worker.finished.connect(self._on_worker_finished)

    @property
    def design(self) -> Design:
        """The run's snapshot of the design (the trainer's own copy)."""
        return self.trainer.design

    @property
    def paused(self) -> bool:
        return self.trainer.paused

    def start(self) -> None:
        self.thread.start()

    def is_running(self) -> bool:
        return self.thread.isRunning()

    # Called from the UI thread; the trainer's controls are thread-safe.
    def stop(self) -> None:
        self.trainer.stop()

    def pause(self) -> None:
        self.trainer.pause()

    def resume(self) -> None:
        self.trainer.resume()

    def shutdown(self, timeout_ms: int = 30000) -> bool:
        """Stop the run and wait for its thread to end (window closing, app quitting)."""
        if self.thread.isRunning():
            self.trainer.stop()
            self.thread.quit()
            return self.thread.wait(timeout_ms)
        return True

    def _on_worker_finished(self, status: str, message: str, result) -> None:
        self.thread.quit()
        self.thread.wait()
        self.finished.emit(status, message, result)
