"""The acceptance check: LeNet-5 on the bundled 8×8 digits reaches ≥ 97 % validation accuracy
in ≤ 60 s on a 2-core CPU. Run ``python -m engine.training.check`` (or ``make train-check``);
it prints the time and the accuracy and exits 1 if either target is missed.

The digits are upscaled to 32×32 (bilinear) so the classic LeNet-5 geometry applies unchanged.
One torch thread: on a busy 2-core machine a second OpenMP thread mostly waits for the other.
"""
from __future__ import annotations

import sys
import time

RECIPE = dict(dataset="digits", epochs=15, batch_size=32, optimizer="adam", lr=2e-3, schedule="cosine", seed=0,
              num_threads=1)
TARGET_ACCURACY, TARGET_SECONDS = 0.97, 60.0


def lenet5_digits(run_dir=None, **overrides):
    """Train the recipe; returns (Finished event, wall-clock seconds including data and compile)."""
    from ..templates import build
    from . import TrainConfig, Trainer
    start = time.perf_counter()
    design = build("lenet5", input_shape=(1, 32, 32), num_classes=10)
    finished = Trainer(design, TrainConfig(**{**RECIPE, **overrides}), run_dir=run_dir).run()
    return finished, time.perf_counter() - start


def main() -> int:
    finished, seconds = lenet5_digits()
    if finished.reason != "completed":
        print(f"lenet5 on digits: the run ended with {finished.reason}")
        return 1
    final = finished.history[-1]["val_accuracy"]
    ok = final >= TARGET_ACCURACY and seconds <= TARGET_SECONDS
    print(f"lenet5 on digits (8×8 → 32×32), {RECIPE['epochs']} epochs: validation accuracy {final:.2%} "
          f"(best {finished.best_value:.2%}), {seconds:.1f} s — targets ≥ {TARGET_ACCURACY:.0%} in ≤ "
          f"{TARGET_SECONDS:.0f} s: {'met' if ok else 'MISSED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
