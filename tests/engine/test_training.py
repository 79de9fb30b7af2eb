"""Trainer behaviour: control flags, resume, divergence, freezing, events, run folder."""
from __future__ import annotations

import json
import math
import threading
import time
from dataclasses import fields

import numpy as np
import pytest
import torch

from engine import Design, compile_design, data
from engine.training import ConfigError, TrainConfig, Trainer, events, load_checkpoint, resolve_device
from engine.training.optim import LRSchedule, parameter_groups
from engine.training.trainer import Trainer as TrainerClass

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def shapes16():
    return data.load("shapes", input_shape=(1, 16, 16), options={"n": 320})


def tiny_cnn(batch_norm=False) -> Design:
    d = Design("tiny", num_classes=4)
    steps = [("input", {"shape": [1, 16, 16]}), ("conv2d", {"out_channels": 4, "kernel": 3, "padding": 1})]
    steps += ["batchnorm2d"] if batch_norm else []
    steps += ["relu", ("maxpool2d", {}), "flatten", ("linear", {"out_features": 4}), "output"]
    d.chain(*steps)
    return d


def config(**changes) -> TrainConfig:
    return TrainConfig(**{"epochs": 2, "batch_size": 16, "lr": 0.01, "num_threads": 1, **changes})


def run(design, bundle, cfg, run_dir=None, react=None):
    seen = []
    trainer = Trainer(design, cfg, dataset=bundle, run_dir=run_dir)

    def on_event(e):
        seen.append(e)
        if react:
            react(trainer, e)
    trainer.on_event = on_event
    return trainer, trainer.run(), seen


def of(seen, kind):
    return [e for e in seen if isinstance(e, kind)]


def test_events_are_plain_and_rate_limited(shapes16):
    stamps = []

    def react(trainer, e):
        if isinstance(e, events.BatchProgress):
            stamps.append((time.perf_counter(), e.batch == e.batches))
    cfg = config(epochs=2, batch_size=4, event_rate=20, feature_map_nodes=["conv2d_2", "nope"],
                 feature_map_interval=0.05)
    _, done, seen = run(tiny_cnn(), shapes16, cfg, react=react)
    assert done.reason == "completed"
    steps = 2 * 64  # 256 training samples / 4
    progress = of(seen, events.BatchProgress)
    assert len(progress) < steps / 2  # throttled: far fewer events than batches
    for (t0, _), (t1, forced) in zip(stamps, stamps[1:]):
        assert forced or t1 - t0 >= 1 / 20 - 0.01
    maps = of(seen, events.FeatureMaps)
    assert maps and maps[0].maps["conv2d_2"].shape == (4, 16, 16) and maps[0].prediction.shape == (4,)
    assert any("nope" in w.message for w in of(seen, events.Warning))

    def plain(value):
        if isinstance(value, dict):
            return all(plain(k) and plain(v) for k, v in value.items())
        if isinstance(value, (list, tuple)):
            return all(plain(v) for v in value)
        return value is None or isinstance(value, (bool, int, float, str, np.ndarray, np.generic))
    for e in seen:
        assert all(plain(getattr(e, f.name)) for f in fields(e)), e
    epoch = of(seen, events.EpochEnd)[-1]
    assert epoch.confusion.shape == (4, 4) and epoch.confusion.sum() == 64 and epoch.val_top5 is None


def test_stop_takes_effect_within_one_batch(shapes16, tmp_path):
    def react(trainer, e):
        if isinstance(e, events.BatchProgress) and e.step >= 3 and not trainer.stop_requested:
            react.at = e.step
            trainer.stop()
    _, done, seen = run(tiny_cnn(), shapes16, config(epochs=5, batch_size=4), tmp_path, react)
    assert done.reason == "stopped"
    assert max(e.step for e in of(seen, events.BatchProgress)) == react.at
    checkpoint = load_checkpoint(tmp_path / "checkpoints" / "last.pt")
    assert checkpoint["step"] == react.at and checkpoint["epoch"] == 0 and checkpoint["batch"] == react.at
    assert (tmp_path / "weights.safetensors").exists()


def test_stop_during_validation_resumes_with_that_validation(shapes16, tmp_path):
    def react(trainer, e):
        if isinstance(e, events.BatchProgress) and e.batch == e.batches:
            trainer.stop()  # the next thing the run does is validate
    _, done, seen = run(tiny_cnn(), shapes16, config(epochs=2), tmp_path, react)
    assert done.reason == "stopped" and not of(seen, events.EpochEnd)
    _, done, seen = run(tiny_cnn(), shapes16, config(epochs=2, resume=str(tmp_path / "checkpoints" / "last.pt")),
                        tmp_path)
    assert done.reason == "completed" and [e.epoch for e in of(seen, events.EpochEnd)] == [0, 1]


