"""`make gpu-check`: what the test suite cannot check without a GPU, checked on yours.

    python -m engine.training.gpu_check [--device auto|cuda|cuda:1|mps|cpu] [--keep DIR] [--ddp-cpu]

On the first GPU (CUDA, else Apple MPS) it trains a small CNN with batch norm on the bundled
digits for a few epochs and verifies: the run completes on that device with finite losses and
learns; on CUDA, mixed precision (the autocast dtype seen inside a convolution) and channels_last
weights; stop after an epoch and resume from the checkpoint (the checkpoint holds the training
device's random generator only); export of the trained weights (safetensors bundle, and ONNX
when its packages are installed), each reloaded and compared; with two GPUs or more, the exported
training script under ``torchrun --nproc_per_node=2`` (NCCL, --sync-bn) ends with identical
weights on both processes.

It prints one line per check (ok / skip with the reason / FAIL with what went wrong) and exits 0
when nothing failed. Without a GPU it says so, runs the same checks on the CPU as a smoke test
(those that need a GPU are listed as skipped) and exits 0; ``--ddp-cpu`` also runs the 2-process
check on the CPU (gloo), which takes about a minute.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

EPOCHS = 3
EXPORTS = (("bundle", "export: safetensors bundle"), ("onnx", "export: ONNX"))


def small_design():
    from ..graph import Design
    d = Design("gpu-check", num_classes=10)
    d.chain(("input", {"shape": [1, 16, 16]}), ("conv2d", {"out_channels": 16, "kernel": 3, "padding": 1}),
            "batchnorm2d", "relu", ("maxpool2d", {"kernel": 2}),
            ("conv2d", {"out_channels": 32, "kernel": 3, "padding": 1}), "batchnorm2d", "relu",
            ("maxpool2d", {"kernel": 2}), "flatten", ("linear", {"out_features": 10}), "output")
    return d


class Report:
    def __init__(self):
        self.counts = {"ok": 0, "skip": 0, "FAIL": 0}

    def line(self, status: str, what: str, detail: str = "") -> None:
        self.counts[status] += 1
        print(f"  {status:<5} {what}" + (f": {detail}" if detail else ""), flush=True)

    def ok(self, what, detail=""):
        self.line("ok", what, detail)

    def skip(self, what, why):
        self.line("skip", what, why)

    def fail(self, what, why):
        self.line("FAIL", what, why)

    def check(self, condition: bool, what: str, detail: str, failure: str) -> bool:
        (self.ok if condition else self.fail)(what, detail if condition else failure)
        return condition


def pick_device(wanted: str):
    """(device string for the trainer, its kind: cuda/mps/cpu, a sentence on what this machine has)."""
    import torch
    cuda = torch.cuda.is_available()
    mps = getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()
    seen = (f"CUDA: {torch.cuda.device_count()} GPU(s)" + (f" ({torch.cuda.get_device_name(0)})" if cuda else "")
            if cuda else "CUDA: not available") + f"; MPS: {'available' if mps else 'not available'}"
    if wanted == "auto":
        wanted = "cuda" if cuda else "mps" if mps else "cpu"
    return wanted, torch.device(wanted).type, seen


class _Watch:
    """Inside the trainer's model: the dtype a convolution computes in during training (autocast)
    and whether its weights are channels_last; set up when the run starts."""

    def __init__(self):
        self.trainer, self.dtypes, self.channels_last, self.started, self.error = None, set(), None, None, None

    def on_event(self, event):
        import torch

        from . import events
        if isinstance(event, events.RunStarted):
            self.started = event
            conv = next(m for m in self.trainer.model.modules() if isinstance(m, torch.nn.Conv2d))
            self.channels_last = conv.weight.is_contiguous(memory_format=torch.channels_last)

            def hook(module, inputs, output):
                if module.training and torch.is_grad_enabled():
                    self.dtypes.add(output.dtype)
            conv.register_forward_hook(hook)
        elif isinstance(event, events.Error):
            self.error = event.message


def train(design, config, run_dir, stop_after_epoch=None):
    """(Finished event, _Watch, seconds)."""
    from . import Trainer, events
    watch = _Watch()

    def on_event(event):
        watch.on_event(event)
        if stop_after_epoch is not None and isinstance(event, events.EpochEnd) and event.epoch + 1 == stop_after_epoch:
            trainer.stop()
    trainer = Trainer(design, config, run_dir=run_dir, on_event=on_event)
    watch.trainer = trainer
    start = time.perf_counter()
    finished = trainer.run()
    return finished, watch, time.perf_counter() - start


def check_training(report: Report, device: str, kind: str, root: Path, epochs: int):
    import torch

    from . import TrainConfig
    design = small_design()
    config = TrainConfig(dataset="digits", epochs=epochs, batch_size=64, optimizer="adam", lr=3e-3, seed=0,
                         device=device, mixed_precision=True, channels_last=True,
                         num_threads=1 if kind == "cpu" else 0)
    finished, watch, seconds = train(design, config, root / "run")
    if finished.reason != "completed":
        report.fail("training", f"the run ended with {finished.reason}: {watch.error}")
        return None
    last = finished.history[-1]
    ran_on = watch.started.device if watch.started else "?"
    finite = all(math.isfinite(r["train_loss"]) and math.isfinite(r["val_loss"]) for r in finished.history)
    report.check(finite and torch.device(ran_on).type == kind and last["val_accuracy"] > 0.5,
                 "training", f"{epochs} epoch{'s' * (epochs != 1)} on {ran_on}, validation accuracy {last['val_accuracy']:.1%}, "
                 f"{seconds:.1f} s", f"on {ran_on}, losses finite: {finite}, validation accuracy "
                 f"{last['val_accuracy']:.1%} (expected > 50 %)")
    if kind == "cuda":
        reduced = watch.dtypes & {torch.float16, torch.bfloat16}
        report.check(bool(reduced), "mixed precision (AMP)",
                     f"convolutions ran in {', '.join(str(d).replace('torch.', '') for d in sorted(reduced, key=str))}",
                     f"convolutions ran in {sorted(map(str, watch.dtypes))}, not float16/bfloat16")
        report.check(bool(watch.channels_last), "channels_last", "convolution weights are channels_last",
                     "convolution weights are not channels_last")
    else:
        report.skip("mixed precision (AMP)", "the trainer uses it on CUDA only")
        report.skip("channels_last", "the trainer uses it on CUDA only")
    return finished


def check_resume(report: Report, device: str, kind: str, root: Path, epochs: int) -> None:
    from . import TrainConfig, load_checkpoint
    design = small_design()
    config = TrainConfig(dataset="digits", epochs=epochs, batch_size=64, optimizer="adam", lr=3e-3, seed=0,
                         device=device, num_threads=1 if kind == "cpu" else 0)
    run_dir = root / "resume"
    first, watch, _ = train(design, config, run_dir, stop_after_epoch=1)
    if first.reason != "stopped":
        report.fail("stop and resume", f"the first part ended with {first.reason}: {watch.error}")
        return
    checkpoint = load_checkpoint(run_dir / "checkpoints" / "last.pt")
    rng = checkpoint.get("rng") or {}
    one_generator = not isinstance(rng.get("cuda"), (list, tuple)) and (kind != "cuda" or "cuda" in rng) \
        and (kind != "mps" or "mps" in rng)
    second, watch, _ = train(design, config.replace(resume=str(run_dir / "checkpoints" / "last.pt")), run_dir)
    started = watch.started.start_epoch if watch.started else None
    ok = second.reason == "completed" and started == 1 and [r["epoch"] for r in second.history] == \
        list(range(1, epochs + 1)) and one_generator
    report.check(ok, "stop and resume", f"stopped after epoch 1, resumed at epoch 2 on {device}, "
                 f"{len(second.history)} epochs of history, the checkpoint holds the {kind} generator only"
                 if kind != "cpu" else f"stopped after epoch 1, resumed at epoch 2, {len(second.history)} epochs "
                 "of history", f"reason {second.reason}, resumed at {started}, history epochs "
                 f"{[r['epoch'] for r in second.history]}, random state saved {sorted(rng)} "
                 f"({type(rng.get('cuda')).__name__}) {watch.error or ''}")


def check_export(report: Report, root: Path) -> None:
    from ..export import MissingDependencyError, export
    from . import load_weights
    design, state = small_design(), load_weights(root / "run" / "weights.safetensors")
    data_file = root / "run" / "data.json"  # the normalisation and classes go into the export
    data = json.loads(data_file.read_text()) if data_file.is_file() else None
    for fmt, what in EXPORTS:
        try:
            result = export(design, state, fmt, root / f"export-{fmt}", data=data)
        except MissingDependencyError as e:
            report.skip(what, str(e).splitlines()[0])
            continue
        except Exception as e:  # noqa: BLE001 - a check reports, it does not crash
            report.fail(what, f"{type(e).__name__}: {e}")
            continue
        report.check(result.verified, what, f"reloaded, {result.verification()}",
                     f"reloaded, {result.verification()}")


def check_ddp(report: Report, root: Path, on_cpu: bool) -> None:
    import torch

    from ..export import export
    from . import load_weights
    gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if gpus < 2 and not on_cpu:
        report.skip("DDP, 2 processes", f"needs 2 CUDA GPUs, this machine has {gpus} (--ddp-cpu runs it on the CPU)")
        return
    design, state = small_design(), load_weights(root / "run" / "weights.safetensors")
    data = {"name": "digits", "input_shape": [1, 16, 16], "source": {"name": "digits", "options": {}}}
    folder = root / "script"
    export(design, state, "script", folder, data=data,
           train_config={"optimizer": "adam", "lr": 1e-3, "batch_size": 64, "seed": 0})
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    if gpus < 2:  # the CPU: gloo on loopback (see the script's docstring)
        env.update(CUDA_VISIBLE_DEVICES="", OMP_NUM_THREADS="1", GLOO_SOCKET_IFNAME="lo")
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
    command += ["--local-addr=127.0.0.1"] if gpus < 2 else []
    command += ["train.py", "--epochs", "1", "--max-steps", "10", "--sync-bn", "--out", str(root / "ddp-run")]
    try:
        proc = subprocess.run(command, cwd=folder, env=env, capture_output=True, text=True, timeout=600)
    except subprocess.TimeoutExpired:
        report.fail("DDP, 2 processes", "torchrun did not finish in 10 minutes")
        return
    where = "2 GPUs, NCCL" if gpus >= 2 else "CPU, gloo"
    final_path = root / "ddp-run" / "final.json"
    final = json.loads(final_path.read_text()) if final_path.is_file() else {}
    ok = proc.returncode == 0 and final.get("world_size") == 2 and final.get("identical_on_all_ranks")
    report.check(bool(ok), "DDP, 2 processes", f"{where}, --sync-bn, {final.get('steps')} steps, identical "
                 "weights on both ranks", f"{where}: exit {proc.returncode}; "
                 f"{(proc.stderr or proc.stdout).strip()[-1500:]}")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="auto", help="auto (the first GPU), cuda, cuda:N, mps or cpu")
    p.add_argument("--epochs", type=int, default=EPOCHS)
    p.add_argument("--keep", help="write the runs and exports to this folder (default: a temporary one)")
    p.add_argument("--ddp-cpu", action="store_true", help="run the 2-process check on the CPU when there are < 2 GPUs")
    args = p.parse_args(argv)
    import torch
    device, kind, seen = pick_device(args.device)
    print(f"gpu-check: torch {torch.__version__}; {seen}")
    if kind == "cpu":
        print("no GPU" + (" chosen" if args.device != "auto" else " on this machine") +
              ": a smoke test on the CPU only; the checks that need a GPU are listed as skipped")
    else:
        print(f"checking on {device}")
    report = Report()
    with tempfile.TemporaryDirectory(prefix="nd-gpu-check-") as tmp:
        root = Path(args.keep) if args.keep else Path(tmp)
        root.mkdir(parents=True, exist_ok=True)
        steps = [lambda: check_training(report, device, kind, root, args.epochs),
                 lambda: check_resume(report, device, kind, root, max(2, args.epochs)),
                 lambda: check_export(report, root),
                 lambda: check_ddp(report, root, args.ddp_cpu)]
        for i, step in enumerate(steps):
            try:
                result = step()
            except Exception as e:  # noqa: BLE001 - report and go on with the other checks
                report.fail(["training", "stop and resume", "export", "DDP"][i], f"{type(e).__name__}: {e}")
                result = None
            if i == 0 and result is None:
                report.skip("export, DDP", "the training check failed")
                break
    c = report.counts
    print(f"gpu-check: {c['ok']} verified, {c['skip']} skipped, {c['FAIL']} failed"
          + ("" if kind != "cpu" else " (CPU smoke test: run it on a machine with a GPU for the full check)"))
    return 1 if c["FAIL"] else 0


if __name__ == "__main__":
    sys.exit(main())
