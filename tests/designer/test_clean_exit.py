"""The app exits with status 0 after copying blocks: Qt destroys the clipboard's contents after
Python has shut down, which crashed (SIGSEGV) when those contents were a Python-made QMimeData."""
import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = textwrap.dedent("""
    import sys
    from pathlib import Path
    from PySide6.QtCore import QSettings
    from PySide6.QtGui import QGuiApplication
    from designer.app import make_application
    from designer.main_window import MainWindow
    from engine import templates

    app = make_application()
    folder = Path(sys.argv[1])
    settings = QSettings(str(folder / "settings.ini"), QSettings.Format.IniFormat)
    window = MainWindow(training=False, settings=settings, recovery_path=folder / "recovery.json")
    window.document.replace_design(templates.build("lenet5"))
    window.document.set_selection(list(window.document.design.nodes)[1:3])
    assert window.edits.copy()
    assert window.edits.paste(), "pasting what was just copied added nothing"
    assert "network-designer/blocks" in QGuiApplication.clipboard().text()
    window.document.undo_stack.setClean()
    window.close()
    print("closed")
""")


def test_the_app_exits_cleanly_after_a_copy(tmp_path):
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", HOME=str(tmp_path), XDG_CONFIG_HOME=str(tmp_path))
    proc = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path)], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, f"exit status {proc.returncode}\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"
    assert "closed" in proc.stdout
