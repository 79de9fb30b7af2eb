"""The engine never imports Qt: it must work where PySide6/pyqtgraph are not installed."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = r"""
import sys
BLOCKED = ("PySide6", "pyqtgraph", "shiboken6", "PyQt5", "PyQt6", "qtpy")

class NoQt:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError(f"Qt is not available here ({name})")
        return None

sys.meta_path.insert(0, NoQt())
import engine, engine.analysis, engine.compile, engine.persistence, engine.cli, engine.summary
import engine.user_blocks, engine.commands.validate, engine.composite_editing
from engine import Design, analyze, compile_design
d = Design("noqt", num_classes=3)
d.chain(("input", {"shape": [1, 8, 8]}), ("conv2d", {"out_channels": 2}), "flatten",
        ("linear", {"out_features": 3}), "output")
assert analyze(d).valid
compile_design(d)
engine.cli.build_parser()
try:
    import PySide6
except ImportError:
    pass
else:
    raise SystemExit("the blocker does not work")
leaked = sorted(m for m in sys.modules if m.split(".")[0] in BLOCKED)
assert not leaked, leaked
print("ok")
"""


def test_engine_imports_and_works_without_qt():
    result = subprocess.run([sys.executable, "-c", SCRIPT], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("ok")


def test_no_engine_module_names_qt():
    """A static guard too: a lazy Qt import inside a function would escape the import test."""
    offenders = [str(p.relative_to(ROOT)) for p in (ROOT / "engine").rglob("*.py")
                 if any(q in p.read_text(encoding="utf-8") for q in ("import PySide6", "from PySide6",
                                                                    "import pyqtgraph", "from pyqtgraph"))]
    assert offenders == []


NO_TORCH = r"""
import sys

class NoTorch:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("torch", "torchvision", "numpy"):
            raise ImportError(f"torch may not be imported here ({name})")
        return None

sys.meta_path.insert(0, NoTorch())
import engine, engine.analysis, engine.blocks, engine.persistence, engine.templates, engine.user_blocks
import engine.summary, engine.names
from engine import analyze, templates
for name in ("lenet5", "resnet50", "googlenet"):
    report = analyze(templates.build(name))
    assert report.valid and report.total_params > 0, name
# The training panel's form, schedule preview, dataset names and kernel list (app start-up).
import engine.training, engine.training.events, engine.runs, engine.kernels
from engine import dataset_names
from engine.training import schedule_math
from engine.training.config import SCHEDULES, TrainConfig
for schedule in SCHEDULES:
    x, y = schedule_math.lr_curve(TrainConfig(schedule=schedule, warmup_epochs=1), 20)
    assert len(x) == len(y) > 0 and max(y) <= 1e-3 + 1e-12, schedule
assert "digits" in dataset_names.names() and engine.kernels.CLASSIC_KERNELS
engine.runs.RunHistory()
leaked = sorted(m for m in sys.modules if m.split(".")[0] in ("torch", "torchvision"))
assert not leaked, leaked
print("ok")
"""


def test_catalog_analysis_and_templates_need_no_torch():
    """The app's first window shows before torch is imported: the catalog, the analysis and
    the templates are arithmetic, and builders import torch only when they build; the training
    configuration, its schedule and the dataset names need neither torch nor numpy."""
    result = subprocess.run([sys.executable, "-c", NO_TORCH], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().endswith("ok")