def test_stop_from_another_thread_while_paused(shapes16):
    trainer = Trainer(tiny_cnn(), config(epochs=50, batch_size=4), dataset=shapes16)
    seen = []
    holding = threading.Event()

    def on_event(e):
        seen.append(e)
        if isinstance(e, events.Paused):
            holding.set()
    trainer.on_event = on_event
    trainer.pause()
    thread = threading.Thread(target=trainer.run)
    thread.start()
    assert holding.wait(60), "the paused run never reached its first batch"
    assert trainer.paused and not trainer.stop_requested
    assert of(seen, events.Paused)[0].step == 0 and not of(seen, events.BatchProgress)  # held before batch 1
    trainer.stop()
    thread.join(30)
    assert not thread.is_alive()
    assert trainer.stop_requested and not trainer.paused  # stopping wakes the paused run
    finished = of(seen, events.Finished)
    assert len(finished) == 1 and finished[0].reason == "stopped" and finished[0].epochs_done == 0
    assert not of(seen, events.BatchProgress) and not of(seen, events.Resumed)  # no batch ran after the stop


def test_inspect_changes_the_sample_between_batches_from_another_thread(shapes16):
    first = np.full((1, 16, 16), 0.25, dtype=np.float32)
    later = np.full((1, 16, 16), 0.75, dtype=np.float32)

    def react(trainer, e):
        if isinstance(e, events.FeatureMaps) and not react.switched:
            react.switched = True
            trainer.inspect(np.zeros((3, 16, 16), dtype=np.float32))  # another shape: ignored
            chooser = threading.Thread(target=trainer.inspect, args=(later,))  # as the UI thread would
            chooser.start()
            chooser.join()
    react.switched = False
    cfg = config(epochs=2, batch_size=4, event_rate=1e6, feature_map_nodes=["conv2d_2"], feature_map_interval=1e-6)
    trainer = Trainer(tiny_cnn(), cfg, dataset=shapes16)
    trainer.inspect(first)  # before the run: its first maps are of this sample
    seen = []

    def on_event(e):
        seen.append(e)
        react(trainer, e)
    trainer.on_event = on_event
    assert trainer.run().reason == "completed"
    inputs = [e.input for e in of(seen, events.FeatureMaps)]
    assert len(inputs) >= 3
    np.testing.assert_array_equal(inputs[0], first)
    np.testing.assert_array_equal(inputs[1], later)  # adopted before the next maps
    np.testing.assert_array_equal(inputs[-1], later)


def test_pause_and_resume(shapes16):
    def react(trainer, e):
        if isinstance(e, events.BatchProgress) and not react.done:
            react.done = True
            trainer.pause()
            threading.Timer(0.3, trainer.resume).start()
    react.done = False
    _, done, seen = run(tiny_cnn(), shapes16, config(epochs=1, batch_size=8), react=react)
    paused, resumed = of(seen, events.Paused), of(seen, events.Resumed)
    assert done.reason == "completed" and len(paused) == 1 and len(resumed) == 1
    assert paused[0].step == resumed[0].step == of(seen, events.BatchProgress)[0].step
    gap = seen.index(resumed[0]) - seen.index(paused[0])
    assert gap == 1  # nothing ran in between


@pytest.mark.parametrize("stop_at", ["epoch_end", "mid_epoch"])
def test_resume_continues_the_same_curve(shapes16, tmp_path, stop_at):
    cfg = config(epochs=3, batch_size=8, augment={"hflip": 0.5, "rotation": 10})
    design = tiny_cnn()
    _, full, _ = run(design, shapes16, cfg)

    def react(trainer, e):
        if stop_at == "epoch_end" and isinstance(e, events.EpochEnd):
            trainer.stop()
        if stop_at == "mid_epoch" and isinstance(e, events.BatchProgress) and e.epoch == 1 and e.batch >= 5:
            trainer.stop()
    _, first, _ = run(design, shapes16, cfg, tmp_path, react)
    assert first.reason == "stopped"
    _, second, seen = run(design, shapes16, cfg.replace(resume=str(tmp_path / "checkpoints" / "last.pt")), tmp_path)
    assert second.reason == "completed" and of(seen, events.RunStarted)[0].start_epoch == 1
    assert len(second.history) == 3
    for a, b in zip(full.history, second.history):
        assert a["val_loss"] == pytest.approx(b["val_loss"], rel=1e-4)
        assert a["train_loss"] == pytest.approx(b["train_loss"], rel=1e-4)


