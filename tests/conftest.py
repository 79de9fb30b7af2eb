import os

import pytest

# Qt without a display (CI has none); must be set before any Qt import.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


@pytest.fixture
def no_leaked_threads():
    """Fails the test if a QThread started during it is still running at the end; yields the
    list of threads started. Qt is imported here, not at the top: engine tests never load it."""
    from PySide6.QtCore import QThread

    started = []
    original = QThread.start

    def tracking_start(self, *args):
        started.append(self)
        return original(self, *args)

    QThread.start = tracking_start
    try:
        yield started
    finally:
        QThread.start = original
    running = [t for t in started if _alive(t)]
    assert not running, f"{len(running)} QThread(s) still running after the test"


def _alive(thread) -> bool:
    try:
        return thread.isRunning()
    except RuntimeError:  # the C++ object is gone: not running
        return False
