"""Where runs are kept, one rule for the command line and the app: ``$ND_RUNS_DIR`` if set, else
``runs/`` in the current folder. So a user who trains from both sees every run in the same
folder, and ``tensorboard --logdir runs/`` shows them all. (No torch here: the app's first
window asks for it.)"""
from __future__ import annotations

import os
from pathlib import Path

RUNS_ENV = "ND_RUNS_DIR"


def default_runs_dir() -> Path:
    return Path(os.environ.get(RUNS_ENV) or "runs")
