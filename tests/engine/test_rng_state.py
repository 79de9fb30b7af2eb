"""Checkpoints save the training device's generator only, and resume on fewer GPUs (issue 14, item 4).
No GPU here: torch.cuda and torch.mps are replaced by fakes that keep one state per device."""
from __future__ import annotations

import pytest
import torch

from engine import Design, data
from engine.training import TrainConfig, Trainer, events, load_checkpoint, rng_state


class FakeCuda:
    """``count`` GPUs, each with its own generator state (a distinct uint8 tensor)."""

    def __init__(self, count: int):
        self.count = count
        self.states = {i: torch.full((16,), i, dtype=torch.uint8) for i in range(count)}
        self.set_calls = []

    def get_rng_state(self, device=0):
        index = torch.device(device).index if not isinstance(device, int) else device
        if index >= self.count:
            raise IndexError(f"no GPU {index}")
        return self.states[index].clone()

    def set_rng_state(self, state, device=0):
        if device >= self.count:
            raise IndexError(f"no GPU {device}")  # what set_rng_state_all hit with a longer list
        self.set_calls.append(device)
        self.states[device] = state.clone()

    def get_rng_state_all(self):
        return [self.states[i].clone() for i in range(self.count)]

    def set_rng_state_all(self, states):
        for i, s in enumerate(states):
            self.set_rng_state(s, i)


@pytest.fixture
def gpus(monkeypatch):
    def install(count):
        fake = FakeCuda(count)
        monkeypatch.setattr(torch.cuda, "is_available", lambda: count > 0)
        monkeypatch.setattr(torch.cuda, "device_count", lambda: count)
        monkeypatch.setattr(torch.cuda, "current_device", lambda: 0)
        monkeypatch.setattr(torch.cuda, "get_rng_state", fake.get_rng_state)
        monkeypatch.setattr(torch.cuda, "set_rng_state", fake.set_rng_state)
        monkeypatch.setattr(torch.cuda, "get_rng_state_all", fake.get_rng_state_all)
        monkeypatch.setattr(torch.cuda, "set_rng_state_all", fake.set_rng_state_all)
        return fake
    return install


def test_saved_on_gpu_2_of_4_it_keeps_that_generator_only(gpus):
    gpus(4)
    state = rng_state.capture(torch.device("cuda", 2))
    assert set(state) == {"torch", "cuda"}
    assert isinstance(state["cuda"], torch.Tensor) and state["cuda"].tolist() == [2] * 16
    assert torch.equal(state["torch"], torch.get_rng_state())


def test_resumed_on_one_gpu_it_restores_into_that_gpu(gpus):
    gpus(4)
    saved = rng_state.capture(torch.device("cuda", 3))
    one = gpus(1)  # the same checkpoint, now on a machine with one GPU
    assert rng_state.restore(saved, torch.device("cuda", 0)) == []
    assert one.set_calls == [0] and one.states[0].tolist() == [3] * 16


def test_an_old_checkpoint_with_four_states_resumes_on_one_gpu(gpus):
    four = gpus(4)
    old = {"torch": torch.get_rng_state(), "cuda": four.get_rng_state_all()}  # the format before the fix
    one = gpus(1)
    with pytest.raises(IndexError):
        torch.cuda.set_rng_state_all(old["cuda"])  # what resume used to do
    one.set_calls.clear()
    assert rng_state.restore(old, "cuda") == []  # "cuda" with no index: the current device, 0
    assert one.set_calls == [0] and one.states[0].tolist() == [0] * 16


def test_an_old_checkpoint_without_the_devices_entry_is_skipped_with_a_note(gpus):
    one = gpus(1)
    old = {"torch": torch.get_rng_state(), "cuda": [torch.zeros(16, dtype=torch.uint8)]}
    three = gpus(4)
    notes = rng_state.restore(old, torch.device("cuda", 3))
    assert three.set_calls == [] and "cuda:3" in notes[0]
    assert one.set_calls == []


def test_cpu_state_is_restored_and_gpu_state_ignored_on_the_cpu(gpus):
    fake = gpus(2)
    torch.manual_seed(5)
    saved = {"torch": torch.get_rng_state(), "cuda": torch.ones(16, dtype=torch.uint8)}
    expected = torch.rand(3)
    torch.manual_seed(99)
    assert rng_state.restore(saved, "cpu") == []
    assert torch.equal(torch.rand(3), expected) and fake.set_calls == []
    assert set(rng_state.capture("cpu")) == {"torch"}


def test_mps_generator_is_saved_and_restored(monkeypatch):
    store = {"state": torch.tensor([7, 7], dtype=torch.uint8), "set": []}
    monkeypatch.setattr(torch.mps, "get_rng_state", lambda *a, **k: store["state"].clone())
    monkeypatch.setattr(torch.mps, "set_rng_state", lambda s, *a, **k: store["set"].append(s.tolist()))
    saved = rng_state.capture(torch.device("mps"))
    assert set(saved) == {"torch", "mps"} and saved["mps"].tolist() == [7, 7]
    assert rng_state.restore(saved, "mps:0") == [] and store["set"] == [[7, 7]]


def test_the_trainers_checkpoint_holds_one_gpu_state(gpus, tmp_path):
    """Trainer._checkpoint on a (pretend) cuda:1 of 4: only that generator is written."""
    gpus(4)
    from engine.training.trainer import Trainer as T

    class Ctx:
        model = torch.nn.Linear(2, 2)
        device = torch.device("cuda", 1)
        optimizer = torch.optim.SGD(model.parameters(), 0.1)
        schedule = type("S", (), {"state_dict": lambda self: {}})()
        scaler = torch.amp.GradScaler("cuda", enabled=False)
        step = 0
    trainer = T(tiny(), TrainConfig())
    trainer.best = {"epoch": None, "value": None}
    checkpoint = trainer._checkpoint(Ctx(), 1, 0, None)
    assert checkpoint["rng"]["cuda"].tolist() == [1] * 16


def tiny() -> Design:
    d = Design("tiny", num_classes=4)
    d.chain(("input", {"shape": [1, 8, 8]}), ("conv2d", {"out_channels": 2, "kernel": 3, "padding": 1}), "relu",
            "flatten", ("linear", {"out_features": 4}), "output")
    return d


def test_resume_from_a_checkpoint_saved_on_four_gpus_runs_on_this_machine(tmp_path, one_torch_thread):
    """A real run's checkpoint rewritten in the old format (four GPU states) resumes here on the CPU."""
    bundle = data.load("shapes", input_shape=(1, 8, 8), options={"n": 64})
    cfg = TrainConfig(epochs=2, batch_size=16, lr=0.01, num_threads=1)
    stopper = {}

    def stop_after_first_epoch(e):
        if isinstance(e, events.EpochEnd):
            stopper["trainer"].stop()
    first = Trainer(tiny(), cfg, dataset=bundle, run_dir=tmp_path, on_event=stop_after_first_epoch)
    stopper["trainer"] = first
    assert first.run().reason == "stopped"
    path = tmp_path / "checkpoints" / "last.pt"
    checkpoint = load_checkpoint(path)
    checkpoint["rng"]["cuda"] = [torch.zeros(16, dtype=torch.uint8)] * 4
    torch.save(checkpoint, path)
    seen = []
    done = Trainer(tiny(), cfg.replace(resume=str(path)), dataset=bundle, run_dir=tmp_path, on_event=seen.append).run()
    assert done.reason == "completed", [e for e in seen if isinstance(e, events.Error)]
    assert len(done.history) == 2
