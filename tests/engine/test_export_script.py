"""The exported training script runs unchanged under torchrun with two CPU processes."""
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
                           "train.py", "--epochs", "2", "--max-steps", "6", "--out", str(tmp_path / "run")],
                          cwd=tmp_path / "copy", env=env, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
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
