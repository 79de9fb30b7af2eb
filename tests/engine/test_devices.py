"""Device paths checked without a GPU: torch.cuda / torch.backends.mps are monkeypatched where
the logic depends on them; the rest runs on the CPU (issue 14)."""
from __future__ import annotations

import os
import sys

import numpy as np
import pytest
import torch

from engine import data
from engine.compile import compile_design, with_taps
from engine.training import (
    ConfigError,
    TrainConfig,
    Trainer,
    devices,
    events,
    loop,
    resolve_device,
    trainer as trainer_module,
)
from engine.training.evaluate import evaluate
from engine.training.loop import Batcher

from .test_training import run as run_training, tiny_cnn

pytestmark = pytest.mark.usefixtures("one_torch_thread")
CUDA, MPS, CPU = torch.device("cuda"), torch.device("mps"), torch.device("cpu")


@pytest.fixture(scope="module")
def shapes16():
    return data.load("shapes", input_shape=(1, 16, 16), options={"n": 160})


def run(bundle, react=None, design=None, **changes):
    """A one-epoch run of the tiny CNN (test_training's) on ``bundle``, with config changes."""
    cfg = TrainConfig(**{"epochs": 1, "batch_size": 16, "lr": 0.01, "num_threads": 1, **changes})
    return run_training(design or tiny_cnn(), bundle, cfg, react=react)


def errors(seen):
    return [e for e in seen if isinstance(e, events.Error)]


# -- 1: non_blocking only from pinned memory to CUDA ---------------------------------------
class FakeTensor:
    """Records how it is moved (a CPU-only torch cannot pin memory)."""

    def __init__(self, pinned=False):
        self.pinned, self.moves = pinned, []

    def is_pinned(self):
        return self.pinned

    def pin_memory(self):
        return FakeTensor(pinned=True)

    def to(self, device, non_blocking=False):
        self.moves.append((device.type, non_blocking, self.pinned))
        return self


@pytest.mark.parametrize("device", [MPS, CPU])
def test_no_non_blocking_copy_off_cuda(device):
    t = FakeTensor()
    devices.to_device(t, device)
    assert t.moves == [(device.type, False, False)]  # a synchronous copy: the source may be freed next batch
    assert not devices.pin_memory_for(device)


def test_cuda_copies_are_pinned_then_non_blocking():
    moved = devices.to_device(FakeTensor(), CUDA)
    assert moved.moves == [("cuda", True, True)]
    pinned = FakeTensor(pinned=True)
    assert devices.to_device(pinned, CUDA).moves == [("cuda", True, True)] and devices.pin_memory_for(CUDA)


def test_uint8_images_cross_as_uint8_and_become_float_on_the_device(monkeypatch):
    x = torch.randint(0, 256, (10, 1, 4, 4), dtype=torch.uint8)
    dataset = data.TensorSet(x, torch.arange(10) % 2)
    moved = []
    real = devices.to_device
    monkeypatch.setattr(loop, "to_device", lambda t, d: moved.append(t.dtype) or real(t, d))
    batcher = Batcher(dataset, 4, "cpu")
    got = [xb for _, (xb, _) in batcher.batches()]
    assert moved[0] == torch.uint8 and all(b.dtype == torch.float32 for b in got)
    assert torch.equal(torch.cat(got), x.float() / 255)


# -- 2: training and validation on the untapped model --------------------------------------
def test_training_and_validation_run_untapped_while_feature_maps_are_sampled(shapes16, monkeypatch):
    forwards = []
    real_evaluate = trainer_module.evaluate

    def spy_evaluate(model, *args, **kw):
        forwards.append(("validation", kw["batch_size"], kw.get("taps", False)))
        return real_evaluate(model, *args, **kw)
    monkeypatch.setattr(trainer_module, "evaluate", spy_evaluate)
    real_step = Trainer._step

    def spy_step(self, ctx, x, y):
        assert isinstance(ctx.model(ctx.batcher.normalize(x)), torch.Tensor)  # no taps in training
        return real_step(self, ctx, x, y)
    monkeypatch.setattr(Trainer, "_step", spy_step)
    trainer, done, seen = run(shapes16, batch_size=8, feature_map_nodes=["conv2d_2", "relu_3"],
                              feature_map_interval=0.01, event_rate=1000)
    assert done.reason == "completed", errors(seen)
    assert forwards == [("validation", 16, False)]  # twice the training batch, no taps, no 256 floor
    maps = [e for e in seen if isinstance(e, events.FeatureMaps)]
    assert maps and set(maps[-1].maps) == {"conv2d_2", "relu_3"} and maps[-1].maps["conv2d_2"].shape == (4, 16, 16)
    model = trainer.model
    assert not hasattr(model, "tap_ids") or not model.tap_ids
    assert model.get_submodule(model.node_names["relu_3"]).inplace  # the tapped ReLU still runs in place
    # a tapped view of the trained model still sees the ReLU's input before the in-place ReLU overwrites it
    x = torch.as_tensor(maps[-1].input)[None]
    _, acts = with_taps(model.eval(), ["conv2d_2", "relu_3"])(_normalized(trainer, x))
    assert torch.equal(acts["relu_3"], acts["conv2d_2"].clamp_min(0))


