"""UI responsiveness and training throughput while a run trains in the app's worker thread,
with each training view in front (Curves, Inside the network, Kernel playground, Runs).

The run is started the way the user starts it: through the training panel and controller of a
document, with the views shown. A 10 ms QTimer on the UI thread records how late each tick fires,
from the moment the run reports it has started until it ends. The same training (the run's own
config: same taps, seed, thread count) also runs headless (engine Trainer, no Qt) in this
process (with a run folder, as the CLI's ``train``); app and headless runs alternate A/B, B/A, … so the load of a shared machine drifts
over both alike. For each view: lateness p50/p99/max over its app runs, the app's training
throughput relative to headless (medians), and the UI thread's CPU time as a share of the run's
duration (the UI thread's Python work is what competes with the trainer for the GIL; unlike
lateness and throughput it barely depends on other processes loading the machine).

Two workloads (``--model``):

* ``small`` (default): the small CNN of the tests on the bundled digits (1×8×8, batch 64) for
  ``--epochs`` epochs. Tiny batches: events arrive at the trainer's full rate (30 Hz) and the
  curves grow by hundreds of points, so what the views cost on the UI thread shows directly in
  the trainer's throughput (both share the GIL). Issue 13's case: the Curves view in front made
  a 40-epoch run 8× slower.
* ``resnet18``: ResNet-18 (3×32×32, 4 classes) on the procedural shapes, batch 32, ``--batches``
  batches of one epoch: heavy batches, few events.

    .venv/bin/python bench/ui_latency.py [--model small] [--epochs 10] [--rounds 3]
        [--views curves,feature_maps,kernels,runs] [--trace]

Targets (issue 13): with every view in front, including Curves, throughput ≥ 0.95 of headless
and the UI never late by more than 16 ms. The machine's load average is printed: other
processes competing for the two cores inflate the lateness.
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
from PySide6.QtCore import QElapsedTimer, QEventLoop, QTimer
from PySide6.QtWidgets import QApplication, QHBoxLayout, QWidget

from designer.app import make_application
from designer.document import Document
from designer.training import build_training_ui
from designer.training.devices import training_threads
from engine import Design, data, templates
from engine.training import events as ev
from engine.training.config import TrainConfig
from engine.training.trainer import Trainer

TICK_MS = 10
VIEWS = ("curves", "feature_maps", "kernels", "runs")


def small_cnn() -> Design:
    d = Design("small cnn", num_classes=10)
    d.chain(("input", {"shape": [1, 8, 8]}), ("conv2d", {"out_channels": 8, "kernel": 3, "padding": 1}),
            "relu", ("maxpool2d", {"kernel": 2}), ("conv2d", {"out_channels": 16, "kernel": 3, "padding": 1}),
            "relu", "flatten", ("linear", {"out_features": 10}), "output")
    return d


def setup(model: str, batches: int, epochs: int):
    """(design, dataset, config) of the workload."""
    if model == "small":
        config = TrainConfig(optimizer="adam", lr=1e-3, batch_size=64, epochs=epochs, device="cpu", seed=0)
        return small_cnn(), data.load("digits", val_fraction=0.2, seed=0), config
    design = templates.build("resnet18", input_shape=(3, 32, 32), num_classes=4)
    n = int(batches * 32 / 0.8) + 8
    bundle = data.load("shapes", input_shape=(3, 32, 32), options={"n": n}, val_fraction=0.2, seed=0)
    return design, bundle, TrainConfig(optimizer="sgd", lr=0.01, batch_size=32, epochs=1, device="cpu", seed=0)


def train_throughput(events: list) -> float:
    """Training samples per second over the run's epochs (each epoch's own time)."""
    started = next(e for e in events if isinstance(e, ev.RunStarted))
    epochs = [e for e in events if isinstance(e, ev.EpochEnd)]
    return started.train_size * len(epochs) / sum(e.seconds for e in epochs)


class AppUnderTest:
    """The training panel, views and controller on a document, shown (offscreen)."""

    def __init__(self, design, bundle, config, runs_root):
        self.document = Document(design)
        self.window = QWidget()
        panel, self.views, self.controller = build_training_ui(self.document, runs_root=runs_root,
                                                               parent=self.window)
        layout = QHBoxLayout(self.window)
        layout.addWidget(panel, 1)
        layout.addWidget(self.views, 3)
        self.window.resize(1400, 820)
        self.window.show()
        app = QApplication.instance()
        while self.controller.dataset_loading():  # the panel's default dataset, loading in the background
            app.processEvents()
            time.sleep(0.005)
        c = self.controller
        c.set_bundle(bundle)
        panel.set_config(config)
        # The selected node's feature maps are drawn during the run, as when a student watches.
        conv = next(n for n, node in design.nodes.items() if node.block == "conv2d")
        self.document.set_selection([conv])

    def show(self, view: str) -> None:
        self.views.setCurrentWidget(getattr(self.views, view))
        QApplication.instance().processEvents()

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
            elif isinstance(event, ev.Finished):
                timer.stop()

        timer.timeout.connect(tick)
        loop = QEventLoop()
        c.run_finished.connect(loop.quit)
        cpu = time.thread_time()
        c.start()
        assert c.session is not None, c.panel.error.text()
        c.session.trainer_event.connect(on_event)
        loop.exec()  # the app's own event loop, until the run has finished and its weights are read
        self.ui_cpu = time.thread_time() - cpu  # the UI thread's CPU time over the run
        c.run_finished.disconnect(loop.quit)
        timer.stop()
        app.processEvents()
        self.seconds = next(e.seconds for e in seen if isinstance(e, ev.Finished))
        return train_throughput(seen), np.array(lateness), dict(c.record.config)


def headless(design, bundle, config: dict) -> float:
    """The same run as ``python main.py train`` makes it: no Qt, and a run folder (checkpoints,
    metrics and the TensorBoard log cost the trainer 1–6 % on the small model, in the app and out
    of it alike), so that the ratio is what the app's UI costs the run."""
    torch.set_num_threads(training_threads())
    seen = []
    values = {k: v for k, v in config.items() if k in TrainConfig.__dataclass_fields__}
    with tempfile.TemporaryDirectory() as folder:
        Trainer(design, TrainConfig.from_dict(values), dataset=bundle, on_event=seen.append,
                run_dir=os.path.join(folder, "run")).run()
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


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=("small", "resnet18"), default="small")
    parser.add_argument("--epochs", type=int, default=10, help="epochs per run (small)")
    parser.add_argument("--batches", type=int, default=20, help="training batches per run (resnet18)")
    parser.add_argument("--rounds", type=int, default=3, help="app/headless pairs per view, alternating order")
    parser.add_argument("--views", default=",".join(VIEWS), help=f"comma-separated, of {', '.join(VIEWS)}")
    parser.add_argument("--trace", action="store_true", help="print the worst ticks with the event before each")
    args = parser.parse_args()
    views = [v.strip() for v in args.views.split(",") if v.strip()]
    unknown = set(views) - set(VIEWS)
    if unknown:
        parser.error(f"unknown view(s): {', '.join(sorted(unknown))}")
    app = make_application()  # noqa: F841 - as the app makes it (its cycle collector on the UI thread)
    design, bundle, config = setup(args.model, args.batches, args.epochs)
    print(f"{args.model}: {design.name} {'×'.join(map(str, bundle.input_shape))}, batch {config.batch_size}, "
          f"{config.epochs} epoch(s) of {len(bundle.train)} training samples, CPU, {training_threads()} of "
          f"{os.cpu_count()} threads for training; load average {load_average()}")
    results = {}
    with tempfile.TemporaryDirectory() as runs_root:
        under_test = AppUnderTest(design, bundle, config, runs_root)
        under_test.show(views[0])
        _, _, run_config = under_test.run()  # warm-up (first-use costs of torch and Qt), not counted
        for view in views:
            under_test.show(view)
            app_rates, ref_rates, all_late, busy = [], [], [], []
            for round_index in range(args.rounds):
                order = ("app", "headless") if round_index % 2 == 0 else ("headless", "app")
                for which in order:
                    if which == "app":
                        rate, late, _ = under_test.run()
                        app_rates.append(rate)
                        all_late.append(late)
                        busy.append(under_test.ui_cpu / under_test.seconds)
                        print(f"  {view:12s} round {round_index + 1} app:      {rate:8.1f} samples/s; UI thread "
                              f"busy {busy[-1]:.0%}; lateness {summary(late)}", flush=True)
                        if args.trace:
                            trace(under_test)
                    else:
                        rate = headless(design, bundle, run_config)
                        ref_rates.append(rate)
                        print(f"  {view:12s} round {round_index + 1} headless: {rate:8.1f} samples/s", flush=True)
            late = np.concatenate(all_late)
            ratio = float(np.median(app_rates) / np.median(ref_rates))
            results[view] = (ratio, late, float(np.median(busy)))
        under_test.controller.shutdown()
        under_test.window.close()
    print(f"\nper view in front ({args.rounds} app runs each; UI timer {TICK_MS} ms; "
          "targets: ratio ≥ 0.95, max lateness ≤ 16 ms):")
    for view, (ratio, late, busy) in results.items():
        print(f"  {view:12s} throughput app/headless {ratio:.3f}   UI thread busy {busy:4.0%}   "
              f"lateness {summary(late)}")
    print(f"load average at the end {load_average()}")


if __name__ == "__main__":
    main()
