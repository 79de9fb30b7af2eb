"""Explain methods on the digits with LeNet-5: each method's time, and its ratio to one training
epoch measured in the same run (target: each ≤ 5 s).

One epoch of the template `lenet5` (1×32×32, the digits resized) is trained with the engine's
Trainer into a temporary run folder; the epoch time is the training pass (RunStarted to the
epoch's last batch, as bench/trainer_overhead.py measures it). Each method then runs as
`main.py explain` runs it on that run folder (defaults: k = 8, occlusion patch 4 stride 2,
64 maximisation steps), first call included (it compiles the tapped network); "+PNG" adds
drawing and writing its figure.

    .venv/bin/python bench/explain.py [--threads 1] [--epochs 1]
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch

from engine import explain as ex
from engine.explain import figures
from engine.explain.render import save
from engine.templates import build
from engine.training import TrainConfig, Trainer, events

TARGET = 5.0


def train(design, run_dir: Path, epochs: int) -> float:
    marks = {}

    def on_event(e):
        if isinstance(e, events.RunStarted):
            marks["start"] = time.perf_counter()
        elif isinstance(e, events.BatchProgress) and e.batch == e.batches and "end" not in marks:
            marks["end"] = time.perf_counter()
        elif isinstance(e, events.Error):
            raise SystemExit(f"training failed: {e.message}")

    config = TrainConfig(dataset="digits", epochs=epochs, batch_size=64, seed=0)
    Trainer(design, config, on_event=on_event, run_dir=run_dir).run()
    return marks["end"] - marks["start"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1; 0 = torch's)")
    parser.add_argument("--epochs", type=int, default=1)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    design = build("lenet5", (1, 32, 32), 10)
    with tempfile.TemporaryDirectory() as tmp:
        run, out = Path(tmp) / "run", Path(tmp) / "png"
        epoch = train(design, run, args.epochs)
        start = time.perf_counter()
        explainer, bundle = ex.load_explainer(design, run)
        load = time.perf_counter() - start
        val = bundle.val
        sample = val[0][0].numpy()
        classes = explainer.classes
        methods = [
            ("top patches conv1 (6 ch)", lambda: ex.top_patches(explainer, val, "conv1", k=8),
             lambda r: figures.patches_figure(r, classes)),
            ("top patches conv2 (16 ch)", lambda: ex.top_patches(explainer, val, "conv2", k=8),
             lambda r: figures.patches_figure(r, classes)),
            ("occlusion 4 px / 2", lambda: ex.occlusion(explainer, sample, size=4, stride=2),
             lambda r: figures.heatmap_figure(r, classes)),
            ("Grad-CAM conv2", lambda: ex.gradcam(explainer, sample, "conv2"),
             lambda r: figures.heatmap_figure(r, classes)),
            ("saliency", lambda: ex.saliency(explainer, sample), lambda r: figures.heatmap_figure(r, classes)),
            ("maximise conv2 (16 ch)", lambda: ex.maximise(explainer, "conv2"),
             lambda r: figures.maximised_figure(r, classes)),
            ("maximise class 3", lambda: ex.maximise(explainer, None, class_index=3),
             lambda r: figures.maximised_figure(r, classes)),
            ("neighbours + PCA", lambda: (ex.nearest_neighbours(explainer, val, 0),
                                          ex.projection(explainer, val)),
             lambda r: (figures.neighbours_figure(r[0], classes), figures.projection_figure(r[1], classes))),
        ]
        print(f"LeNet-5 on the digits ({len(bundle.train)} train / {len(val)} validation, 1x32x32), "
              f"torch threads {torch.get_num_threads()}")
        print(f"one training epoch: {epoch:.2f} s; loading the run for explain: {load:.2f} s")
        print(f"{'method':28s} {'time':>8s} {'/epoch':>8s} {'+PNG':>8s}  target <= {TARGET:.0f} s")
        worst = 0.0
        for i, (name, compute, draw) in enumerate(methods):
            t0 = time.perf_counter()
            result = compute()
            t1 = time.perf_counter()
            pictures = draw(result)
            for j, picture in enumerate(pictures if isinstance(pictures, tuple) else (pictures,)):
                save(picture, out / f"{i}-{j}.png")
            t2 = time.perf_counter()
            worst = max(worst, t2 - t0)
            print(f"{name:28s} {t1 - t0:7.2f}s {(t1 - t0) / epoch:7.2f}x {t2 - t0:7.2f}s  "
                  f"{'ok' if t2 - t0 <= TARGET else 'OVER'}")
        print(f"slowest with its PNG: {worst:.2f} s ({'within' if worst <= TARGET else 'over'} the {TARGET:.0f} s target)")


if __name__ == "__main__":
    main()
