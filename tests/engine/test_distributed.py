"""Distributed runs (issue 19, item 1): torchrun starts the processes, rank 0 streams the events, the
curves of 2 processes equal those of 1 with the same global batch, Ctrl-C reaches every rank and
keeps a checkpoint, and a rank that dies ends the run with a message."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from engine import Design, compile_design
from engine.persistence import save
from engine.training import TrainConfig, Trainer, events
from engine.training.collective import Collective
from engine.training.distributed import DistributedRun
from engine.training.event_stream import EVENT_TYPES, EventTail, EventWriter, decode, encode

ROOT = Path(__file__).resolve().parents[2]


def tiny():
    d = Design("tiny", num_classes=10)
    d.chain(("input", {"shape": [1, 8, 8]}), ("conv2d", {"out_channels": 4, "padding": 1}), "relu",
            ("maxpool2d", {"kernel": 2}), "flatten", ("linear", {"out_features": 10}), "output")
    return d


def cfg(**changes):
    return TrainConfig(**{"dataset": "digits", "epochs": 2, "batch_size": 32, "optimizer": "sgd", "lr": 0.05,
                          "num_threads": 1, "seed": 3, **changes})


def worker_processes(run_dir) -> list[int]:
    """Pids of the training processes working on ``run_dir`` (Linux /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if b"engine.training.distributed" in cmdline and str(run_dir).encode() in cmdline:
                found.append(int(entry.name))
    return found


def rank_of(pid: int) -> int | None:
    try:
        env = dict(item.split(b"=", 1) for item in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0") if b"=" in item)
    except OSError:
        return None
    return int(env[b"RANK"]) if b"RANK" in env else None


# -- pure parts ----------------------------------------------------------------------------------
@pytest.mark.parametrize("world, n, batch", [(2, 20, 8), (3, 31, 6), (4, 64, 16)])
def test_the_ranks_kth_batches_make_up_the_single_process_kth_batch(world, n, batch):
    order = torch.randperm(n, generator=torch.Generator().manual_seed(world))
    shards = [Collective(rank, world, torch.device("cpu")).shard(order) for rank in range(world)]
    assert len({len(s) for s in shards}) == 1  # every rank takes as many steps
    per_rank = batch // world
    for k in range(len(shards[0]) // per_rank):
        together = torch.cat([s[k * per_rank:(k + 1) * per_rank] for s in shards])
        assert sorted(together.tolist()) == sorted(order[k * batch:(k + 1) * batch].tolist())


def every_event():
    confusion = np.arange(9, dtype=np.int64).reshape(3, 3)
    return [events.RunStarted("cpu", "the CPU", 10, 2, 3, 4, 0, 100, 0, "/r"),
            events.BatchProgress(0, 1, 3, 1, 0.5, 0.25, 0.1, 100.0, 1.0, 2.0),
            events.EpochEnd(0, 0.5, 0.5, 0.6, 0.4, None, 0.1, 1.0, True, confusion),
            events.FeatureMaps(0, 3, np.zeros((1, 8, 8), np.float32), {"conv": np.ones((4, 8, 8), np.float32)},
                               np.full(10, 0.1)),
            events.Health(50, 0, {"conv": 0.5}, {"relu": 0.25}),
            events.HealthDiagnostic("conv", "vanishing", "tiny", 50), events.Warning("careful", "w"),
            events.Error("broke", "exception", "trace"), events.Paused(3), events.Resumed(3),
            events.Finished("completed", 1, 1, 0.4, [{"epoch": 1, "confusion": [[1]]}], "/r", 2.0)]


def test_every_event_survives_the_stream():
    sent = every_event()
    assert {type(e).__name__ for e in sent} == set(EVENT_TYPES)
    for event in sent:
        back = decode(encode(event))
        assert type(back) is type(event)
        for name, value in vars(event).items():
            if isinstance(value, np.ndarray):
                assert np.array_equal(getattr(back, name), value) and getattr(back, name).dtype == value.dtype
            elif isinstance(value, dict) and any(isinstance(v, np.ndarray) for v in value.values()):
                assert all(np.array_equal(back.maps[k], v) for k, v in value.items())
            else:
                assert getattr(back, name) == value


def test_the_reader_builds_only_events_and_waits_for_whole_lines(tmp_path):
    writer = EventWriter(tmp_path)
    writer(events.Warning("one"))
    hostile = [json.dumps({"type": "Popen", "fields": {"args": "rm -rf /"}}),
               json.dumps({"type": "EpochEnd", "fields": {"confusion": {"__ndarray__": "", "dtype": "object",
                                                                        "shape": [0]}}}),
               "not json", json.dumps([1, 2])]
    with writer.path.open("a") as f:
        f.write("\n".join(hostile) + "\n")
        f.write(encode(events.Warning("two"))[:10])  # a line being written
    tail = EventTail(writer.path)
    assert [e.message for e in tail.read()] == ["one"]
    assert tail.bad_lines == len(hostile)
    with writer.path.open("a") as f:
        f.write(encode(events.Warning("two"))[10:])
    assert [e.message for e in tail.read()] == ["two"]


def test_a_batch_the_processes_cannot_share_is_refused_by_name():
    seen = []
    Trainer(tiny(), cfg(batch_size=32), on_event=seen.append,
            collective=Collective(0, 3, torch.device("cpu"))).run()
    errors = [e for e in seen if isinstance(e, events.Error)]
    assert errors and "batch_size 32 cannot be shared by 3 processes: choose a multiple of 3" in errors[0].message


# -- real runs: torchrun with 2 CPU processes (gloo) ---------------------------------------------------
@pytest.mark.slow
def test_two_processes_train_as_one_with_the_same_global_batch(tmp_path):
    seen = []
    finished = DistributedRun(tiny(), cfg(), tmp_path / "two", nproc=2, on_event=seen.append).run()
    assert finished.reason == "completed", [e for e in seen if isinstance(e, events.Error)]
    alone = []
    Trainer(tiny(), cfg(), on_event=alone.append, run_dir=tmp_path / "one").run()
    two = [e for e in seen if isinstance(e, events.EpochEnd)]
    one = [e for e in alone if isinstance(e, events.EpochEnd)]
    assert len(two) == len(one) == 2
    for a, b in zip(one, two):
        assert b.train_loss == pytest.approx(a.train_loss, rel=1e-5)
        assert b.val_loss == pytest.approx(a.val_loss, rel=1e-5)
        assert b.val_accuracy == a.val_accuracy
        assert np.array_equal(a.confusion, b.confusion)
    assert any(isinstance(e, events.BatchProgress) for e in seen)  # the curves stream, not only epochs
    assert isinstance(seen[0], events.RunStarted) and seen[-1] is finished
    # the run folder is a local run's: metrics, checkpoints that load safely into the design's model
    rows = [json.loads(line) for line in (tmp_path / "two" / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in rows] == [1, 2]
    checkpoint = torch.load(tmp_path / "two" / "checkpoints" / "last.pt", weights_only=True)
    compile_design(tiny()).load_state_dict(checkpoint["model"])
    assert (tmp_path / "two" / "weights.safetensors").is_file()
    assert not worker_processes(tmp_path / "two")


@pytest.mark.slow
def test_ctrl_c_stops_every_rank_at_once_and_keeps_a_checkpoint(tmp_path):
    save(tiny(), tmp_path / "tiny.json")
    run_dir = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, str(ROOT / "main.py"), "train", str(tmp_path / "tiny.json"),
                             "--dataset", "digits", "--epochs", "200", "--batch-size", "32", "--optimizer", "sgd",
                             "--threads", "1", "--nproc", "2", "--out", str(run_dir), "--quiet"],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 240
    while not (run_dir / "metrics.jsonl").exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.2)
    assert proc.poll() is None, proc.communicate()
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "interrupted; resume with:" in err and "--nproc 2" in err
    checkpoint = torch.load(run_dir / "checkpoints" / "last.pt", weights_only=True)
    assert 1 <= checkpoint["epoch"] < 200
    assert not worker_processes(run_dir)


@pytest.mark.slow
def test_a_rank_that_dies_ends_the_run_with_a_message(tmp_path):
    seen = []
    run = DistributedRun(tiny(), cfg(epochs=500), tmp_path / "run", nproc=2, on_event=seen.append)
    result = []
    thread = threading.Thread(target=lambda: result.append(run.run()))
    thread.start()
    deadline = time.time() + 240
    while not any(isinstance(e, events.EpochEnd) for e in seen) and time.time() < deadline:
        time.sleep(0.2)
    victims = [pid for pid in worker_processes(tmp_path / "run") if rank_of(pid) == 1]
    assert victims
    os.kill(victims[0], signal.SIGKILL)
    thread.join(timeout=180)
    assert not thread.is_alive()
    assert result[0].reason == "error"
    errors = [e for e in seen if isinstance(e, events.Error)]
    assert "training process rank 1 ended (killed by signal 9 (SIGKILL)); the run stopped" in errors[-1].message
    assert "torchrun.log" in errors[-1].message and errors[-1].code == "process_died"
    assert all(e.code in ("peer_lost", "process_died") for e in errors), errors  # rank 0 heard it too
    assert seen[-1] is result[0]
    torch.load(tmp_path / "run" / "checkpoints" / "last.pt", weights_only=True)  # the last checkpoint stays
    assert not worker_processes(tmp_path / "run")


def test_a_launcher_that_cannot_start_says_so(tmp_path, monkeypatch):
    import engine.training.distributed as distributed
    monkeypatch.setattr(distributed.sys, "executable", str(tmp_path / "no-such-python"))
    seen = []
    finished = DistributedRun(tiny(), cfg(), tmp_path / "run", nproc=2, on_event=seen.append).run()
    assert finished.reason == "error" and seen[-1] is finished
    assert "torchrun could not be started" in seen[0].message
