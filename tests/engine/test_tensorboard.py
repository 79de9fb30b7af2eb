"""TensorBoard event files of a run (engine.training.tensorboard_log): what is written matches the
run's own metrics, and a run without the optional package is an ordinary run."""
from __future__ import annotations

import math
import sys

import pytest
import torch

from engine import Design, compile_design, data
from engine.training import TrainConfig, Trainer, events, rundir, tensorboard_log

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def digits_cnn() -> Design:
    d = Design("tb digits", num_classes=10)
    d.chain(("input", {"shape": [1, 8, 8]}), ("conv2d", {"out_channels": 6, "kernel": 3, "padding": 1}),
            "batchnorm2d", "relu", ("maxpool2d", {}), "flatten", ("linear", {"out_features": 10}), "output")
    return d


@pytest.fixture(scope="module")
def digits():
    return data.load("digits")


def train(tmp_path, bundle, name, **changes):
    cfg = TrainConfig(**{"epochs": 1, "batch_size": 32, "lr": 0.01, "num_threads": 1, "seed": 3, **changes})
    seen: list = []
    trainer = Trainer(digits_cnn(), cfg, dataset=bundle, on_event=seen.append, run_dir=tmp_path / name)
    finished = trainer.run()
    return finished, seen, tmp_path / name


def accumulator(run_dir):
    event_accumulator = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")
    acc = event_accumulator.EventAccumulator(str(run_dir), size_guidance={"scalars": 0, "images": 0, "tensors": 0})
    acc.Reload()
    return acc


def test_a_run_writes_scalars_images_and_graph(tmp_path, digits):
    pytest.importorskip("tensorboard")
    finished, seen, run_dir = train(tmp_path, digits, "run")
    assert finished.reason == "completed"
    assert tensorboard_log.event_files(run_dir), "no event file in the run folder"
    acc = accumulator(run_dir)
    tags = acc.Tags()
    rows = rundir.read_metrics(run_dir)
    assert len(rows) == 1
    for key, value in rows[0].items():  # every epoch value of metrics.jsonl, at step = epoch
        if key == "epoch" or value is None:
            continue
        (point,) = acc.Scalars(f"epoch/{key}")
        assert point.step == rows[0]["epoch"] and math.isclose(point.value, value, rel_tol=1e-6, abs_tol=1e-7), key
    batches = [e for e in seen if isinstance(e, events.BatchProgress)]
    for tag, attr in (("batch/loss", "loss"), ("batch/accuracy", "accuracy"), ("batch/lr", "lr")):
        points = acc.Scalars(tag)  # one point per progress event, at its optimizer step
        assert [p.step for p in points] == [b.step for b in batches]
        assert all(math.isclose(p.value, getattr(b, attr), rel_tol=1e-6, abs_tol=1e-7) for p, b in zip(points, batches))
    design = digits_cnn()
    conv, bn = (next(n.id for n in design.nodes.values() if n.block == b) for b in ("conv2d", "batchnorm2d"))
    assert set(tags["images"]) == {f"filters/{conv}", f"feature_maps/{conv}"}
    filters = acc.Images(f"filters/{conv}")
    assert [i.step for i in filters] == [0, 1]  # before training and after the epoch
    assert [i.step for i in acc.Images(f"feature_maps/{conv}")] == [1]
    assert all(i.encoded_image_string.startswith(b"\x89PNG") and i.width >= 32 for i in filters)
    names = compile_design(design).node_names  # the graph's nodes are the compiled module's
    nodes = {n.name: n for n in acc.Graph().node}
    assert nodes[names[conv]].op == "Conv2d" and list(nodes[names[bn]].input) == [names[conv]]
    assert [d.size for d in nodes[names[conv]].attr["_output_shapes"].list.shape[0].dim] == [1, 6, 8, 8]


def test_the_sink_changes_nothing_in_the_run(tmp_path, digits, monkeypatch):
    """Same seed, with and without TensorBoard: the same metrics (its extra forward passes run in
    eval mode, without gradients, and leave each layer's mode as it was)."""
    pytest.importorskip("tensorboard")
    _, _, with_tb = train(tmp_path, digits, "with", epochs=2)
    monkeypatch.setenv("ND_TENSORBOARD", "0")
    _, _, without = train(tmp_path, digits, "without", epochs=2)
    assert tensorboard_log.event_files(with_tb) and not tensorboard_log.event_files(without)

    def values(run_dir):
        return [{k: v for k, v in row.items() if k != "seconds"} for row in rundir.read_metrics(run_dir)]
    assert values(with_tb) == values(without)