def _normalized(trainer, x):
    mean = torch.tensor(trainer.bundle.mean).view(1, -1, 1, 1)
    std = torch.tensor(trainer.bundle.std).view(1, -1, 1, 1)
    return (x - mean) / std


def test_validation_halves_its_batch_on_out_of_memory(shapes16, monkeypatch):
    from engine.training import evaluate as evaluate_module
    emptied = []
    monkeypatch.setattr(evaluate_module, "free_cached_memory", lambda d: emptied.append(sys.exc_info()[0]))
    model = compile_design(tiny_cnn())
    reference = evaluate(model, shapes16, batch_size=8)
    sizes, heard = [], []

    class Hungry(torch.nn.Module):  # "runs out of memory" above 12 samples, as MPS says it
        def __init__(self):
            super().__init__()
            self.inner = model

        def forward(self, x):
            sizes.append(len(x))
            if len(x) > 12:
                raise RuntimeError("MPS backend out of memory (MPS allocated: 9.0 GB, other allocations: 0 bytes)")
            return self.inner(x)
    assert len(shapes16.val) == 32
    result = evaluate(Hungry(), shapes16, batch_size=32, on_smaller_batch=heard.append)
    assert heard == [16, 8] and result.batch_size == 8 and sizes == [32, 16, 8, 8, 8, 8]
    assert emptied == [None, None]  # once per halving, after the except block (no exception being handled)
    assert result.count == reference.count == len(shapes16.val)
    assert result.accuracy == reference.accuracy and (result.confusion == reference.confusion).all()
    with pytest.raises(RuntimeError, match="shape"):  # any other error is not retried
        evaluate(_Broken(), shapes16, batch_size=64)


class _Broken(torch.nn.Module):
    def forward(self, x):
        raise RuntimeError("mat1 and mat2 shapes cannot be multiplied")


# -- 3: out of memory on every device ------------------------------------------------------
@pytest.mark.parametrize("error", [torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB"),
                                   RuntimeError("MPS backend out of memory (MPS allocated: 17.00 GB)"),
                                   RuntimeError("[enforce fail at alloc_cpu.cpp:117] DefaultCPUAllocator: can't "
                                                "allocate memory: you tried to allocate 8 bytes")])
def test_out_of_memory_by_type_and_message(error):
    assert devices.out_of_memory(error)


def test_other_errors_are_not_out_of_memory():
    assert not devices.out_of_memory(RuntimeError("mat1 and mat2 shapes cannot be multiplied"))
    assert not devices.out_of_memory(ValueError("out of memory"))  # not a torch error


def test_mps_out_of_memory_is_reported_and_the_cache_emptied_after_the_except(shapes16, monkeypatch):
    def explode(self, ctx, x, y):
        raise RuntimeError("MPS backend out of memory (MPS allocated: 17.00 GB). Tried to allocate 256 MB")
    monkeypatch.setattr(Trainer, "_step", explode)
    emptied = []
    monkeypatch.setattr(trainer_module, "free_cached_memory", lambda d: emptied.append(sys.exc_info()[0]))
    _, done, seen = run(shapes16, batch_size=64)
    (error,) = errors(seen)
    assert done.reason == "error" and error.code == "out_of_memory" and "Traceback" not in error.details
    assert "batch size 64" in error.message and "lower the batch size to 32" in error.message
    assert emptied == [None]  # called with no exception being handled: its traceback is gone


def test_free_cached_memory_per_device(monkeypatch):
    calls = []
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "empty_cache", lambda: calls.append("cuda"))
    monkeypatch.setattr(devices, "mps_available", lambda: True)
    monkeypatch.setattr(torch.mps, "empty_cache", lambda: calls.append("mps"))
    for device in (CUDA, MPS, CPU):
        devices.free_cached_memory(device)
    assert calls == ["cuda", "mps"]


