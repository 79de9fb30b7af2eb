"""Distributed runs: ``torchrun`` starts the processes, rank 0 streams the events back.

    run = DistributedRun(design, config, run_dir, nproc=2, on_event=print)
    finished = run.run()          # blocks; run.stop() / pause() / resume() from another thread

:class:`DistributedRun` is the launcher side, with the :class:`~engine.training.Trainer`'s
interface, so the app and ``main.py train --nproc N`` use it as they use a local trainer. It
writes the design and configuration into ``RUN_DIR/launch/``, starts ``python -m
torch.distributed.run`` (torchrun: ``--standalone`` on one machine, ``--nnodes`` and a c10d
``--rdzv-endpoint`` across several) in its own session, and tails ``RUN_DIR/events.jsonl``, where
rank 0 appends every event (engine.training.event_stream); they reach ``on_event`` as the same
dataclasses a local run emits. Pause, stop and resume are written to ``RUN_DIR/launch/control``;
rank 0 reads it between steps and every rank stops at the same step (the trainer's control points,
engine.training.collective), keeping a checkpoint. A rank that dies ends the run: torchrun stops
the others, and the run's Error carries the last lines of what the processes printed
(``RUN_DIR/launch/torchrun.log``).

:func:`worker_main` is the other side, what each process runs (``python -m
engine.training.distributed``): it joins the process group (NCCL on CUDA, gloo on the CPU), picks
its GPU from ``LOCAL_RANK`` and trains with a :class:`~engine.training.collective.Collective`.
"""
from __future__ import annotations

import argparse
import dataclasses
import datetime
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from ..persistence import atomic_write_text, dumps
from . import events
from .config import TrainConfig
from .event_stream import EVENTS_FILE, EventTail, EventWriter

LAUNCH_DIR = "launch"
CONTROL_FILE = "control"
POLL_SECONDS = 0.1
PROJECT_ROOT = Path(__file__).resolve().parents[2]


