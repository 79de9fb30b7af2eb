"""One slow function (a dataset download, an export, an import) run off the UI thread.

:class:`BackgroundTask` is owned by the UI thread; its worker object lives in a ``QThread`` and
only emits signals (queued back to the UI thread), so the function never touches a widget.
Whatever happens, exactly one of ``done`` / ``failed`` is emitted, after the thread has ended.
"""
from __future__ import annotations

import traceback

from PySide6.QtCore import QObject, QThread, Signal, Slot


class _TaskWorker(QObject):
    progress = Signal(float, str)
    done = Signal(object)
    failed = Signal(str, str)  # message, traceback

    def __init__(self, function):
        super().__init__()
        self._function = function

    @Slot()
    def run(self) -> None:
        try:
            result = self._function(self.progress.emit)
        except Exception as exc:  # noqa: BLE001 - shown to the user as a message, never a crash
            self.failed.emit(str(exc) or type(exc).__name__, traceback.format_exc())
            return
        self.done.emit(result)


class BackgroundTask(QObject):
    """Runs ``function(progress)`` once in its own thread; ``progress(fraction, message)`` may be
    called from it to report along the way."""

    progress = Signal(float, str)
    done = Signal(object)
    failed = Signal(str)

    def __init__(self, function, name: str = "background", parent=None):
        super().__init__(parent)
        self.thread = QThread()
        self.thread.setObjectName(name)
        self.worker = _TaskWorker(function)
        self.worker.moveToThread(self.thread)
        self.thread.started.connect(self.worker.run)
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
        self.thread.quit()
        self.thread.wait()
        self.finished = True

    def _on_done(self, result) -> None:
        self._end_thread()
        self.done.emit(result)

    def _on_failed(self, message: str, details: str) -> None:
        self._end_thread()
        self.details = details
        self.failed.emit(message)


__all__ = ["BackgroundTask"]
