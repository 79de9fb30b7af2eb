"""Distributed training throughput: the same design, data and global batch trained by one process
and by N processes under torchrun (gloo on the CPU, NCCL on GPUs), each for the same epochs.
Prints samples per second of training (from the epochs' own timings, so process start-up is
outside) and the ratio N-process / 1-process.

On a CPU-only machine the processes share the cores, so the ratio says what the communication
costs rather than what scaling gains; on N GPUs it is the speed-up.

    .venv/bin/python bench/distributed.py [--nproc 2] [--epochs 3] [--batch-size 64]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.templates import build
from engine.training import TrainConfig, Trainer, events
from engine.training.distributed import DistributedRun


def rate(epochs: list, train_size: int) -> float:
    """Training samples per second, the median over the epochs after the first (warm-up)."""
    times = [e.seconds for e in epochs[1:]] or [e.seconds for e in epochs]
    return train_size / statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nproc", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--threads", type=int, default=1, help="torch threads per process")
    args = parser.parse_args()
    design = build("lenet5", input_shape=(1, 28, 28), num_classes=10)
    config = TrainConfig(dataset="digits", epochs=args.epochs, batch_size=args.batch_size, optimizer="sgd", lr=0.05,
                         seed=0, num_threads=args.threads)
    with tempfile.TemporaryDirectory() as folder:
        alone: list = []
        Trainer(design, config, on_event=alone.append, run_dir=Path(folder) / "one").run()
        together: list = []
        finished = DistributedRun(design, config, Path(folder) / "many", args.nproc, on_event=together.append).run()
    if finished.reason != "completed":
        raise SystemExit(f"the distributed run ended: {[e.message for e in together if isinstance(e, events.Error)]}")
    size = next(e for e in alone if isinstance(e, events.RunStarted)).train_size
    one = rate([e for e in alone if isinstance(e, events.EpochEnd)], size)
    many = rate([e for e in together if isinstance(e, events.EpochEnd)], size)
    last_one = [e for e in alone if isinstance(e, events.EpochEnd)][-1]
    last_many = [e for e in together if isinstance(e, events.EpochEnd)][-1]
    print(f"lenet5 on the digits, global batch {args.batch_size}, {args.epochs} epochs, {args.threads} thread(s) "
          "per process")
    print(f"1 process      {one:10,.0f} samples/s   final train loss {last_one.train_loss:.6f}, "
          f"val accuracy {last_one.val_accuracy:.4f}")
    print(f"{args.nproc} processes    {many:10,.0f} samples/s   final train loss {last_many.train_loss:.6f}, "
          f"val accuracy {last_many.val_accuracy:.4f}")
    print(f"ratio {args.nproc}-process / 1-process throughput = {many / one:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
