"""Forward + backward time of compiled templates against the torchvision models they mirror.

    .venv/bin/python bench/compiled_vs_reference.py [--batch 8] [--size 224] [--rounds 7] [--threads N]

Both models of a pair get the same weights and input; their steps alternate within each
round (so machine noise hits both alike) and the median over rounds is compared.
ratio = torchvision time / compiled time: ≥ 1 means the compiled graph is as fast; the
target is ≥ 0.98 (the fx graph adds no overhead).
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch
import torchvision

from engine import templates
from engine.compile import compile_design
from engine.pretrained import load_torchvision_state_dict


def step(model, x, target):
    model.zero_grad(set_to_none=True)
    loss = torch.nn.functional.cross_entropy(model(x), target)
    loss.backward()


def timed(model, x, target) -> float:
    start = time.perf_counter()
    step(model, x, target)
    return time.perf_counter() - start


def compare(name: str, make_reference, batch: int, size: int, rounds: int) -> float:
    torch.manual_seed(0)
    reference = make_reference().train()
    design = templates.build(name, (3, size, size), 1000)
    compiled = compile_design(design).train()
    load_torchvision_state_dict(compiled, design, reference)
    x = torch.randn(batch, 3, size, size)
    target = torch.randint(0, 1000, (batch,))
    for model in (reference, compiled):  # warm-up: allocator, oneDNN primitives
        step(model, x, target)
    ours, theirs = [], []
    for r in range(rounds):
        pair = [(compiled, ours), (reference, theirs)]
        for model, times in (pair if r % 2 == 0 else pair[::-1]):  # alternate who goes first
            times.append(timed(model, x, target))
    t_ours, t_ref = statistics.median(ours), statistics.median(theirs)
    ratio = t_ref / t_ours
    print(f"{name:10s} batch {batch} {size}×{size}: compiled {t_ours * 1000:8.1f} ms   torchvision "
          f"{t_ref * 1000:8.1f} ms   ratio {ratio:.3f}  (median of {rounds})")
    return ratio


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, CPU")
    ratios = [compare("resnet18", torchvision.models.resnet18, args.batch, args.size, args.rounds),
              compare("vgg11", torchvision.models.vgg11, args.batch, args.size, args.rounds)]
    worst = min(ratios)
    print(f"worst ratio {worst:.3f} (target ≥ 0.98): {'ok' if worst >= 0.98 else 'BELOW TARGET'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
