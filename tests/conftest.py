import atexit
import os
import shutil
import tempfile

import pytest

# Qt without a display (CI has none); must be set before any Qt import.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# Runs the tests start without naming a folder go to a temporary one, not to runs/ of the clone.
# Removed when the session ends: each suite writes tens of MB of runs there, and leaving them
# filled the disk of a machine that runs the suite many times a day.
if "ND_RUNS_DIR" not in os.environ:
    _runs_dir = tempfile.mkdtemp(prefix="nd-test-runs-")
    os.environ["ND_RUNS_DIR"] = _runs_dir
    atexit.register(shutil.rmtree, _runs_dir, ignore_errors=True)


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


@pytest.fixture(scope="module")
def ui_thread_collector(qapp):
    """The app's cycle collector on the UI thread (designer/ui_collector.py), as ``make_application``
    installs it, for one test module; automatic collection is back after it (engine tests)."""
    from designer.ui_collector import UiCollector, collect_on_ui_thread

    yield collect_on_ui_thread(qapp)
    installed = qapp.findChild(UiCollector)
    if installed is not None:
        installed.stop()
