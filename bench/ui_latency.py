"""UI responsiveness while a ResNet-18-sized network trains in the app's worker thread.

A 10 ms QTimer on the UI thread records how late each tick fires while the worker trains
resnet18 (3×32×32, batch 32, CPU) on the procedural shapes set; then the same run trains
headless (engine Trainer, same thread count) in this process. Prints lateness p50/p99/max and
the app's training throughput relative to the headless trainer.

    .venv/bin/python bench/ui_latency.py [--batches 20]

Targets: p99 ≤ 20 ms, max ≤ 50 ms, throughput ≥ 0.9 of headless.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from PySide6.QtCore import QElapsedTimer, QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from designer.training.devices import training_threads  # noqa: E402
from designer.training.engine_adapter import run_trainer  # noqa: E402
from designer.training.worker import TrainingSession  # noqa: E402
from engine import data, templates  # noqa: E402
from engine.training import events as ev  # noqa: E402
from engine.training.config import TrainConfig  # noqa: E402
from engine.training.trainer import Trainer  # noqa: E402

TICK_MS = 10


def setup(batches: int):
    design = templates.build("resnet18", input_shape=(3, 32, 32), num_classes=4)
    n = int(batches * 32 / 0.8) + 8
    bundle = data.load("shapes", input_shape=(3, 32, 32), options={"n": n}, val_fraction=0.2, seed=0)
    config = TrainConfig(dataset="shapes", epochs=1, batch_size=32, optimizer="sgd", lr=0.01, device="cpu",
                         feature_map_nodes=[], seed=0)
    return design, bundle, config


def train_throughput(events: list) -> float:
    """Training samples per second of the (single) epoch, validation excluded."""
    started = next(e for e in events if isinstance(e, ev.RunStarted))
    epoch = next(e for e in events if isinstance(e, ev.EpochEnd))
    return started.train_size / epoch.seconds


def headless(design, bundle, config) -> float:
    torch.set_num_threads(training_threads())
    seen = []
    Trainer(design, config, dataset=bundle, on_event=seen.append).run()
    return train_throughput(seen)


def in_app(app, design, bundle, config) -> tuple[float, np.ndarray]:
    seen, lateness = [], []
    session = TrainingSession(design, {**config.to_dict(), "dataset_bundle": bundle}, run_trainer)
    session.event.connect(seen.append)
    clock = QElapsedTimer()
    timer = QTimer()
    timer.setInterval(TICK_MS)
    last = [None]

    def tick():
        now = clock.nsecsElapsed() / 1e6
        if last[0] is not None:
            lateness.append(max(0.0, now - last[0] - TICK_MS))
        last[0] = now

    timer.timeout.connect(tick)
    clock.start()
    timer.start()
    session.start()
    while session.is_running() or session.status == "running":
        app.processEvents()
        time.sleep(0.001)
    timer.stop()
    app.processEvents()
    session.shutdown()
    return train_throughput(seen), np.array(lateness)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=20, help="training batches per measured run")
    args = parser.parse_args()
    app = QApplication.instance() or QApplication([])
    design, bundle, config = setup(args.batches)
    print(f"resnet18 3×32×32, batch 32, {len(bundle.train)} training samples, CPU, "
          f"{training_threads()} of {os.cpu_count()} threads for training")
    app_rate, late = in_app(app, design, bundle, config)
    ref_rate = headless(design, bundle, config)
    p50, p99 = np.percentile(late, [50, 99]) if len(late) else (float("nan"),) * 2
    print(f"UI timer ({TICK_MS} ms, {len(late)} ticks) lateness: p50 {p50:.1f} ms, p99 {p99:.1f} ms, "
          f"max {late.max() if len(late) else float('nan'):.1f} ms   (targets p99 ≤ 20, max ≤ 50)")
    print(f"training: app worker {app_rate:.1f} samples/s, headless {ref_rate:.1f} samples/s, "
          f"ratio {app_rate / ref_rate:.3f}   (target ≥ 0.9)")


if __name__ == "__main__":
    main()
