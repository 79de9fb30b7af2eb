"""The app's window is on screen before torch is imported; torch is then imported off the UI
thread and the training panel fills in. Runs the app as ``python main.py`` does, in a fresh
process (this test process has long imported torch), with an empty home folder."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

CHILD = r"""
import json, sys, threading, time
from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtWidgets import QApplication, QMainWindow

seen = {}
HEAVY = ("torch", "torchvision", "pyqtgraph")


class FirstTorchImport:
    # Not a blocker: notes which thread imports torch first.
    def find_spec(self, name, path=None, target=None):
        if name == "torch" and "torch_thread" not in seen:
            seen["torch_thread"] = threading.current_thread().name
            seen["torch_on_main_thread"] = threading.current_thread() is threading.main_thread()
        return None


sys.meta_path.insert(0, FirstTorchImport())


def loaded():
    return sorted(m for m in HEAVY if m in sys.modules)


def report():
    print("RESULT " + json.dumps(seen), flush=True)
    QApplication.instance().quit()


def wait_for_panels():
    controller = watch.window.training
    panel = controller.panel
    seen["devices"] = [panel.device.itemData(i) for i in range(panel.device.count())]
    if "cpu" in seen["devices"] and controller.bundle is not None and not controller.dataset_loading():
        seen["dataset_info"] = panel.dataset_info.text()
        seen["samples"] = len(controller.views.feature_maps.samples)
        seen["filled"] = True
        report()
    elif time.monotonic() > deadline:
        seen["error"] = panel.error.text()
        report()
    else:
        QTimer.singleShot(50, wait_for_panels)


class Watch(QObject):
    window = None
    painted = False

    def eventFilter(self, obj, event):
        if self.window is None and isinstance(obj, QMainWindow) and event.type() == QEvent.Type.Show:
            self.window = obj
            seen["at_show"] = loaded()
        elif (self.window is not None and not self.painted and event.type() == QEvent.Type.Paint
              and obj.isWidgetType() and obj.window() is self.window):
            self.painted = True
            seen["at_first_paint"] = loaded()
            panel = self.window.training.panel
            seen["devices_at_first_paint"] = [panel.device.itemData(i) for i in range(panel.device.count())]
            if quit_at_once:  # close the window while torch is being imported
                QTimer.singleShot(50, lambda: (self.window.close(), print("closed", flush=True)))
            else:
                QTimer.singleShot(0, wait_for_panels)
        return False


deadline = time.monotonic() + float(sys.argv[1])
quit_at_once = sys.argv[2] == "quit"
app = QApplication([sys.argv[0]])
watch = Watch()
app.installEventFilter(watch)
from engine.cli import main

main(["gui"])
"""


def run_app(tmp_path, mode: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", HOME=str(tmp_path), TMPDIR=str(tmp_path),
               XDG_CONFIG_HOME=str(tmp_path / "config"), XDG_DATA_HOME=str(tmp_path / "data"),
               XDG_CACHE_HOME=str(tmp_path / "cache"))
    return subprocess.run([sys.executable, "-c", CHILD, "150", mode], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=240)


def test_window_shows_before_torch_which_is_imported_in_the_background(tmp_path):
    result = run_app(tmp_path, "wait")
    line = next((ln for ln in result.stdout.splitlines() if ln.startswith("RESULT ")), None)
    assert line is not None, f"exit {result.returncode}\n{result.stderr[-3000:]}"
    seen = json.loads(line[len("RESULT "):])
    # Nothing heavy for the first frame: torch (seconds), and pyqtgraph (half a second; the plots
    # are made when first painted, designer/deferred.py).
    assert seen["at_show"] == [] and seen["at_first_paint"] == [], seen
    assert seen["devices_at_first_paint"] == [None], seen  # the "detecting devices…" placeholder
    # Then torch is imported by the background thread, never the UI thread...
    assert seen["torch_on_main_thread"] is False and seen["torch_thread"] == "torch-import", seen
    # ... and the panels fill in: the machine's devices, the dataset and its samples.
    assert seen.get("filled"), seen
    assert "cpu" in seen["devices"] and None not in seen["devices"], seen
    assert "training and" in seen["dataset_info"] and seen["samples"] > 0, seen


def test_closing_the_window_while_torch_is_imported_exits_cleanly(tmp_path):
    """The import thread is not a daemon: the process waits for it instead of tearing libtorch
    down mid-import; the exit status is 0 and nothing is reported on the way out."""
    result = run_app(tmp_path, "quit")
    assert result.returncode == 0, f"exit {result.returncode}\n{result.stderr[-3000:]}"
    assert "closed" in result.stdout
    assert "Traceback" not in result.stderr and "Fatal" not in result.stderr, result.stderr[-3000:]