def test_without_tensorboard_a_run_succeeds_and_writes_no_event_files(tmp_path, digits, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # importing it now raises ImportError
    monkeypatch.setitem(sys.modules, "tensorboard", None)
    assert not tensorboard_log.available()
    finished, seen, run_dir = train(tmp_path, digits, "plain")
    assert finished.reason == "completed" and (run_dir / "metrics.jsonl").is_file()
    assert tensorboard_log.event_files(run_dir) == []
    assert not [e for e in seen if isinstance(e, (events.Warning, events.Error))]  # nothing said about it


def test_a_failing_sink_never_reaches_the_run(tmp_path, digits, monkeypatch):
    pytest.importorskip("tensorboard")

    def broken(self, event):
        if isinstance(event, events.EpochEnd):
            raise OSError("disk full (simulated)")
        return real(self, event)
    real = tensorboard_log.TensorBoardLog._write
    monkeypatch.setattr(tensorboard_log.TensorBoardLog, "_write", broken)
    finished, seen, run_dir = train(tmp_path, digits, "broken")
    assert finished.reason == "completed" and not [e for e in seen if isinstance(e, events.Error)]
    notes = accumulator(run_dir).Tensors("notes/text_summary")
    assert any(b"disk full (simulated)" in n.tensor_proto.string_val[0] for n in notes)


def test_a_module_that_is_not_an_fx_graph_gets_a_note_instead_of_a_graph(tmp_path):
    pytest.importorskip("tensorboard")
    model = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.Flatten())
    log = tensorboard_log.open_log(tmp_path, model, digits_cnn(), TrainConfig(), lambda: torch.zeros(1, 1, 8, 8))
    assert log is not None
    log._graph()
    log.close()
    acc = accumulator(tmp_path)
    assert not acc.Tags()["graph"]
    (note,) = acc.Tensors("notes/text_summary")
    assert note.tensor_proto.string_val[0].startswith(b"graph not written")


def test_grids_of_filters_and_maps():
    rgb = tensorboard_log.filter_grid(torch.randn(16, 3, 5, 5))
    grey = tensorboard_log.filter_grid(torch.randn(4, 2, 3, 3))
    one_d = tensorboard_log.filter_grid(torch.randn(4, 2, 7))
    maps = tensorboard_log.map_grid(torch.randn(100, 4, 4))
    large = tensorboard_log.map_grid(torch.randn(64, 112, 112))
    assert rgb.shape[0] == grey.shape[0] == one_d.shape[0] == maps.shape[0] == 3
    assert 0.0 <= float(rgb.min()) and float(rgb.max()) <= 1.0
    assert tensorboard_log.filter_grid(torch.randn(2, 2, 3, 3, 3)) is None  # 3-D convolutions: not drawn
    assert tuple(maps.shape) == (3, 4 * 33 + 1, 8 * 33 + 1)  # 32 of the channels, 8 a row, 4 px enlarged 8×
    assert tuple(large.shape) == (3, 4 * 39 + 1, 8 * 39 + 1)  # 112 px shrunk to 38 (by 3), one-pixel lines
    assert tuple(grey.shape) == (3, 4 * 25 + 1, 2 * 25 + 1)  # a row per filter, a column per input channel (3 px × 8)


def test_a_resumed_run_continues_its_curves(tmp_path, digits):
    """Resuming into the same folder adds an event file; TensorBoard reads both as one run whose
    epoch curves continue (no repeated epoch, no second 'before training' filters)."""
    pytest.importorskip("tensorboard")
    train(tmp_path, digits, "run")
    resumed, _, run_dir = train(tmp_path, digits, "run", epochs=2,
                                resume=str(tmp_path / "run" / "checkpoints" / "last.pt"))
    assert resumed.reason == "completed" and len(tensorboard_log.event_files(run_dir)) == 2
    acc = accumulator(run_dir)
    rows = rundir.read_metrics(run_dir)
    assert [(p.step, round(p.value, 6)) for p in acc.Scalars("epoch/val_loss")] == \
        [(r["epoch"], round(r["val_loss"], 6)) for r in rows] and len(rows) == 2
    conv = next(n.id for n in digits_cnn().nodes.values() if n.block == "conv2d")
    assert [i.step for i in acc.Images(f"filters/{conv}")] == [0, 1, 2]
