"""One slow function (a dataset download, an export, an import) run off the UI thread.

:class:`BackgroundTask` is owned by the UI thread; its worker object runs the function in a
``QThread`` and only emits signals (queued back to the UI thread), so the function never touches
a widget. Whatever happens, exactly one of ``done`` / ``failed`` is emitted, after the thread has
ended.

The worker is not moved to the thread (:class:`CallThread` calls it there): PySide keeps an extra
reference to an object moved to another thread that moving it back does not release, so every
worker, and whatever its function had captured (a dataset, a run's weights), stayed alive for
good (issue 13). A worker also lets go of its function once it has run.
"""
from __future__ import annotations

import traceback

from PySide6.QtCore import QObject, QThread, Signal


class CallThread(QThread):
    """A thread that calls ``target()`` once, with no event loop, and then forgets it. The
    object whose method it calls stays in the UI thread; its signals, emitted from here, reach
    the UI thread queued (the receivers live there)."""

    def __init__(self, target, name: str):
        super().__init__()
        self.setObjectName(name)
        self._target = target

    def run(self) -> None:
        target, self._target = self._target, None
        if target is not None:
            target()


class _TaskWorker(QObject):
    progress = Signal(float, str)
    done = Signal(object)
    failed = Signal(str, str)  # message, traceback

    def __init__(self, function):
        super().__init__()
        self._function = function

    def run(self) -> None:
        """In the task's thread."""
        function, self._function = self._function, None  # nothing it captured outlives the task
        try:
            result = function(self.progress.emit)
        except Exception as exc:  # noqa: BLE001 - shown to the user as a message, never a crash
            self.failed.emit(str(exc) or type(exc).__name__, traceback.format_exc())
        else:
            self.done.emit(result)


class BackgroundTask(QObject):
    """Runs ``function(progress)`` once in its own thread; ``progress(fraction, message)`` may be
    called from it to report along the way."""

    progress = Signal(float, str)
    done = Signal(object)
    failed = Signal(str)

    def __init__(self, function, name: str = "background", parent=None):
        super().__init__(parent)
        self.worker = _TaskWorker(function)
        self.thread = CallThread(self.worker.run, name)
        self.worker.progress.connect(self.progress)
        self.worker.done.connect(self._on_done)
        self.worker.failed.connect(self._on_failed)
        self.details = ""  # the traceback of a failure, for a bug report
        self.started = self.finished = False

    def start(self) -> "BackgroundTask":
        self.started = True
        self.thread.start()
        return self

    def is_running(self) -> bool:
        """Started and its result not yet delivered."""
        return self.started and not self.finished

    def wait(self, timeout_ms: int = 30000) -> bool:
        """Block until the function has returned (window closing); True if it did in time."""
        return self.thread.wait(timeout_ms)

    def _end_thread(self) -> None:
        self.thread.wait()  # the function has returned: the thread is ending
        self.finished = True

    def _on_done(self, result) -> None:
        self._end_thread()
        self.done.emit(result)

    def _on_failed(self, message: str, details: str) -> None:
        self._end_thread()
        self.details = details
        self.failed.emit(message)


class LatestOnly(QObject):
    """One background job at a time per key (a probe, an evaluation): a job asked for while one
    runs waits, replacing any job already waiting, and a result already superseded by a newer
    request is dropped, so quick successive requests (a spin box) cost at most two runs.
    A job may carry a ``tag`` (what it is for: a dataset's name) so that the caller can tell
    what is running (:meth:`running_tag`) and drop a waiting job (:meth:`cancel_waiting`) when
    the running one is what is wanted after all."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self._running: dict[str, BackgroundTask] = {}
        self._waiting: dict[str, tuple] = {}
        self.closed = False  # after wait_all: nothing new starts (the window is closing)

    def submit(self, key: str, function, on_done, on_failed=None, tag=None) -> None:
        if self.closed:
            return
        if key in self._running:
            self._waiting[key] = (function, on_done, on_failed, tag)
            return
        task = BackgroundTask(function, key, self)
        task.tag = tag
        self._running[key] = task
        task.done.connect(lambda result: self._finish(key, task, on_done, result))
        task.failed.connect(lambda message: self._finish(key, task, on_failed, message))
        task.start()

    def running_tag(self, key: str):
        """The tag of the job running under ``key`` (None: none runs)."""
        task = self._running.get(key)
        return None if task is None else task.tag

    def cancel_waiting(self, key: str) -> None:
        """Forget the job waiting under ``key``: the running one's result is shown after all."""
        self._waiting.pop(key, None)

    def wait_all(self, timeout_ms: int = 30000) -> None:
        """Window closing: forget waiting jobs, start no new ones, let running ones end."""
        self.closed = True
        self._waiting.clear()
        for task in list(self._running.values()):
            task.wait(timeout_ms)

    def _finish(self, key: str, task: BackgroundTask, callback, value) -> None:
        self._running.pop(key, None)
        task.deleteLater()
        waiting = self._waiting.pop(key, None)
        if waiting is not None:
            self.submit(key, *waiting)  # superseded: the newer request's result is the one shown
        elif callback is not None:
            callback(value)


__all__ = ["BackgroundTask", "CallThread", "LatestOnly"]
