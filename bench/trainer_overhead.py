"""Trainer overhead: the engine's Trainer (events at 30 Hz and feature-map sampling on) against a
bare hand-written PyTorch loop, same design, same initial weights, same data, interleaved in one
run. Prints the training throughput (samples/s) of each and the ratio (target ≥ 0.99), by wall
clock and by CPU time (this process's, all threads; one torch thread) — on a machine shared with
other work only the CPU-time ratio is steady.

Only the training pass is timed: for the trainer, from its RunStarted event to the end-of-epoch
progress event (setup, validation and checkpoint writing are outside); for the loop, the same
epoch of steps. The loop does the same per-batch data work (uint8 → float, normalise).

It also times the trainer with training-health sampling off (``health_interval=0``; on, it
samples gradient norms and dead ReLUs every 50 steps) and prints what the sampling costs
(target ≤ 2 %, issue 19).

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
            marks["start"] = time.perf_counter(), time.process_time()
        elif isinstance(e, events.BatchProgress) and e.batch == e.batches:
            marks["end"] = time.perf_counter(), time.process_time()
        elif isinstance(e, events.FeatureMaps):
            maps.append(e)
        elif isinstance(e, events.Error):
            raise SystemExit(f"trainer failed: {e.message}")
    Trainer(design, config, dataset=bundle, on_event=on_event).run()
    (wall0, cpu0), (wall1, cpu1) = marks["start"], marks["end"]
    return wall1 - wall0, cpu1 - cpu0, len(maps)


def bare_epoch(design, bundle, config) -> tuple[float, float]:
    torch.manual_seed(config.seed)  # the trainer seeds the same way before compiling: same initial weights
    model = compile_design(design)
    model.train()
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    x_all, y_all = bundle.train.x, bundle.train.y
    mean = torch.tensor(bundle.mean).view(1, -1, 1, 1)
    std = torch.tensor(bundle.std).view(1, -1, 1, 1)
    order = torch.randperm(len(y_all), generator=torch.Generator().manual_seed(config.seed))
    bs = config.batch_size
    start, cpu_start = time.perf_counter(), time.process_time()
    for i in range(0, len(order), bs):
        index = order[i:i + bs]
        x = (x_all[index].float() / 255 - mean) / std
        loss = F.cross_entropy(model(x), y_all[index])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return time.perf_counter() - start, time.process_time() - cpu_start


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
    trainer_cpu, bare_cpu = [], []  # CPU seconds per epoch: what other processes' load does not inflate
    no_health_cpu = []
    no_health = config.replace(health_interval=0)
    for r in range(args.rounds):
        runs = [("trainer", trainer_epoch), ("bare", bare_epoch), ("no-health", trainer_epoch)]
        for name, fn in (runs if r % 2 == 0 else runs[::-1]):  # alternate who goes first
            result = fn(design, bundle, no_health if name == "no-health" else config)
            if name == "trainer":
                seconds, cpu, sampled = result
                samples += sampled
                trainer_rates.append(n / seconds)
                trainer_cpu.append(cpu)
            elif name == "no-health":
                no_health_cpu.append(result[1])
            else:
                bare_rates.append(n / result[0])
                bare_cpu.append(result[1])
    trainer_rate, bare_rate = statistics.median(trainer_rates), statistics.median(bare_rates)
    print(f"lenet5 on shapes {SHAPE}, {n} samples/epoch, batch 64, {args.rounds} interleaved rounds, "
          f"{torch.get_num_threads()} thread(s); trainer sampled feature maps {samples} times")
    print(f"trainer     {trainer_rate:10,.0f} samples/s  (rounds: {', '.join(f'{r:,.0f}' for r in trainer_rates)})")
    print(f"bare loop   {bare_rate:10,.0f} samples/s  (rounds: {', '.join(f'{r:,.0f}' for r in bare_rates)})")
    paired = statistics.median(t / b for t, b in zip(trainer_rates, bare_rates))
    print(f"ratio trainer/bare = {trainer_rate / bare_rate:.3f} (medians), {paired:.3f} (median of per-round "
          "ratios)  (target ≥ 0.99)")
    cpu_ratio = statistics.median(b / t for t, b in zip(trainer_cpu, bare_cpu))
    print(f"CPU time per epoch: trainer {statistics.median(trainer_cpu):.3f} s, bare {statistics.median(bare_cpu):.3f} s; "
          f"throughput by CPU time, trainer/bare = {cpu_ratio:.3f} (median of per-round ratios; steady on a loaded "
          "machine, where wall-clock rounds are not)")
    health_ratio = statistics.median(h / t for t, h in zip(trainer_cpu, no_health_cpu))
    print(f"health sampling (every {config.health_interval} steps): throughput by CPU time with/without = "
          f"{health_ratio:.3f}, a cost of {1 - health_ratio:+.1%} (target ≤ 2 %)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