def test_non_finite_loss_stops_with_a_diagnosis_and_keeps_the_good_checkpoint(shapes16, tmp_path):
    cfg = config(epochs=1, optimizer="sgd", lr=0.01)
    _, done, _ = run(tiny_cnn(), shapes16, cfg, tmp_path)
    good = load_checkpoint(tmp_path / "checkpoints" / "last.pt")
    _, done, seen = run(tiny_cnn(), shapes16, cfg.replace(epochs=3, lr=1e12, resume=str(
        tmp_path / "checkpoints" / "last.pt")), tmp_path)
    assert done.reason == "non_finite"
    error = of(seen, events.Error)[0]
    assert error.code == "non_finite" and "learning rate is likely too high" in error.message
    assert "last good checkpoint" in error.message
    kept = load_checkpoint(tmp_path / "checkpoints" / "last.pt")
    assert kept["epoch"] == 1 and all(torch.equal(kept["model"][k], good["model"][k]) for k in good["model"])
    from safetensors.torch import load_file
    assert all(torch.isfinite(t).all() for t in load_file(tmp_path / "weights.safetensors").values())


def test_frozen_nodes_do_not_change(shapes16, tmp_path):
    design = tiny_cnn(batch_norm=True)
    design.set_frozen("conv2d_2", True)  # frozen in the design
    start = compile_design(design).state_dict()
    from safetensors.torch import save_file
    save_file(start, tmp_path / "init.safetensors")
    cfg = config(epochs=2, init_weights=str(tmp_path / "init.safetensors"), freeze_nodes=["batchnorm2d_3"],
                 pretrained_lr_multiplier=0.1)
    trainer, done, _ = run(design, shapes16, cfg)
    assert done.reason == "completed"
    after = trainer.model.state_dict()
    names = trainer.model.node_names
    for key, value in start.items():
        module = key.split(".")[0]
        if module in (names["conv2d_2"], names["batchnorm2d_3"]):
            assert torch.equal(after[key], value), key  # weights and running statistics alike
        elif key.endswith("weight"):
            assert not torch.equal(after[key], value), key


def test_pretrained_nodes_get_the_lower_learning_rate():
    design = tiny_cnn()
    model = compile_design(design)
    groups = parameter_groups(model, model.node_names, {"conv2d_2"}, TrainConfig(lr=0.1, pretrained_lr_multiplier=0.1))
    by_name = {g["name"]: g for g in groups}
    assert by_name["new"]["lr"] == 0.1 and by_name["pretrained"]["lr"] == pytest.approx(0.01)
    assert len(by_name["pretrained"]["params"]) == 2  # conv weight and bias


def test_run_folder_layout(shapes16, tmp_path):
    _, done, _ = run(tiny_cnn(), shapes16, config(epochs=2), tmp_path)
    for name in ("design.json", "config.json", "data.json", "metrics.csv", "metrics.jsonl", "weights.safetensors",
                 "checkpoints/last.pt", "checkpoints/best.pt"):
        assert (tmp_path / name).is_file(), name
    checkpoint = torch.load(tmp_path / "checkpoints" / "last.pt", weights_only=True)
    assert {"model", "optimizer", "scheduler", "epoch", "history", "config", "design"} <= set(checkpoint)
    assert checkpoint["epoch"] == 2 and json.loads(checkpoint["design"])["format"] == "network-designer"
    assert len((tmp_path / "metrics.csv").read_text().splitlines()) == 3
    assert [json.loads(line)["epoch"] for line in (tmp_path / "metrics.jsonl").read_text().splitlines()] == [1, 2]
    described = json.loads((tmp_path / "data.json").read_text())
    assert described["input_shape"] == [1, 16, 16] and described["classes"][0] == "circle" and described["std"]
    from safetensors import safe_open
    with safe_open(tmp_path / "weights.safetensors", "pt") as f:
        assert json.loads(f.metadata()["design"])["nodes"]
        model = compile_design(tiny_cnn())
        model.load_state_dict({k: f.get_tensor(k) for k in f.keys()})
    assert TrainConfig.load(tmp_path / "config.json") == config(epochs=2)


def test_failures_become_error_events(shapes16, tmp_path):
    _, done, seen = run(tiny_cnn(), None, config(dataset=str(tmp_path / "nowhere")))
    assert done.reason == "error" and of(seen, events.Error)[0].code == "data"

    def broken_listener(trainer, e):
        raise RuntimeError("listener bug")
    _, done, _ = run(tiny_cnn(), shapes16, config(epochs=1), react=broken_listener)
    assert done.reason == "completed"
    _, done, seen = run(tiny_cnn(), data.load("digits"), config(resize=False))
    assert done.reason == "error" and "resize" in of(seen, events.Error)[0].message


