"""Out of memory in the app names the app's control, not the command line's flag (issue 14)."""
from __future__ import annotations

import pytest
import torch

from designer.training.engine_adapter import AppTrainer
from engine import Design, data
from engine.training import TrainConfig, Trainer, events


def test_the_app_names_the_batch_size_control(monkeypatch):
    design = Design("tiny", num_classes=4)
    design.chain(("input", {"shape": [1, 16, 16]}), ("conv2d", {"out_channels": 4, "kernel": 3, "padding": 1}),
                 "relu", ("maxpool2d", {}), "flatten", ("linear", {"out_features": 4}), "output")
    bundle = data.load("shapes", input_shape=(1, 16, 16), options={"n": 64})

    def explode(self, ctx, x, y):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
    monkeypatch.setattr(Trainer, "_step", explode)
    seen = []
    trainer = AppTrainer(design, TrainConfig(epochs=1, batch_size=32, num_threads=1), dataset=bundle)
    trainer.on_event = seen.append
    done = trainer.run()
    (error,) = [e for e in seen if isinstance(e, events.Error)]
    assert done.reason == "error" and error.code == "out_of_memory"
    assert "Batch size in the Training panel to 16" in error.message
    assert "--batch-size" not in error.message


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)
