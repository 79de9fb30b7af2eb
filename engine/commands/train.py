"""`train DESIGN.json --dataset NAME|PATH [options] [--config FILE] --out RUN_DIR`.

Shows tqdm progress bars on stderr when it is a terminal (epochs, and the epoch's batches with
loss, accuracy, learning rate, rate and ETA; see engine.commands.progress) and one line per epoch,
writes the run folder (metrics, checkpoints, final weights, TensorBoard event files with the
optional extra; see engine.training.rundir) and prints where. Ctrl-C stops after the current
batch, keeps a checkpoint and prints the command that resumes the run; a second Ctrl-C aborts
at once. Options given on the command line override the config file. Every failure is one
line saying what happened and what to do, never a traceback.

Exit codes: 0 finished (completed or early stopping), 1 the run failed (diverged, a checkpoint
could not be written: the last good one is kept and the resume command printed), 2 bad input
(unreadable design or configuration, a bad option value or device, a dataset that cannot be
used, a checkpoint or weights file that cannot be used), 130 interrupted with Ctrl-C (the
resume command is printed).
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
from .progress import ProgressPrinter

# command-line option → TrainConfig key (value None = not given, keep the file's or default)
OPTIONS = [
    ("--dataset", "dataset", str, "digits|shapes|signal|mnist|fashion-mnist|cifar10 or a folder/CSV path"),
    ("--epochs", "epochs", int, "passes over the training data"),
    ("--batch-size", "batch_size", int, "samples per step"),
    ("--optimizer", "optimizer", str, "sgd, adam, adamw or rmsprop"),
    ("--lr", "lr", float, "learning rate"),
    ("--momentum", "momentum", float, "SGD/RMSprop momentum"),
    ("--weight-decay", "weight_decay", float, "L2 weight decay"),
    ("--schedule", "schedule", str, "none, step, multistep, cosine, onecycle or plateau"),
    ("--warmup", "warmup_epochs", float, "linear warm-up, in epochs"),
    ("--loss", "loss", str, "cross_entropy, bce or mse"),
    ("--label-smoothing", "label_smoothing", float, "cross-entropy label smoothing"),
    ("--grad-clip", "grad_clip", float, "max gradient norm (0 = off)"),
    ("--val-fraction", "val_fraction", float, "share of the data held out for validation"),
    ("--seed", "seed", int, "random seed (split, initialisation, shuffling)"),
    ("--device", "device", str, "auto, cpu, cuda, cuda:N, mps or mps:0"),
    ("--early-stopping", "early_stopping_patience", int, "stop after this many epochs without improvement"),
    ("--overfit", "overfit_batches", int, "sanity check: train on this many fixed batches only"),
    ("--resume", "resume", str, "continue from a checkpoint (RUN_DIR/checkpoints/last.pt)"),
    ("--init-weights", "init_weights", str, "start from these weights (.safetensors or checkpoint)"),
    ("--threads", "num_threads", int, "CPU threads for torch (0 = torch's default)"),
]


def add_parser(sub) -> None:
    p = sub.add_parser("train", help="train a design on a dataset; writes metrics, checkpoints and weights",
                       description=__doc__.split("\n\n")[1])
    p.add_argument("design", help="the design file (.json)")
    p.add_argument("--config", help="a training configuration (.json); options given here override it")
    p.add_argument("--out", help="the run folder (default: runs/<design name>-<date-time>)")
    for flag, key, kind, text in OPTIONS:
        p.add_argument(flag, dest=key, type=kind, default=None, help=text)
    p.add_argument("--freeze", nargs="+", default=None, metavar="NODE", help="node ids not to train")
    p.add_argument("--no-resize", dest="resize", action="store_false", default=None,
                   help="refuse (instead of resizing) samples whose size differs from the design's Input")
    p.add_argument("--nproc", type=int, default=1, metavar="N",
                   help="train with N processes on this machine (torchrun: one per GPU, gloo on the CPU); "
                        "the batch size stays the global one")
    p.add_argument("--nnodes", type=int, default=1, metavar="M", help="machines taking part (with --rdzv-endpoint)")
    p.add_argument("--rdzv-endpoint", default=None, metavar="HOST:PORT",
                   help="the first machine's address, for runs over several machines")
    p.add_argument("--node-rank", type=int, default=None, metavar="K", help="this machine's number (0 = the first)")
    p.add_argument("--quiet", action="store_true", help="no progress bars, only epoch lines (the default when "
                   "stderr is not a terminal)")
    p.set_defaults(run=run)


EXIT_INTERRUPTED = 130  # 128 + SIGINT, as a shell reports a Ctrl-C
BAD_INPUT_ERRORS = ("config", "run_dir", "data")  # trainer Error codes that mean the command's input is wrong


def run(args) -> int:
    try:
        return _run(args)
    except KeyboardInterrupt:  # a second Ctrl-C, or one before training started
        run_dir = getattr(args, "_run_dir", None)
        progress = getattr(args, "_progress", None)
        if progress is not None:
            progress.close()  # the bars off the screen before the last lines
        print("aborted", file=sys.stderr)
        if run_dir is not None and (run_dir / "checkpoints" / "last.pt").is_file():
            print(f"the last checkpoint is kept; resume with: {resume_command(args, run_dir)}", file=sys.stderr)
        return EXIT_INTERRUPTED


def _run(args) -> int:
    from ..training import ConfigError, TrainConfig, Trainer
    try:
        design = load(args.design)
    except DesignFileError as e:
        print(f"Cannot read {args.design}: {e}", file=sys.stderr)
        return 2
    try:
        config = TrainConfig.load(args.config) if args.config else TrainConfig()
        changes = {key: getattr(args, key) for _, key, _, _ in OPTIONS if getattr(args, key) is not None}
        if args.freeze is not None:
            changes["freeze_nodes"] = args.freeze
        if args.resize is not None:
            changes["resize"] = args.resize
        config = config.replace(**changes)
    except ConfigError as e:
        print(f"Bad training configuration: {e}", file=sys.stderr)
        return 2
    run_dir = Path(args.out) if args.out else default_runs_dir() / f"{_slug(design.name)}-{time.strftime('%Y%m%d-%H%M%S')}"
    args._run_dir = run_dir
    progress = ProgressPrinter(sys.stderr, bar=False if args.quiet else None)  # bars only on a terminal
    args._progress = progress
    if args.nproc < 1 or args.nnodes < 1:
        print("--nproc and --nnodes take 1 or more", file=sys.stderr)
        return 2
    if args.nproc > 1 or args.nnodes > 1:
        from ..training.distributed import DistributedRun
        try:
            trainer = DistributedRun(design, config, run_dir, args.nproc, on_event=progress, nnodes=args.nnodes,
                                     rdzv_endpoint=args.rdzv_endpoint, node_rank=args.node_rank)
        except ValueError as e:
            print(str(e), file=sys.stderr)
            return 2
    else:
        trainer = Trainer(design, config, on_event=progress, run_dir=run_dir)
    trainer.batch_size_advice = "try --batch-size {half}"  # the app's message names no flag
    interrupted = []
    previous = signal.signal(signal.SIGINT, _interrupt_handler(trainer, progress, lambda: interrupted.append(1)))
    try:
        finished = trainer.run()
    finally:
        signal.signal(signal.SIGINT, previous)
    if progress.started and (run_dir / "config.json").exists():
        print(f"run folder: {run_dir}")
    checkpoint = (run_dir / "checkpoints" / "last.pt").is_file()
    if finished.reason == "stopped" and interrupted:
        if checkpoint:
            print(f"interrupted; resume with: {resume_command(args, run_dir)}", file=sys.stderr)
        else:
            print("interrupted before a checkpoint was written", file=sys.stderr)
        return EXIT_INTERRUPTED
    if finished.reason in ("completed", "stopped", "early_stopping"):
        return 0
    error = progress.error
    if finished.reason == "error" and error is not None and error.code == "write_failed" and checkpoint:
        print(f"resume with: {resume_command(args, run_dir)}", file=sys.stderr)
    if finished.reason == "error" and error is not None and error.code in BAD_INPUT_ERRORS:
        return 2
    return 1


def resume_command(args, run_dir: Path) -> str:
    """The command line that continues this run from its last checkpoint: the same design,
    configuration file and options, with --resume and --out pointing into the run folder."""
    parts = ["python", "main.py", "train", str(args.design), "--resume", str(run_dir / "checkpoints" / "last.pt"),
             "--out", str(run_dir)]
    if args.config:
        parts += ["--config", str(args.config)]
    for flag, key, _, _ in OPTIONS:
        value = getattr(args, key, None)
        if value is not None and key != "resume":
            parts += [flag, str(value)]
    if args.freeze is not None:
        parts += ["--freeze", *args.freeze]
    if args.resize is False:
        parts.append("--no-resize")
    for flag, key, default in (("--nproc", "nproc", 1), ("--nnodes", "nnodes", 1),
                               ("--rdzv-endpoint", "rdzv_endpoint", None), ("--node-rank", "node_rank", None)):
        value = getattr(args, key, default)
        if value != default:
            parts += [flag, str(value)]
    if args.quiet:
        parts.append("--quiet")
    return " ".join(shlex.quote(p) for p in parts)


def _interrupt_handler(trainer, progress, on_interrupt=None):
    """SIGINT: the first asks the trainer to stop after the batch, the second aborts."""
    def handler(signum, frame):
        if trainer.stop_requested:
            if hasattr(trainer, "kill"):  # a distributed run: end its processes too
                trainer.kill()
            raise KeyboardInterrupt
        progress.line("stopping after this batch (Ctrl-C again to abort)")
        if on_interrupt is not None:
            on_interrupt()
        trainer.stop()
    return handler


def _slug(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_" else "-" for ch in name).strip("-") or "run"
