"""Opening a design file without freezing the window.

:class:`DesignLoader` reads and parses the file with ``engine.persistence.load`` in a background
thread — the project's :class:`~designer.training.background.LatestOnly` runner: one job at a
time, a newer request replaces a waiting one and a superseded result is dropped. Only the
finished ``Design`` crosses back to the UI thread: plain Python, made by the engine in the worker
with nobody subscribed to it; the UI thread copies it into the document (``replace_design``)
and the canvas rebuilds there. The worker only emits signals and never touches a widget.

:class:`LoadingIndicator` is the status bar's "Opening big.json…" with a busy bar and Cancel,
shown only when a load takes longer than ``SHOW_AFTER_MS``; :class:`FileDrops` opens a file
dropped on the window or the canvas.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QEvent, QEventLoop, QObject, Qt, QTimer, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QProgressBar, QSizePolicy, QToolButton, QWidget

from engine import persistence

from .plain_text import plain_html
from .training.background import LatestOnly

# A load shorter than this shows no indicator (no flash) and is over when open returns.
SHOW_AFTER_MS = 300
# From this many blocks, taking the design in keeps the UI thread busy long enough to say so
# (its analysis, about 40 µs a block; the canvas draws only the nodes in view before it paints).
# Below, the status bar's message and its forced repaint would cost more than they tell.
LARGE_DESIGN = 5000


@dataclass(eq=False)
class LoadRequest:
    path: str
    version: int  # the document's design version when asked: edits made during the load show
    state: str = "loading"  # loading → opened | failed | cancelled

    @property
    def name(self) -> str:
        return Path(self.path).name

    @property
    def loading(self) -> bool:
        return self.state == "loading"


def read_design(path: str):
    """In the worker thread: (design, absolute path). Raises DesignFileError for a bad file."""
    design = persistence.load(path)  # looked up at call time: tests may wrap it
    return design, str(Path(path).resolve())


class DesignLoader(QObject):
    """Loads one design file at a time off the UI thread; the latest request wins."""

    started = Signal(str)  # file name: a load began
    finished = Signal()  # the latest load is over (opened, failed or cancelled)

    def __init__(self, parent=None):
        super().__init__(parent)
        self._jobs = LatestOnly(self)
        self.current: LoadRequest | None = None

    def is_loading(self) -> bool:
        return self.current is not None

    def load(self, path: str, version: int, on_loaded, on_failed) -> LoadRequest:
        """Start reading ``path``; ``on_loaded(request, design, absolute_path)`` or
        ``on_failed(request, message)`` is called on the UI thread unless a newer request or
        :meth:`cancel` came first. Whatever was loading before is forgotten."""
        request = LoadRequest(str(path), version)
        if self._jobs.closed:  # the window is closing
            request.state = "cancelled"
            return request
        if self.current is not None:
            self.current.state = "cancelled"
        self.current = request
        self._jobs.submit("open", lambda _progress: read_design(request.path),
                          lambda result: self._deliver(request, on_loaded, *result),
                          lambda message: self._deliver(request, on_failed, message))
        self.started.emit(request.name)
        return request

    def cancel(self) -> None:
        """Forget the current load: its result is dropped when it arrives."""
        if self.current is not None:
            self.current.state = "cancelled"
            self.current = None
            self.finished.emit()

    def wait(self, request: LoadRequest, timeout_ms: int) -> bool:
        """Let the event loop run — timers, repaints, the result — but hold back the user's
        clicks and keys until ``request`` is over or ``timeout_ms`` has passed; True if it is
        over. A small file is then open when the caller goes on (no indicator, no half-way
        state to see or act on); a big one goes on in the background."""
        if not request.loading:
            return True
        loop = QEventLoop()
        timer = QTimer(singleShot=True, interval=timeout_ms)
        timer.timeout.connect(loop.quit)
        self.finished.connect(loop.quit)
        timer.start()
        try:
            loop.exec(QEventLoop.ProcessEventsFlag.ExcludeUserInputEvents)
        finally:
            timer.stop()
            self.finished.disconnect(loop.quit)
        return not request.loading

    def shutdown(self, timeout_ms: int = 30000) -> None:
        """The window is closing: drop any result, start nothing new, let a running read end."""
        self.cancel()
        self._jobs.wait_all(timeout_ms)

    def _deliver(self, request: LoadRequest, callback, *args) -> None:
        if request is not self.current or not request.loading:
            return  # superseded or cancelled
        self.current = None
        self.finished.emit()  # the indicator goes before a message box or the canvas rebuild
        callback(request, *args)


class LoadingIndicator(QWidget):
    """Status bar: "Opening NAME…", a busy bar and Cancel, once a load outlasts SHOW_AFTER_MS."""

    def __init__(self, loader: DesignLoader, parent=None):
        super().__init__(parent)
        self.setObjectName("LoadingIndicator")
        self.loader = loader
        self.label = QLabel(textFormat=Qt.TextFormat.PlainText)  # a file name is not markup
        self.bar = QProgressBar()
        self.bar.setRange(0, 0)  # busy: the parser cannot say how far it is
        self.bar.setTextVisible(False)
        self.bar.setFixedSize(110, 12)
        self.cancel_button = QToolButton()
        self.cancel_button.setText("Cancel")
        self.cancel_button.setToolTip("stop opening the file and keep the current design")
        self.cancel_button.clicked.connect(loader.cancel)
        separator = QFrame()  # apart from the design's totals on its right
        separator.setFrameShape(QFrame.Shape.VLine)
        separator.setFrameShadow(QFrame.Shadow.Sunken)
        row = QHBoxLayout(self)
        row.setContentsMargins(4, 0, 4, 0)
        row.setSpacing(8)
        row.addWidget(self.label)
        row.addWidget(self.bar)
        row.addWidget(self.cancel_button)
        row.addSpacing(4)
        row.addWidget(separator)
        self.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Preferred)
        self._delay = QTimer(self, singleShot=True, interval=SHOW_AFTER_MS)
        self._delay.timeout.connect(self._show_if_loading)
        loader.started.connect(self._on_started)
        loader.finished.connect(self._on_finished)
        self.hide()

    def _on_started(self, name: str) -> None:
        self.label.setText(f"Opening {name}…")
        self.bar.show()
        self.cancel_button.show()
        self.setToolTip(plain_html(self.loader.current.path if self.loader.current else name))
        if not self.isVisible():
            self._delay.start()

    def show_building(self, name: str, blocks: int) -> None:
        """The parsed design is about to be copied into the document and drawn, on the UI
        thread, which is busy until that is done: say so now (painted at once) for a big one."""
        if blocks < LARGE_DESIGN:
            return
        self._delay.stop()
        self.label.setText(f"Drawing {blocks:,} blocks of {name}…")
        self.bar.hide()  # neither would move or answer before the drawing is done
        self.cancel_button.hide()
        self.show()
        bar = self.parentWidget()
        if bar is not None and bar.layout() is not None:
            bar.layout().activate()
            bar.repaint()
        QTimer.singleShot(0, self, self._after_building)  # the first turn of the event loop after it

    def _after_building(self) -> None:
        if not self.loader.is_loading():
            self.hide()

    def _show_if_loading(self) -> None:
        if self.loader.is_loading():
            self.show()

    def _on_finished(self) -> None:
        self._delay.stop()
        self.hide()


class FileDrops(QObject):
    """Event filter on the window and the canvas: a dragged local file opens when dropped.
    The open starts after the drop has returned (the drag's source waits while a drop is
    handled, and the unsaved-changes question is a dialog)."""

    def __init__(self, open_file, parent=None):
        super().__init__(parent)
        self._open_file = open_file

    @staticmethod
    def dropped_path(mime) -> str | None:
        for url in mime.urls() if mime is not None and mime.hasUrls() else ():
            if url.isLocalFile() and Path(url.toLocalFile()).is_file():
                return url.toLocalFile()
        return None

    def eventFilter(self, watched, event) -> bool:
        kind = event.type()
        if kind not in (QEvent.Type.DragEnter, QEvent.Type.DragMove, QEvent.Type.Drop):
            return False
        path = self.dropped_path(event.mimeData())
        if path is None:
            return False
        event.acceptProposedAction()
        if kind == QEvent.Type.Drop:
            QTimer.singleShot(0, self, lambda: self._open_file(path))
        return True
