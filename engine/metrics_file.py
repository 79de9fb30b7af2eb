"""Reading a run folder's per-epoch metrics, without torch (the run table reads them while torch
may still be importing; engine.training.rundir writes them and re-exports :func:`read_metrics`).

``RUN_DIR/metrics.jsonl`` holds one JSON object per finished epoch; a line torn by a crash
mid-append, or damaged, is skipped. Folders written before hold ``metrics.json``, a list.
"""
from __future__ import annotations

import json
from pathlib import Path

METRICS_FILE = "metrics.jsonl"
OLD_METRICS_FILE = "metrics.json"  # older run folders: a list of every row, rewritten every epoch


def read_metrics(run_dir) -> list[dict]:
    """The rows of a run folder, oldest first; no file, or one that cannot be read: []."""
    run_dir = Path(run_dir)
    path = run_dir / METRICS_FILE
    if path.is_file():
        rows = []
        try:
            with open(path, encoding="utf-8", errors="replace") as f:
                for line in f:
                    try:
                        row = json.loads(line)
                    except ValueError:
                        continue
                    if isinstance(row, dict):
                        rows.append(row)
        except OSError:
            return []
        return rows
    old = run_dir / OLD_METRICS_FILE
    if old.is_file():
        try:
            rows = json.loads(old.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return []
        return [r for r in rows if isinstance(r, dict)] if isinstance(rows, list) else []
    return []