def test_out_of_memory_names_the_batch_size(shapes16, monkeypatch):
    def explode(self, ctx, x, y):
        raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
    monkeypatch.setattr(TrainerClass, "_step", explode)
    _, done, seen = run(tiny_cnn(), shapes16, config(batch_size=64))
    error = of(seen, events.Error)[0]
    assert done.reason == "error" and error.code == "out_of_memory" and "batch size 64" in error.message
    assert "lower the batch size to 32" in error.message and "--" not in error.message  # the app has no flags


def test_early_stopping_and_overfit_mode(shapes16):
    _, done, seen = run(tiny_cnn(), shapes16, config(epochs=10, lr=1e-9, early_stopping_patience=2))
    assert done.reason == "early_stopping" and done.epochs_done == 3
    _, done, seen = run(tiny_cnn(), shapes16, config(epochs=40, overfit_batches=1, lr=0.03, batch_size=8))
    assert done.history[-1]["train_accuracy"] == 1.0 and of(seen, events.RunStarted)[0].train_size == 8
    assert "pipeline can learn" in [w for w in of(seen, events.Warning) if w.code == "overfit_result"][0].message


def test_learning_rate_schedules():
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)

    def lrs(**c):
        s = LRSchedule(opt, TrainConfig(lr=1.0, epochs=10, **c), steps_per_epoch=10)
        return [s.factor(i) for i in range(100)]
    warm = lrs(warmup_epochs=1)
    assert warm[0] == pytest.approx(0.1) and warm[9] == 1.0 and warm[50] == 1.0
    assert lrs(schedule="step", step_size=3, gamma=0.5)[35] == 0.5 and lrs(schedule="step", step_size=3, gamma=0.5)[65] == 0.25
    assert lrs(schedule="multistep", milestones=[2, 5])[60] == pytest.approx(0.01)
    cosine = lrs(schedule="cosine", min_lr=0.01)
    assert cosine[0] == 1.0 and cosine[99] == pytest.approx(0.01, abs=1e-3) and cosine == sorted(cosine, reverse=True)
    cycle = lrs(schedule="onecycle", warmup_epochs=3)
    assert cycle[0] == pytest.approx(0.04) and max(cycle) == cycle[30] == 1.0 and cycle[99] < 1e-3
    plateau = LRSchedule(opt, TrainConfig(lr=1.0, schedule="plateau", plateau_patience=1, gamma=0.1), 10)
    for value in (0.5, 0.6, 0.6, 0.6):
        plateau.epoch_end(value, higher_is_better=True)
    assert plateau.factor(0) == pytest.approx(0.1)


def test_every_optimizer_and_loss_trains(shapes16):
    for optimizer, loss in (("sgd", "cross_entropy"), ("adamw", "bce"), ("rmsprop", "mse")):
        _, done, _ = run(tiny_cnn(), shapes16, config(epochs=1, optimizer=optimizer, loss=loss, lr=0.003,
                                                       nesterov=True, weight_decay=1e-4, grad_clip=1.0,
                                                       label_smoothing=0.1, schedule="cosine", warmup_epochs=0.5))
        assert done.reason == "completed" and math.isfinite(done.history[0]["val_loss"]), optimizer


def test_config_files_and_devices(tmp_path):
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"epochs": 3, "optimizer": "sgd", "nesterov": True}))
    assert TrainConfig.load(path).optimizer == "sgd"
    path.write_text(json.dumps({"epochz": 3}))
    with pytest.raises(ConfigError, match="epochz"):
        TrainConfig.load(path)
    with pytest.raises(ConfigError, match="optimizer"):
        TrainConfig(optimizer="lbfgs")
    device, note = resolve_device("auto")
    assert note.startswith("auto:") and device.type in ("cpu", "cuda", "mps")
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="CUDA is not available"):
            resolve_device("cuda:0")


def test_images_that_fail_to_decode_during_training_are_skipped_and_reported(tmp_path):
    from PIL import Image
    for label, value in (("dark", 20), ("light", 230)):
        for i in range(10):
            (tmp_path / label).mkdir(exist_ok=True)
            Image.fromarray(np.full((16, 16), value, np.uint8)).save(tmp_path / label / f"{i}.png")
    bundle = data.load(str(tmp_path), input_shape=(1, 16, 16))
    (tmp_path / "dark" / "3.png").write_bytes(b"corrupted after the scan")
    d = Design("folder", num_classes=2)
    d.chain(("input", {"shape": [1, 16, 16]}), "flatten", ("linear", {"out_features": 2}), "output")
    _, done, seen = run(d, bundle, config(epochs=2, batch_size=4))
    assert done.reason == "completed"
    warnings = [w for w in of(seen, events.Warning) if w.code == "undecodable"]
    assert len(warnings) == 1 and warnings[0].message.startswith("1 image file")
