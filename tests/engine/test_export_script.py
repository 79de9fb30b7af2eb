"""The exported training script runs unchanged under torchrun with two CPU processes, and its
distributed set-up guards against what fails on real clusters (issue 14, item 5): --sync-bn without
CUDA, a second machine without a shared file system, a last shard of one sample with batch norm,
more processes on a machine than it has GPUs."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from engine import Design
from engine.compile import compile_design
from engine.export import export


def small_design():
    d = Design("digits-net", num_classes=10)
    d.chain(("input", {"shape": [1, 8, 8]}), ("conv2d", {"out_channels": 8, "padding": 1}), "batchnorm2d", "relu",
            ("maxpool2d", {"kernel": 2}), "flatten", ("linear", {"out_features": 10}), "output")
    return d


@pytest.mark.slow
def test_torchrun_two_processes_end_with_identical_weights(tmp_path):
    torchrun = Path(sys.executable).with_name("torchrun")
    if not torchrun.exists():
        pytest.skip("torchrun is not installed beside this Python")
    design = small_design()
    data = {"name": "digits", "input_shape": [1, 8, 8], "source": {"name": "digits", "options": {}}}
    result = export(design, compile_design(design), "script", tmp_path / "script", data=data,
                    train_config={"optimizer": "sgd", "lr": 0.05, "batch_size": 32, "seed": 3})
    assert result.verified
    # Run it from elsewhere with an environment that cannot see the project.
    shutil.copytree(tmp_path / "script", tmp_path / "copy")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH",)}
    env["OMP_NUM_THREADS"] = "1"
    env["GLOO_SOCKET_IFNAME"] = "lo"  # a CI box whose hostname does not resolve: stay on loopback
    proc = subprocess.run([str(torchrun), "--standalone", "--local-addr=127.0.0.1", "--nproc_per_node=2",
                           "train.py", "--epochs", "2", "--max-steps", "6", "--out", str(tmp_path / "run"),
                           "--sync-bn"],
                          cwd=tmp_path / "copy", env=env, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    assert proc.stdout.count("--sync-bn skipped: synchronised batch norm needs CUDA") == 1  # said once, by rank 0
    digests = dict(re.findall(r"rank (\d)/2: weights sha256 ([0-9a-f]+)", proc.stdout))
    assert set(digests) == {"0", "1"}
    assert digests["0"] == digests["1"]
    final = json.loads((tmp_path / "run" / "final.json").read_text())
    assert final["world_size"] == 2 and final["identical_on_all_ranks"] and final["steps"] == 6
    # Only rank 0 wrote: one checkpoint set, one log, and the checkpoint holds the final weights.
    checkpoint = torch.load(tmp_path / "run" / "checkpoints" / "last.pt", weights_only=True)
    assert checkpoint["step"] == 6
    model = compile_design(design)
    model.load_state_dict(checkpoint["model"])  # same keys as the app's model: it can come back
    start = torch.load(tmp_path / "copy" / "weights.pt", weights_only=True)
    assert any(not torch.equal(start[k], checkpoint["model"][k]) for k in start)  # it did train
    rows = (tmp_path / "run" / "metrics.csv").read_text().strip().splitlines()
    assert rows[0].startswith("epoch,step") and len(rows) == 2  # 6 steps < one epoch (1,438 samples / 2 ranks / 32)
    accuracy = float(rows[1].split(",")[4])  # over the 359 validation samples, none counted twice
    assert accuracy * 359 == pytest.approx(round(accuracy * 359), abs=1e-3)


# -- the distributed safeguards, in this process (no torchrun, no GPU) --------------------------
@pytest.fixture(scope="module")
def script(tmp_path_factory):
    """The exported train.py of small_design(), compiled and imported as a module."""
    import importlib.util
    folder = tmp_path_factory.mktemp("script")
    design = small_design()
    data = {"name": "digits", "input_shape": [1, 8, 8], "source": {"name": "digits", "options": {}}}
    export(design, compile_design(design), "script", folder, data=data, train_config={"batch_size": 4})
    compile((folder / "train.py").read_text(), str(folder / "train.py"), "exec")
    spec = importlib.util.spec_from_file_location("exported_train_under_test", folder / "train.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_sync_bn_is_skipped_with_a_note_without_cuda(script, capsys):
    model = script.MODEL_CLASS()
    kept = script.sync_batch_norm(model, True, 2, torch.device("cpu"), rank=0)
    assert kept is model and not any(isinstance(m, torch.nn.SyncBatchNorm) for m in kept.modules())
    assert "--sync-bn skipped" in capsys.readouterr().out
    script.sync_batch_norm(model, True, 2, torch.device("cpu"), rank=1)
    assert capsys.readouterr().out == ""  # one note, from rank 0
    on_gpu = script.sync_batch_norm(script.MODEL_CLASS(), True, 2, torch.device("cuda", 0), rank=0)
    assert any(isinstance(m, torch.nn.SyncBatchNorm) for m in on_gpu.modules())
    assert script.sync_batch_norm(model, True, 1, torch.device("cuda", 0), rank=0) is model  # one process


def test_no_training_batch_has_one_sample(script):
    """19 samples over 2 processes, batch 4: without drop_last each rank ends on a batch of 1 (or of
    a padded duplicate), which batch norm in training refuses; with it every batch is full."""
    train = torch.utils.data.TensorDataset(torch.randn(19, 1, 8, 8), torch.randint(0, 10, (19,)))
    val = torch.utils.data.TensorDataset(torch.randn(5, 1, 8, 8), torch.randint(0, 10, (5,)))
    model = script.MODEL_CLASS().train()
    seen, validated = set(), 0
    for rank in (0, 1):
        sampler, loader, val_loader = script.make_loaders(train, val, 4, world=2, rank=rank, seed=0)
        sampler.set_epoch(3)
        sizes = []
        for x, y in loader:
            sizes.append(len(x))
            script.loss_of(model(x), y).backward()  # a one-sample batch would raise here
            seen.update(x[:, 0, 0, 0].tolist())
        assert sizes == [4, 4]
        validated += sum(len(x) for x, _ in val_loader)
    assert validated == 5  # validation keeps every sample, none twice (no padding: 3 + 2)
    assert len(seen) == 16  # no sample twice across the ranks
    with pytest.raises(SystemExit, match="fewer than one batch of 16: lower --batch-size"):
        script.make_loaders(train, val, 16, world=2, rank=0, seed=0)


def test_local_rank_beyond_the_gpus_says_so(script, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("LOCAL_RANK", "1")
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0")
    with pytest.raises(SystemExit) as raised:
        script.setup_distributed()
    message = str(raised.value)
    assert "LOCAL_RANK 1" in message and "only 1 GPU" in message and "--nproc_per_node=1" in message
    assert "CUDA_VISIBLE_DEVICES=0" in message


@pytest.mark.parametrize("rank, local, calls", [
    (0, 0, ["make download=True", "barrier", "barrier"]),       # the first machine's first process
    (1, 1, ["barrier", "barrier", "make download=False"]),       # waits, then reads
    (4, 0, ["barrier", "make download=True", "barrier"]),       # another machine's first process fetches its own
    (5, 1, ["barrier", "barrier", "make download=False"]),
])
def test_the_first_process_of_every_machine_downloads(script, monkeypatch, rank, local, calls):
    import torchvision
    log = []

    class FakeSet:
        def __init__(self, root, train, download):
            log.append(f"make download={download}")
            self.data, self.targets = torch.zeros(4, 8, 8, dtype=torch.uint8), [0, 1, 2, 3]

    class FakeDist:
        is_initialized = staticmethod(lambda: True)
        get_rank = staticmethod(lambda: rank)
        barrier = staticmethod(lambda: log.append("barrier"))
    monkeypatch.setattr(torchvision.datasets, "FakeSet", FakeSet, raising=False)
    monkeypatch.setattr(script, "dist", FakeDist)
    monkeypatch.setenv("LOCAL_RANK", str(local))
    x, y = script._download({"torchvision": "FakeSet", "input_shape": [1, 8, 8]})
    assert log == calls and x.shape == (4, 1, 8, 8) and y.tolist() == [0, 1, 2, 3]


# -- validation metrics as the app computes them (issue 16 item 6) --------------------------------
def softmax_design():
    d = Design("softmax-net", num_classes=10)
    d.chain(("input", {"shape": [1, 8, 8]}), ("conv2d", {"out_channels": 4, "padding": 1}), "batchnorm2d", "relu",
            "flatten", ("dropout", {"p": 0.5}), ("linear", {"out_features": 10}), ("output", {"softmax": True}))
    return d


@pytest.fixture(scope="module")
def softmax_script(tmp_path_factory):
    import importlib.util
    folder = tmp_path_factory.mktemp("softmax_script")
    design = softmax_design()
    torch.manual_seed(5)
    model = compile_design(design)
    model.train()(torch.randn(16, 1, 8, 8))  # batch-norm statistics that are not the initial ones
    data = {"name": "digits", "input_shape": [1, 8, 8], "source": {"name": "digits", "options": {}}}
    export(design, model, "script", folder, data=data, train_config={"batch_size": 4})
    spec = importlib.util.spec_from_file_location("exported_softmax_train", folder / "train.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module, design, model.state_dict()


def _val_set(n=7, seed=1):
    gen = torch.Generator().manual_seed(seed)
    return torch.utils.data.TensorDataset(torch.randn(n, 1, 8, 8, generator=gen), torch.randint(0, 10, (n,), generator=gen))


def test_validation_loss_equals_the_apps_with_a_softmax_output(softmax_script):
    """The Output applies softmax at inference: the script's loss is on the logits, once, exactly
    as engine.training.evaluate computes it for the same weights (not cross-entropy of probabilities)."""
    import torch.nn.functional as F

    from engine.training.evaluate import evaluate as app_evaluate
    script, design, state = softmax_script
    val = _val_set(23)
    app = compile_design(design)
    app.load_state_dict(state)
    expected = app_evaluate(app, val, loss_fn=F.cross_entropy, batch_size=5)
    net = script.MODEL_CLASS()
    net.load_state_dict(state)
    net.train()
    loader = torch.utils.data.DataLoader(val, 5)
    loss, accuracy = script.evaluate(net, loader, torch.device("cpu"), world=1)
    assert loss == pytest.approx(expected.loss, rel=1e-6, abs=1e-7)
    assert accuracy == pytest.approx(expected.accuracy)
    assert net.training and all(m.training for m in net.modules())  # left in training mode
    with torch.no_grad():  # the inference output is still probabilities
        probabilities = net.eval()(val.tensors[0])
    assert torch.allclose(probabilities.sum(1), torch.ones(len(val)), atol=1e-5)
    twice = F.cross_entropy(probabilities, val.tensors[1]).item()
    assert abs(twice - loss) > 1e-3  # what the script computed before: softmax applied twice


class FakeDist:
    """Two processes' collectives, run one after the other in this process: rank 1 first (its sums
    are kept), then rank 0 (its all_reduce adds rank 1's)."""

    def __init__(self):
        self.kept = None

    def broadcast(self, tensor, src):
        pass  # the same weights in both "processes"

    def all_reduce(self, tensor):
        if self.kept is None:
            self.kept = tensor.clone()
        else:
            tensor += self.kept


def test_ddp_validation_counts_every_sample_once(softmax_script, monkeypatch):
    """7 validation samples over 2 processes: 4 + 3, summed to 7 (DistributedSampler padded to
    4 + 4 and counted one twice). The two ranks' metrics together equal one process's."""
    script, design, state = softmax_script
    val = _val_set(7)
    net = script.MODEL_CLASS()
    net.load_state_dict(state)
    single = script.evaluate(net, torch.utils.data.DataLoader(val, 2), torch.device("cpu"), world=1)
    fake = FakeDist()
    monkeypatch.setattr(script, "dist", fake)
    sizes = {}
    for rank in (1, 0):
        _, _, loader = script.make_loaders(_val_set(16, seed=2), val, 2, world=2, rank=rank, seed=0)
        sizes[rank] = sum(len(y) for _, y in loader)
        both = script.evaluate(net, loader, torch.device("cpu"), world=2)
    assert sizes == {0: 4, 1: 3}
    assert both[0] == pytest.approx(single[0], rel=1e-6) and both[1] == pytest.approx(single[1])
    assert round(both[1] * 7) == pytest.approx(both[1] * 7, abs=1e-9)  # a whole number of the 7
