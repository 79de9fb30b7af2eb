"""UI responsiveness while a ResNet-18-sized network trains in the app's worker thread.

The run is started the way the user starts it: through the training panel and controller of a
document holding resnet18 (3×32×32, 4 classes), batch 32, SGD, CPU, on the procedural shapes
set, with the views shown (curves redrawing, feature maps of the tapped layers, first-layer
filters, progress). A 10 ms QTimer on the UI thread records how late each tick fires, from the
moment the run reports it has started (model compiled, optimizer made) until it ends.

The same training (the run's own config: same taps, seed, thread count) then runs headless
(engine Trainer, no Qt) in this process. App and headless runs alternate A/B, B/A, … so the
load of a shared machine drifts over both alike. Prints lateness p50/p99/max over all app
runs, the per-round figures, and the app's training throughput relative to headless.

    .venv/bin/python bench/ui_latency.py [--batches 20] [--rounds 3]

Targets: p99 ≤ 20 ms, max ≤ 50 ms, throughput ≥ 0.9 of headless. The machine's load average
is printed: other processes competing for the cores inflate the lateness.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np
import torch
from PySide6.QtCore import QElapsedTimer, QTimer
from PySide6.QtWidgets import QApplication, QHBoxLayout, QWidget

from designer.document import Document
from designer.training import build_training_ui
from designer.training.devices import training_threads
from engine import data, templates
from engine.training import events as ev
from engine.training.config import TrainConfig
from engine.training.trainer import Trainer

TICK_MS = 10


def setup(batches: int):
    design = templates.build("resnet18", input_shape=(3, 32, 32), num_classes=4)
    n = int(batches * 32 / 0.8) + 8
    bundle = data.load("shapes", input_shape=(3, 32, 32), options={"n": n}, val_fraction=0.2, seed=0)
    return design, bundle


def train_throughput(events: list) -> float:
    """Training samples per second of the (single) epoch, validation excluded."""
    started = next(e for e in events if isinstance(e, ev.RunStarted))
    epoch = next(e for e in events if isinstance(e, ev.EpochEnd))
    return started.train_size / epoch.seconds


class AppUnderTest:
    """The training panel, views and controller on a document, shown (offscreen)."""

    def __init__(self, design, bundle, runs_root):
        self.document = Document(design)
        self.window = QWidget()
        panel, views, self.controller = build_training_ui(self.document, runs_root=runs_root, parent=self.window)
        layout = QHBoxLayout(self.window)
        layout.addWidget(panel, 1)
        layout.addWidget(views, 3)
        self.window.resize(1400, 820)
        self.window.show()
        app = QApplication.instance()
        while self.controller.dataset_loading():  # the panel's default dataset, loading in the background
            app.processEvents()
            time.sleep(0.005)
        c = self.controller
        c.raw_bundle = c.bundle = bundle
        c._fitted_for = None
        c.recheck()
        panel.set_config(TrainConfig(optimizer="sgd", lr=0.01, batch_size=32, epochs=1, device="cpu", seed=0))
        # The selected node's feature maps are drawn during the run, as when a student watches.
        conv = next(n for n, node in design.nodes.items() if node.block == "conv2d")
        self.document.set_selection([conv])
        views.setCurrentWidget(views.feature_maps)

    def run(self) -> tuple[float, np.ndarray, dict]:
        app = QApplication.instance()
        c = self.controller
        seen, lateness = [], []
        self.ticks, self.event_times = [], []  # for --trace: when the worst ticks happened
        clock = QElapsedTimer()
        timer = QTimer()
        timer.setInterval(TICK_MS)
        last = [None]

        def tick():
            now = clock.nsecsElapsed() / 1e6
            if last[0] is not None:
                lateness.append(max(0.0, now - last[0] - TICK_MS))
                self.ticks.append((now, lateness[-1]))
            last[0] = now

        def on_event(event):
            seen.append(event)
            self.event_times.append((clock.nsecsElapsed() / 1e6 if clock.isValid() else -1.0, type(event).__name__))
            if isinstance(event, ev.RunStarted):  # the worker is up: measure from here
                clock.start()
                timer.start()

        timer.timeout.connect(tick)
        c.start()
        assert c.session is not None, c.panel.error.text()
        c.session.event.connect(on_event)
        while c.session.is_running() or c.panel.start_button.isEnabled() is False:
            app.processEvents()
            time.sleep(0.001)
        timer.stop()
        app.processEvents()
        return train_throughput(seen), np.array(lateness), dict(c.record.config)


def headless(design, bundle, config: dict) -> float:
    torch.set_num_threads(training_threads())
    seen = []
    values = {k: v for k, v in config.items() if k in TrainConfig.__dataclass_fields__}
    Trainer(design, TrainConfig.from_dict(values), dataset=bundle, on_event=seen.append).run()
    return train_throughput(seen)


def summary(late: np.ndarray) -> str:
    if not len(late):
        return "no ticks"
    p50, p99 = np.percentile(late, [50, 99])
    return f"p50 {p50:.1f} ms, p99 {p99:.1f} ms, max {late.max():.1f} ms ({len(late)} ticks)"


def trace(under_test: AppUnderTest, worst: int = 6) -> None:
    """The worst ticks, each with the last event the UI thread handled before it."""
    for at, late in sorted(under_test.ticks, key=lambda t: -t[1])[:worst]:
        before = [name for t, name in under_test.event_times if t <= at]
        print(f"    {late:7.1f} ms late at {at / 1000:6.2f} s, after {before[-1] if before else '-'}"
              f" ({len(before)} events so far)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=20, help="training batches per measured run")
    parser.add_argument("--rounds", type=int, default=3, help="app/headless pairs, alternating order")
    parser.add_argument("--trace", action="store_true", help="print the worst ticks with the event before each")
    args = parser.parse_args()
    app = QApplication.instance() or QApplication([])  # noqa: F841 - kept alive for the whole run
    design, bundle = setup(args.batches)
    print(f"resnet18 3×32×32, batch 32, {len(bundle.train)} training samples, CPU, "
          f"{training_threads()} of {os.cpu_count()} threads for training; load average "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    with tempfile.TemporaryDirectory() as runs_root:
        under_test = AppUnderTest(design, bundle, runs_root)
        _, _, config = under_test.run()  # warm-up (first-use costs of torch and Qt), not counted
        app_rates, ref_rates, all_late = [], [], []
        for round_index in range(args.rounds):
            order = ("app", "headless") if round_index % 2 == 0 else ("headless", "app")
            for which in order:
                if which == "app":
                    rate, late, _ = under_test.run()
                    app_rates.append(rate)
                    all_late.append(late)
                    print(f"  round {round_index + 1} app:      {rate:7.1f} samples/s; UI lateness {summary(late)}")
                    if args.trace:
                        trace(under_test)
                else:
                    rate = headless(design, bundle, config)
                    ref_rates.append(rate)
                    print(f"  round {round_index + 1} headless: {rate:7.1f} samples/s")
        under_test.controller.shutdown()
        under_test.window.close()
    late = np.concatenate(all_late)
    ratio = float(np.median(app_rates) / np.median(ref_rates))
    print(f"UI timer ({TICK_MS} ms) lateness over {args.rounds} app runs: {summary(late)}   "
          f"(targets p99 ≤ 20, max ≤ 50)")
    print(f"training: app worker {np.median(app_rates):.1f} samples/s, headless {np.median(ref_rates):.1f} "
          f"samples/s (medians), ratio {ratio:.3f}   (target ≥ 0.9)")
    print(f"load average at the end {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
