"""Trainer overhead: the engine's Trainer (events at 30 Hz and feature-map sampling on) against a
bare hand-written PyTorch loop, same design, same initial weights, same data, interleaved in one
run. Prints the training throughput (samples/s) of each and the ratio (target ≥ 0.97).

Only the training pass is timed: for the trainer, from its RunStarted event to the end-of-epoch
progress event (setup, validation and checkpoint writing are outside); for the loop, the same
epoch of steps. The loop does the same per-batch data work (uint8 → float, normalise).

    .venv/bin/python bench/trainer_overhead.py [--rounds 5] [--threads 1]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch
from torch.nn import functional as F

from engine import compile_design, data
from engine.templates import build
from engine.training import TrainConfig, Trainer, events

SHAPE = (1, 32, 32)


def trainer_epoch(design, bundle, config) -> tuple[float, int]:
    marks = {}
    maps = []

    def on_event(e):
        if isinstance(e, events.RunStarted):
            marks["start"] = time.perf_counter()
        elif isinstance(e, events.BatchProgress) and e.batch == e.batches:
            marks["end"] = time.perf_counter()
        elif isinstance(e, events.FeatureMaps):
            maps.append(e)
        elif isinstance(e, events.Error):
            raise SystemExit(f"trainer failed: {e.message}")
    Trainer(design, config, dataset=bundle, on_event=on_event).run()
    return marks["end"] - marks["start"], len(maps)


def bare_epoch(design, bundle, config) -> float:
    torch.manual_seed(config.seed)  # the trainer seeds the same way before compiling: same initial weights
    model = compile_design(design)
    model.train()
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    x_all, y_all = bundle.train.x, bundle.train.y
    mean = torch.tensor(bundle.mean).view(1, -1, 1, 1)
    std = torch.tensor(bundle.std).view(1, -1, 1, 1)
    order = torch.randperm(len(y_all), generator=torch.Generator().manual_seed(config.seed))
    bs = config.batch_size
    start = time.perf_counter()
    for i in range(0, len(order), bs):
        index = order[i:i + bs]
        x = (x_all[index].float() / 255 - mean) / std
        loss = F.cross_entropy(model(x), y_all[index])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (1: steadier on a shared machine)")
    parser.add_argument("--n", type=int, default=3000, help="samples in the shapes dataset")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    design = build("lenet5", input_shape=SHAPE, num_classes=4)
    bundle = data.load("shapes", input_shape=SHAPE, options={"n": args.n})
    config = TrainConfig(dataset="shapes", epochs=1, batch_size=64, optimizer="adam", lr=1e-3, seed=0,
                         feature_map_nodes=["conv1", "conv2"], num_threads=args.threads)
    n = len(bundle.train)
    trainer_epoch(design, bundle, config)  # warm-up (allocator, lazy imports)
    bare_epoch(design, bundle, config)
    trainer_rates, bare_rates, samples = [], [], 0
    for r in range(args.rounds):
        runs = [("trainer", trainer_epoch), ("bare", bare_epoch)]
        for name, fn in (runs if r % 2 == 0 else runs[::-1]):  # alternate who goes first
            result = fn(design, bundle, config)
            if name == "trainer":
                seconds, sampled = result
                samples += sampled
                trainer_rates.append(n / seconds)
            else:
                bare_rates.append(n / result)
    trainer_rate, bare_rate = statistics.median(trainer_rates), statistics.median(bare_rates)
    print(f"lenet5 on shapes {SHAPE}, {n} samples/epoch, batch 64, {args.rounds} interleaved rounds, "
          f"{torch.get_num_threads()} thread(s); trainer sampled feature maps {samples} times")
    print(f"trainer     {trainer_rate:10,.0f} samples/s  (rounds: {', '.join(f'{r:,.0f}' for r in trainer_rates)})")
    print(f"bare loop   {bare_rate:10,.0f} samples/s  (rounds: {', '.join(f'{r:,.0f}' for r in bare_rates)})")
    paired = statistics.median(t / b for t, b in zip(trainer_rates, bare_rates))
    print(f"ratio trainer/bare = {trainer_rate / bare_rate:.3f} (medians), {paired:.3f} (median of per-round "
          "ratios)  (target ≥ 0.97)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
