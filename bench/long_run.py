"""Long runs: what the files of one epoch cost at epoch 10 and at epoch 1,000 (issue 13).

No training: a synthetic history (10 classes, each row with its confusion matrix in memory, as
the trainer keeps the latest) and a small model's state. One "epoch" of file writing is what
``Trainer._epoch_done`` does after an improving epoch: build the checkpoint dict (bounded
history), save last.pt and best.pt, append the row to metrics.jsonl and metrics.csv. The same is
timed for the format before (metrics.json rewritten whole with every row's matrix, checkpoints
carrying every row), which grows with the epoch. Prints the median of ``--repeats`` epochs and
the ratio epoch 1,000 / epoch 10 (target: about 1), and the CPU time of turning the metrics
into text alone (``json.dumps``, which holds the GIL in the training thread).

    .venv/bin/python bench/long_run.py [--repeats 15] [--classes 10]
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch

from engine.persistence import atomic_write_text
from engine.training import rundir


def synthetic_history(n: int, classes: int) -> list[dict]:
    rows = []
    for e in range(1, n + 1):
        rows.append({"epoch": e, "train_loss": 1.0 / e, "train_accuracy": 0.9, "val_loss": 0.5 + 1.0 / e,
                     "val_accuracy": 0.8, "val_top5": None, "lr": 0.01 * 0.99 ** e, "seconds": 1.5})
    rows[-1]["confusion"] = [[(i * 7 + j * 3 + n) % 50 for j in range(classes)] for i in range(classes)]
    return rows


def model_state() -> dict:
    model = torch.nn.Sequential(torch.nn.Conv2d(1, 8, 3), torch.nn.ReLU(), torch.nn.Flatten(),
                                torch.nn.Linear(8 * 26 * 26, 10))  # ~54 k parameters, LeNet-sized
    return rundir.cpu_state(model)


def new_epoch(folder: Path, history: list[dict], state: dict, log: rundir.MetricsLog) -> float:
    """The files of one epoch, as the trainer writes them now; seconds."""
    start = time.perf_counter()
    checkpoint = {"format": rundir.CHECKPOINT_FORMAT, "version": 2, "model": state, "epoch": len(history),
                  **rundir.bounded_history(history)}
    rundir.save_checkpoint(folder / "checkpoints" / "last.pt", checkpoint)
    rundir.save_checkpoint(folder / "checkpoints" / "best.pt", checkpoint)
    log.write(history)
    return time.perf_counter() - start


def old_epoch(folder: Path, history: list[dict], state: dict) -> float:
    """The same, as it was: every row (each with its matrix) in the checkpoint and in metrics.json."""
    start = time.perf_counter()
    checkpoint = {"format": rundir.CHECKPOINT_FORMAT, "version": 1, "model": state, "epoch": len(history),
                  "history": [dict(r) for r in history]}
    rundir.save_checkpoint(folder / "checkpoints" / "last.pt", checkpoint)
    rundir.save_checkpoint(folder / "checkpoints" / "best.pt", checkpoint)
    atomic_write_text(folder / "metrics.json", json.dumps(history, indent=2) + "\n")
    return time.perf_counter() - start


def measure(epoch: int, repeats: int, classes: int, state: dict, root: Path) -> tuple[float, float]:
    new, old = [], []
    for r in range(repeats):
        history = synthetic_history(epoch, classes)
        full = [dict(row, confusion=history[-1]["confusion"]) for row in history]  # before: every row kept one
        folder = root / f"e{epoch}-{r}"
        (folder / "checkpoints").mkdir(parents=True)
        log = rundir.MetricsLog(folder)
        log.write(history[:-1])  # the run so far (a run writes its files whole once, at its first epoch)
        new.append(new_epoch(folder, history, state, log))
        old.append(old_epoch(folder, full, state))
    return statistics.median(new), statistics.median(old)


def _cpu(work, repeats: int = 20) -> float:
    """Median CPU seconds of ``work()``."""
    times = []
    for _ in range(repeats):
        start = time.process_time()
        work()
        times.append(time.process_time() - start)
    return statistics.median(times)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=15)
    p.add_argument("--classes", type=int, default=10)
    args = p.parse_args()
    state = model_state()
    with tempfile.TemporaryDirectory(prefix="nd-long-run-") as tmp:
        root = Path(tmp)
        results = {e: measure(e, args.repeats, args.classes, state, root) for e in (10, 1000)}
        sizes = {}
        for e in (10, 1000):
            folder = root / f"e{e}-0"
            sizes[e] = (folder / "metrics.jsonl").stat().st_size, (folder / "metrics.json").stat().st_size
    print(f"per-epoch file writing, median of {args.repeats} (last.pt + best.pt + metrics; {args.classes} classes)")
    print(f"{'':>10} {'epoch 10':>10} {'epoch 1000':>11} {'ratio':>7}")
    for i, name in enumerate(("now", "before")):
        a, b = results[10][i] * 1e3, results[1000][i] * 1e3
        print(f"{name:>10} {a:>8.2f} ms {b:>8.2f} ms {b / a:>6.2f}×")
    for e in (10, 1000):
        history = synthetic_history(e, args.classes)
        full = [dict(row, confusion=history[-1]["confusion"]) for row in history]
        now = _cpu(lambda: rundir._json_line(history[-1]))
        before = _cpu(lambda: json.dumps(full, indent=2))
        print(f"metrics to text at epoch {e}: now {now * 1e3:.3f} ms (one line), before {before * 1e3:.2f} ms "
              "(every row)")
    print(f"metrics file at epoch 1000: metrics.jsonl {sizes[1000][0] / 1024:.0f} KB, appended one line an epoch "
          f"(before: metrics.json {sizes[1000][1] / 1024:.0f} KB rewritten every epoch)")


if __name__ == "__main__":
    main()
