"""`sweep DESIGN.json --grid lr=1e-3,1e-2 batch=32,64 [--random N] [--parallel K] [train options]`.

Trains the design once per combination of the grid (or N random combinations of it), each run a
normal run folder under the sweep folder, and prints a table of the results, best validation
accuracy first, with the command that repeats the best run. Train options (``--dataset``,
``--epochs``...) and ``--config`` set what every run shares. Design variants are settings too:
``template=lenet5,alexnet`` and ``width=0.5,1,2`` (see engine.sweep).

Exit codes: 0 every run finished, 1 some run failed (the table says which and why), 2 bad input
(an unknown setting or value, an unreadable design or configuration), 130 stopped with Ctrl-C
(finished runs are kept and listed).
"""
from __future__ import annotations

import shlex
import signal
import sys
import time
from pathlib import Path

from ..errors import DesignFileError
from ..persistence import load
from ..training.run_folders import default_runs_dir
from .train import OPTIONS, _slug


def add_parser(sub) -> None:
    p = sub.add_parser("sweep", help="train a design under several settings and compare the runs",
                       description=__doc__.split("\n\n")[1])
    p.add_argument("design", help="the design file (.json)")
    p.add_argument("--grid", nargs="+", required=True, metavar="NAME=V1,V2",
                   help="settings to vary, e.g. lr=1e-3,1e-2 batch=32,64 width=0.5,1 template=lenet5,alexnet")
    p.add_argument("--random", type=int, default=0, metavar="N", help="run N random combinations of the grid")
    p.add_argument("--parallel", type=int, default=1, metavar="K", help="runs at the same time (default 1)")
    p.add_argument("--devices", nargs="+", default=None, metavar="DEVICE",
                   help="spread the runs over these devices (e.g. cuda:0 cuda:1)")
    p.add_argument("--config", help="a training configuration (.json) every run starts from")
    p.add_argument("--out", help="the sweep folder (default: runs/sweep-<design name>-<date-time>)")
    for flag, key, kind, text in OPTIONS:
        if key != "resume":
            p.add_argument(flag, dest=key, type=kind, default=None, help=text)
    p.set_defaults(run=run)


def run(args) -> int:
    from ..sweep import Sweep, SweepError, parse_grid, plan_points, point_label, results_table
    from ..training import ConfigError, TrainConfig
    try:
        design = load(args.design)
    except DesignFileError as e:
        print(f"Cannot read {args.design}: {e}", file=sys.stderr)
        return 2
    if args.random < 0 or args.parallel < 1:
        print("--random takes 0 or more, --parallel 1 or more", file=sys.stderr)
        return 2
    try:
        grid = parse_grid(args.grid)
        config = TrainConfig.load(args.config) if args.config else TrainConfig()
        config = config.replace(**{key: getattr(args, key) for _, key, _, _ in OPTIONS
                                   if key != "resume" and getattr(args, key) is not None})
    except (SweepError, ConfigError) as e:
        print(f"Cannot start the sweep: {e}", file=sys.stderr)
        return 2
    points = plan_points(grid, args.random, seed=config.seed)
    folder = Path(args.out) if args.out else \
        default_runs_dir() / f"sweep-{_slug(design.name)}-{time.strftime('%Y%m%d-%H%M%S')}"

    def report(result) -> None:
        if result.status == "running":
            print(f"[{result.index + 1}/{len(points)}] {point_label(result.settings)}: running on {result.device}",
                  flush=True)
        else:
            accuracy = f", best val accuracy {result.best_val_accuracy:.2%}" \
                if result.best_val_accuracy is not None else ""
            detail = f": {result.message}" if result.message else ""
            print(f"[{result.index + 1}/{len(points)}] {point_label(result.settings)}: {result.status}{detail}"
                  f"{accuracy}", flush=True)

    sweep = Sweep(design, config, points, folder, devices=args.devices or [], on_change=report)
    print(f"sweep of {len(points)} runs into {folder}", flush=True)
    stopped: list[int] = []

    def interrupt(signum, frame):
        if stopped:
            raise KeyboardInterrupt
        stopped.append(1)
        print("stopping the sweep: runs finish their batch and keep a checkpoint (Ctrl-C again to abort)",
              file=sys.stderr, flush=True)
        sweep.stop()

    previous = signal.signal(signal.SIGINT, interrupt)
    try:
        results = sweep.run(parallel=args.parallel)
    finally:
        signal.signal(signal.SIGINT, previous)
    print()
    print(results_table(results))
    print(f"\nsweep folder: {folder} (sweep.json holds every setting and result)")
    best = sweep.best()
    if best is not None:
        print(f"best: {point_label(best.settings)} ({best.best_val_accuracy:.2%}); its run: {best.run_dir}")
        print("repeat it: " + " ".join(shlex.quote(p) for p in [
            "python", "main.py", "train", str(Path(best.run_dir) / "sweep-design.json"),
            "--config", str(Path(best.run_dir) / "sweep-config.json")]))
    if stopped:
        return 130
    if any(r.status in ("failed", "invalid") for r in results):
        return 1
    return 0