class DistributedRun:
    """A training run of ``nproc`` processes on this machine (× ``nnodes`` machines)."""

    def __init__(self, design, config: TrainConfig, run_dir, nproc: int, on_event=None, nnodes: int = 1,
                 rdzv_endpoint: str | None = None, node_rank: int | None = None):
        if nproc < 1 or nnodes < 1:
            raise ValueError("nproc and nnodes must be at least 1")
        if nnodes > 1 and not rdzv_endpoint:
            raise ValueError("a run over several machines needs --rdzv-endpoint HOST:PORT (the first machine's)")
        self.design = design.copy()  # a snapshot, as a local Trainer takes
        self.config, self.run_dir = config, Path(run_dir)
        self.nproc, self.nnodes, self.rdzv_endpoint, self.node_rank = nproc, nnodes, rdzv_endpoint, node_rank
        self.on_event = on_event or (lambda event: None)
        self._process: subprocess.Popen | None = None
        self._stop_requested = self._paused = False
        self.model = None  # a local Trainer's attribute: the weights are in the run folder here
        self.batch_size_advice = ""  # a local Trainer's attribute: the processes word their own advice

    # -- the Trainer's control interface -----------------------------------------------------
    def stop(self) -> None:
        self._stop_requested = True
        self._control("stop")

    def pause(self) -> None:
        self._paused = True
        self._control("pause")

    def resume(self) -> None:
        self._paused = False
        self._control("stop" if self._stop_requested else "run")

    @property
    def stop_requested(self) -> bool:
        return self._stop_requested

    @property
    def paused(self) -> bool:
        return self._paused

    def inspect(self, sample) -> None:
        """Choosing the feature-map sample is not supported across processes; ignored."""

    def kill(self) -> None:
        """End every process now (a second Ctrl-C): no checkpoint beyond the last one written."""
        process = self._process
        if process is not None and process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)

    # -- the run -------------------------------------------------------------------------------
    def command(self) -> list[str]:
        """The torchrun command line (python -m torch.distributed.run: the torchrun beside this Python)."""
        launch = self.run_dir / LAUNCH_DIR
        rendezvous = (["--standalone"] if self.nnodes == 1 else
                      ["--nnodes", str(self.nnodes), "--rdzv-backend", "c10d", "--rdzv-endpoint", str(self.rdzv_endpoint)]
                      + (["--node-rank", str(self.node_rank)] if self.node_rank is not None else []))
        return [sys.executable, "-m", "torch.distributed.run", *rendezvous, "--nproc-per-node", str(self.nproc),
                "-m", "engine.training.distributed", "--design", str(launch / "design.json"),
                "--config", str(launch / "config.json"), "--run-dir", str(self.run_dir)]

    def run(self) -> events.Finished:
        launch = self.run_dir / LAUNCH_DIR
        launch.mkdir(parents=True, exist_ok=True)
        atomic_write_text(launch / "design.json", dumps(self.design))
        atomic_write_text(launch / "config.json", self.config.to_json())
        atomic_write_text(launch / CONTROL_FILE, "stop" if self._stop_requested else "run")
        (self.run_dir / EVENTS_FILE).unlink(missing_ok=True)  # a resumed run's new events only
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(PROJECT_ROOT), os.environ.get("PYTHONPATH")]))}
        # the processes share this machine's cores (on GPUs the threads only feed the data)
        threads = self.config.num_threads or max(1, (os.cpu_count() or 1) // self.nproc)
        env["OMP_NUM_THREADS"] = str(threads)
        started = time.perf_counter()
        with (launch / "torchrun.log").open("w", encoding="utf-8") as log:
            # its own session: a Ctrl-C in the terminal reaches this process only, which stops the
            # run through the control file (every rank at the same step, a checkpoint kept)
            try:
                self._process = subprocess.Popen(self.command(), stdout=log, stderr=subprocess.STDOUT, env=env,
                                                 cwd=str(PROJECT_ROOT), start_new_session=True)
            except OSError as e:
                self.on_event(events.Error(f"torchrun could not be started: {e}", "config"))
                failed = events.Finished("error", 0, None, None, [], str(self.run_dir), 0.0)
                self.on_event(failed)
                return failed
            tail = EventTail(self.run_dir / EVENTS_FILE)
            finished: events.Finished | None = None
            while True:
                exited = self._process.poll() is not None
                for event in tail.read():
                    if isinstance(event, events.Finished):
                        finished = event  # held back until every process has ended
                    else:
                        self.on_event(event)
                if exited:
                    break
                time.sleep(POLL_SECONDS)
        code = self._process.returncode
        if code != 0:
            self.on_event(self._failure(code))
        if finished is None:
            finished = events.Finished("error", 0, None, None, [], str(self.run_dir), time.perf_counter() - started)
        elif code != 0 and finished.reason in ("completed", "stopped", "early_stopping"):
            finished = dataclasses.replace(finished, reason="error")
        self.on_event(finished)
        return finished

    def _failure(self, code: int) -> events.Error:
        """Why the processes ended badly, from torchrun's report of the first failure."""
        log = self.run_dir / LAUNCH_DIR / "torchrun.log"
        lines = _last_lines(log, 200)
        rank, exitcode = root_cause(lines)
        if rank is not None:
            how = f"exit code {exitcode}"
            if exitcode is not None and exitcode < 0:
                how = f"killed by signal {-exitcode} ({_signal_name(-exitcode)})"
            what = f"training process rank {rank} ended ({how})"
        else:
            cause = next((line for line in reversed(lines) if "Error" in line), lines[-1] if lines else "no message")
            what = f"the training processes ended with exit code {code}: {cause}"
        return events.Error(f"{what}; the run stopped. The last checkpoint, if any, is kept in "
                            f"{self.run_dir / 'checkpoints'}; the processes' output is in {log}",
                            "process_died", "\n".join(lines[-30:]))

    def _control(self, word: str) -> None:
        path = self.run_dir / LAUNCH_DIR / CONTROL_FILE
        if path.parent.is_dir():
            atomic_write_text(path, word)


def root_cause(lines: list[str]) -> tuple[int | None, int | None]:
    """(rank, exit code) of torchrun's "Root Cause (first observed failure)" report, if any."""
    start = next((i for i, line in enumerate(lines) if "Root Cause" in line), None)
    if start is None:
        return None, None
    rank = exitcode = None
    for line in lines[start:start + 12]:
        words = line.replace(":", " ").split()
        if words[:1] == ["rank"] and len(words) > 1 and words[1].isdigit():
            rank = int(words[1])
        elif words[:1] == ["exitcode"] and len(words) > 1 and words[1].lstrip("-").isdigit():
            exitcode = int(words[1])
    return rank, exitcode


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return "unknown signal"


def _last_lines(path: Path, count: int = 30) -> list[str]:
    try:
        return [line for line in path.read_text(encoding="utf-8", errors="replace").splitlines() if line.strip()][-count:]
    except OSError:
        return []


# -- each process ---------------------------------------------------------------------------------
def worker_main(argv: list[str] | None = None) -> int:
    import torch
    import torch.distributed as dist

    from ..persistence import load
    from .collective import Collective
    from .trainer import Trainer

    p = argparse.ArgumentParser(prog="engine.training.distributed")
    p.add_argument("--design", required=True)
    p.add_argument("--config", required=True)
    p.add_argument("--run-dir", required=True)
    args = p.parse_args(argv)
    rank, world, local_rank = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"]), int(os.environ["LOCAL_RANK"])
    config = TrainConfig.load(args.config)
    cuda = config.device.startswith("cuda") or (config.device == "auto" and torch.cuda.is_available())
    if cuda:
        if local_rank >= torch.cuda.device_count():
            print(f"rank {rank}: LOCAL_RANK {local_rank} but this machine has {torch.cuda.device_count()} GPUs; "
                  "start at most that many processes per machine (--nproc)", file=sys.stderr)
            return 2
        device = torch.device("cuda", local_rank)
        torch.cuda.set_device(device)
    else:
        device = torch.device("cpu")
    # a paused run keeps the other ranks waiting in a collective: allow a long pause
    dist.init_process_group("nccl" if cuda else "gloo", timeout=datetime.timedelta(hours=12))
    collective = Collective(rank, world, device)
    config = config.replace(device=str(device), feature_map_interval=max(config.feature_map_interval, 5.0))
    run_dir = Path(args.run_dir)
    main = rank == 0
    trainer = Trainer(load(args.design), config, run_dir=run_dir if main else None,
                      on_event=EventWriter(run_dir) if main else None, collective=collective)
    watcher = _ControlWatcher(run_dir / LAUNCH_DIR / CONTROL_FILE, trainer) if main else None
    try:
        finished = trainer.run()
    finally:
        if watcher is not None:
            watcher.close()
    if finished.reason in ("completed", "stopped", "early_stopping"):
        dist.barrier()  # leave together: one rank tearing the group down early aborts the others
        dist.destroy_process_group()
        return 0
    return 1  # torchrun ends the other processes


class _ControlWatcher:
    """Rank 0 follows the launcher's control file: run, pause or stop."""

    def __init__(self, path: Path, trainer):
        self.path, self.trainer = path, trainer
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="control-file", daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        last = None
        while not self._done.wait(POLL_SECONDS):
            try:
                word = self.path.read_text(encoding="utf-8").strip()
            except OSError:
                continue
            if word == last:
                continue
            last = word
            if word == "stop":
                self.trainer.stop()
            elif word == "pause":
                self.trainer.pause()
            elif word == "run":
                self.trainer.resume()

    def close(self) -> None:
        self._done.set()
        self._thread.join(timeout=1)


if __name__ == "__main__":
    sys.exit(worker_main())