def test_the_command_line_names_the_flag(tmp_path, monkeypatch, capsys):
    from engine.cli import main
    from engine.persistence import save
    path = tmp_path / "net.json"
    save(tiny_cnn(), path)

    def explode(self, ctx, x, y):
        raise torch.OutOfMemoryError("CUDA out of memory")
    monkeypatch.setattr(Trainer, "_step", explode)
    code = main(["train", str(path), "--dataset", "shapes", "--epochs", "1", "--batch-size", "16", "--threads", "1",
                 "--quiet", "--out", str(tmp_path / "run")])
    assert code == 1 and "try --batch-size 8" in capsys.readouterr().err


# -- 6: determinism ------------------------------------------------------------------------
def test_deterministic_run_sets_the_flags_strictly_and_restores_them(shapes16):
    before = (torch.are_deterministic_algorithms_enabled(), torch.backends.cudnn.deterministic,
              torch.backends.cudnn.benchmark)
    during = []

    def react(trainer, e):
        if isinstance(e, events.RunStarted):
            during.append((torch.are_deterministic_algorithms_enabled(),
                           torch.is_deterministic_algorithms_warn_only_enabled(), torch.backends.cudnn.deterministic))
    _, done, _ = run(shapes16, react=react, deterministic=True)
    assert done.reason == "completed" and during == [(True, False, True)]
    assert (torch.are_deterministic_algorithms_enabled(), torch.backends.cudnn.deterministic,
            torch.backends.cudnn.benchmark) == before


def test_cuda_determinism_sets_cublas_workspace_and_benchmark_otherwise(monkeypatch):
    monkeypatch.delenv("CUBLAS_WORKSPACE_CONFIG", raising=False)
    with devices.global_flags():
        devices.configure_determinism(True, CUDA)
        assert os.environ["CUBLAS_WORKSPACE_CONFIG"] == ":4096:8"
        assert torch.are_deterministic_algorithms_enabled() and not torch.is_deterministic_algorithms_warn_only_enabled()
        assert torch.backends.cudnn.deterministic and not torch.backends.cudnn.benchmark
    assert "CUBLAS_WORKSPACE_CONFIG" not in os.environ and not torch.are_deterministic_algorithms_enabled()
    benchmark = torch.backends.cudnn.benchmark
    with devices.global_flags():
        devices.configure_determinism(False, CUDA)
        assert torch.backends.cudnn.benchmark and not torch.are_deterministic_algorithms_enabled()
        devices.configure_determinism(False, CPU)
    assert torch.backends.cudnn.benchmark == benchmark
    with devices.global_flags():
        devices.configure_determinism(True, CPU)
        assert "CUBLAS_WORKSPACE_CONFIG" not in os.environ


def test_an_operation_without_a_deterministic_version_is_explained(shapes16, monkeypatch):
    def refuse(self, ctx, x, y):
        raise RuntimeError("adaptive_max_pool2d_backward_cuda does not have a deterministic implementation, but "
                           "you set 'torch.use_deterministic_algorithms(True)'. You can turn off determinism ...")
    monkeypatch.setattr(Trainer, "_step", refuse)
    _, done, seen = run(shapes16, deterministic=True)
    (error,) = errors(seen)
    assert done.reason == "error" and error.code == "config"
    assert "adaptive_max_pool2d_backward_cuda" in error.message and "turn deterministic off" in error.message
    assert not torch.are_deterministic_algorithms_enabled()


# -- 7: mixed precision, devices, workers ---------------------------------------------------
@pytest.mark.parametrize("bf16, dtype, scaler", [(True, torch.bfloat16, False), (False, torch.float16, True)])
def test_cuda_autocast_prefers_bf16_without_a_scaler(monkeypatch, bf16, dtype, scaler):
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: bf16)
    assert devices.autocast_dtype(CUDA) == dtype and devices.needs_grad_scaler(CUDA, dtype) == scaler


def test_cpu_autocast_is_bf16_and_validation_runs_under_it(shapes16):
    assert devices.autocast_dtype(CPU) == torch.bfloat16 and not devices.needs_grad_scaler(CPU, torch.bfloat16)
    result = evaluate(compile_design(tiny_cnn()), shapes16, batch_size=32, autocast=True)
    assert result.count == len(shapes16.val)


@pytest.mark.parametrize("name", ["cudaX", "cuda:", "gpu", "mps:1", "CUDA", "cuda:0 ", "cpu:0", ""])
def test_device_names_that_are_not_devices_are_config_errors(name):
    with pytest.raises(ConfigError, match="not a device name"):
        TrainConfig(device=name)
    with pytest.raises(ConfigError, match="not a device name"):
        resolve_device(name)
    with pytest.raises(ConfigError):
        evaluate(compile_design(tiny_cnn()), data.TensorSet(torch.zeros(2, 1, 16, 16), torch.zeros(2)), device=name)


