"""A dialog that runs one slow job off the UI thread (export, import) with a progress bar and
a status line, and never lets the job's thread be destroyed mid-run: closing the dialog and
quitting the app wait for it, and a second start while it runs is ignored."""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QDialog, QLabel, QProgressBar

from .training.background import BackgroundTask


class TaskDialog(QDialog):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.task: BackgroundTask | None = None
        self.progress = QProgressBar()
        self.progress.setRange(0, 100)
        self.progress.hide()
        self.status = QLabel(textFormat=Qt.TextFormat.PlainText)  # messages hold paths and names
        self.status.setWordWrap(True)
        app = QApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self._wait_for_task)

    def is_busy(self) -> bool:
        return self.task is not None and self.task.is_running()

    def run_task(self, job, name: str, starting: str) -> None:
        """Start ``job(progress)``; its result goes to ``_on_done``, its error to ``_on_failed``."""
        self.progress.setValue(0)
        self.progress.show()
        self.status.setStyleSheet("")
        self.status.setText(starting)
        self.task = BackgroundTask(job, name, self)
        self.task.progress.connect(self._on_progress)
        self.task.done.connect(self._on_done)
        self.task.failed.connect(self._on_failed)
        self.task.start()

    def _on_progress(self, fraction: float, message: str) -> None:
        self.progress.setValue(int(100 * fraction))
        self.status.setText(f"{message}…" if fraction < 1 else message)

    def _on_done(self, result) -> None:
        raise NotImplementedError

    def _on_failed(self, message: str) -> None:
        raise NotImplementedError

    def show_failure(self, message: str) -> None:
        self.progress.hide()
        self.status.setStyleSheet("color: #c0392b")
        self.status.setText(message)

    def _wait_for_task(self) -> None:
        if self.is_busy():
            self.task.wait()

    def done(self, code: int) -> None:  # Close, Esc and the title bar's × end here
        self._wait_for_task()
        super().done(code)
