"""``network-designer --version`` (the console script, engine.cli:main) prints what ``main.py --version``
prints, from engine.version: no Qt, no torch, no sub-command parsing."""
import subprocess
import sys
from pathlib import Path

from engine.cli import main
from engine.version import app_version

ROOT = Path(__file__).resolve().parents[2]


def test_cli_version_flag_prints_the_version(capsys):
    for flag in ("--version", "-V"):
        assert main([flag]) == 0
        assert capsys.readouterr().out.strip() == f"network-designer {app_version()}"


def test_console_script_entry_matches_main_py_and_imports_neither_qt_nor_torch():
    entry = [sys.executable, "-X", "importtime", "-c", "import sys; from engine.cli import main; sys.exit(main())",
             "--version"]
    done = subprocess.run(entry, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    via_main = subprocess.run([sys.executable, "main.py", "--version"], cwd=ROOT, capture_output=True, text=True,
                              timeout=120)
    assert done.stdout.strip() == via_main.stdout.strip() == f"network-designer {app_version()}"
    imported = {line.rsplit("|", 1)[-1].strip().split(".")[0] for line in done.stderr.splitlines() if "|" in line}
    assert "engine" in imported  # the check sees imports
    assert not imported & {"PySide6", "shiboken6", "torch", "numpy", "pyqtgraph", "designer"}


def test_designer_version_is_the_engine_one():
    from designer import version
    assert version.app_version is app_version