def test_mps_0_is_accepted(monkeypatch):
    assert TrainConfig(device="mps:0").device == "mps:0"
    monkeypatch.setattr(devices, "mps_available", lambda: True)
    from engine.training import optim
    monkeypatch.setattr(optim, "mps_available", lambda: True)
    for name in ("mps", "mps:0"):
        device, note = resolve_device(name)
        assert device.type == "mps" and "Apple GPU" in note
    monkeypatch.setattr(optim, "mps_available", lambda: False)
    with pytest.raises(ConfigError, match="MPS is not available"):
        resolve_device("mps:0")


def test_image_files_decode_in_a_worker_process_with_failures_carried_back(tmp_path):
    from PIL import Image
    for label, value in (("dark", 20), ("light", 230)):
        (tmp_path / label).mkdir()
        for i in range(6):
            Image.fromarray(np.full((8, 8), value, np.uint8)).save(tmp_path / label / f"{i}.png")
    bundle = data.load(str(tmp_path), input_shape=(1, 8, 8))
    (tmp_path / "dark" / "0.png").write_bytes(b"broken after the load-time check")
    order = torch.arange(len(bundle.train))
    in_thread = Batcher(bundle.train, 4, "cpu", workers=0)
    expected = [(b, x.clone(), y.clone()) for b, (x, y) in in_thread.batches(order)]
    failed_here = set(bundle.train.dataset.failed)
    bundle.train.dataset.failed.clear()
    bundle.train.dataset.first_failure = None
    workers = Batcher(bundle.train, 4, "cpu", workers=1)
    try:
        for _ in range(2):  # the same persistent worker serves a second pass
            got = list(workers.batches(order))
            assert [b for b, _ in got] == [b for b, _, _ in expected]
            for (_, (x, y)), (_, ex, ey) in zip(got, expected):
                assert x.dtype == torch.float32 and torch.equal(x, ex) and torch.equal(y, ey)
    finally:
        workers.close()
    assert bundle.train.dataset.failed == failed_here
    assert (bundle.train.dataset.first_failure is None) == (not failed_here)


def test_workers_only_for_large_file_sets(monkeypatch):
    monkeypatch.setattr(os, "cpu_count", lambda: 8)
    images = data.FileImageSet(["x.png"] * loop.MIN_WORKER_SAMPLES, [0] * loop.MIN_WORKER_SAMPLES, (1, 8, 8))
    assert loop.data_workers(images) == loop.MAX_WORKERS
    assert loop.data_workers(torch.utils.data.Subset(images, range(10))) == 0  # spawning costs more than decoding
    assert loop.data_workers(data.TensorSet(torch.zeros(5000, 1, 2, 2), torch.zeros(5000))) == 0
    monkeypatch.setattr(os, "cpu_count", lambda: 1)
    assert loop.data_workers(images) == 0  # a single core: decode in the training thread


def test_decoding_falls_back_to_this_thread_when_workers_cannot_start(tmp_path, monkeypatch):
    from PIL import Image
    for label, value in (("dark", 20), ("light", 230)):
        (tmp_path / label).mkdir()
        for i in range(4):
            Image.fromarray(np.full((8, 8), value, np.uint8)).save(tmp_path / label / f"{i}.png")
    bundle = data.load(str(tmp_path), input_shape=(1, 8, 8))

    def no_workers(self, index_lists):
        raise RuntimeError("DataLoader worker (pid(s) 4242) exited unexpectedly")
        yield
    monkeypatch.setattr(Batcher, "_from_workers", no_workers)
    batcher = Batcher(bundle.train, 2, "cpu", workers=2)
    got = list(batcher.batches())
    expected = list(Batcher(bundle.train, 2, "cpu", workers=0).batches())
    assert len(got) == len(expected) and all(torch.equal(a[1][0], b[1][0]) for a, b in zip(got, expected))
    assert batcher.workers == 0 and "exited unexpectedly" in batcher.fallback
    monkeypatch.setattr(loop, "MIN_WORKER_SAMPLES", 1)
    monkeypatch.setattr(os, "cpu_count", lambda: 4)
    _, done, seen = run(data.load(str(tmp_path), input_shape=(1, 16, 16)), batch_size=2)
    warnings = [e.message for e in seen if isinstance(e, events.Warning) and e.code == "decode_workers"]
    assert done.reason == "completed" and len(warnings) == 1 and "__main__" in warnings[0]
