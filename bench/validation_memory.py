"""Peak memory of one validation pass (``engine.training.evaluate.evaluate``) with the model
compiled with feature-map taps, as training and validation ran before issue 14, against the
model without taps, as they run now (feature maps come from a ``with_taps`` view, sampled on one
image). On the CPU: each case runs in its own process and reports its peak resident memory
(``ru_maxrss``) above the resident memory just before the pass — tracemalloc does not see
torch's allocations. Also prints the pass the trainer now runs: no taps, twice a training batch.

    .venv/bin/python bench/validation_memory.py                      # VGG-16, 3×96×96, batch 256, 24 taps
    .venv/bin/python bench/validation_memory.py --batch 64 --train-batch 32 --threads 2

Taps are the first ``--taps`` layers in the design's order (the largest activations), the worst
case the Training panel allows.
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

MiB = 2 ** 20


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize()


def child(args) -> None:
    import torch

    from engine import data
    from engine.compile import compile_design
    from engine.templates import build
    from engine.training.evaluate import evaluate

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    design = build(args.template, input_shape=(3, args.size, args.size), num_classes=10)
    layers = [n for n in design.topological_order() if design.nodes[n].block not in ("input", "output")]
    taps = layers[:args.taps] if args.case == "tapped" else []
    model = compile_design(design, taps=taps)
    x = torch.randint(0, 256, (args.batch, 3, args.size, args.size), dtype=torch.uint8)
    val = data.TensorSet(x, torch.zeros(args.batch, dtype=torch.long))
    before_peak, before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024, rss_bytes()
    t0 = time.perf_counter()
    result = evaluate(model, val, batch_size=args.batch, taps=bool(taps), mean=[0.5] * 3, std=[0.25] * 3)
    seconds = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps({"case": args.case, "taps": len(taps), "batch": args.batch, "count": result.count,
                      "peak_above_start": peak - before, "start_rss": before, "peak_before": before_peak,
                      "seconds": seconds}))


def measure(args, case: str, batch: int) -> dict:
    cmd = [sys.executable, __file__, "--child", case, "--template", args.template, "--size", str(args.size),
           "--batch", str(batch), "--taps", str(args.taps), "--threads", str(args.threads)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    result = json.loads(out.strip().splitlines()[-1])
    if result["peak_before"] > result["start_rss"] + result["peak_above_start"]:
        result["note"] = "(the pass did not raise the process's peak: figure is a lower bound)"
    return result


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--template", default="vgg16")
    p.add_argument("--size", type=int, default=96, help="input height and width")
    p.add_argument("--batch", type=int, default=256, help="validation batch of the tapped/untapped comparison")
    p.add_argument("--train-batch", type=int, default=64, help="training batch (the trainer validates 2x it)")
    p.add_argument("--taps", type=int, default=24)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--child", choices=("tapped", "plain"), help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        args.case = args.child
        child(args)
        return
    print(f"{args.template} at 3x{args.size}x{args.size}, CPU, {args.threads} thread(s); peak resident memory "
          "of one validation pass above the memory before it")
    rows = [("before: compiled with taps", measure(args, "tapped", args.batch)),
            ("now: compiled without taps", measure(args, "plain", args.batch)),
            (f"now, as the trainer validates (2 x training batch {args.train_batch})",
             measure(args, "plain", 2 * args.train_batch))]
    for label, r in rows:
        print(f"  {label:<58} batch {r['batch']:>4}, {r['taps']:>2} taps: {r['peak_above_start'] / MiB:8.0f} MiB "
              f"({r['seconds']:.1f} s) {r.get('note', '')}")
    tapped, plain, trainer = (r["peak_above_start"] for _, r in rows)
    print(f"  tapped / untapped at batch {args.batch}: {tapped / max(plain, 1):.2f}x")
    print(f"  before (taps, batch {args.batch}) / now (no taps, batch {2 * args.train_batch}): "
          f"{tapped / max(trainer, 1):.2f}x")


if __name__ == "__main__":
    main()
