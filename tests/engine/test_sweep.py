"""Sweeps (issue 19, item 3, headless part): the grid is parsed and typed, the plan is the grid's
combinations, design variants are valid designs whose counts torch agrees with, and a sweep runs
each point as a normal run folder and reports the results."""
from __future__ import annotations

import json
import random
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import torch

from engine import Design, blocks, templates
from engine.analysis import analyze
from engine.compile import compile_design
from engine.persistence import save
from engine.sweep import (
    CHANNEL_PARAMS,
    NOT_CHANNEL_PARAMS,
    Sweep,
    SweepError,
    make_variant,
    parse_grid,
    plan_points,
    point_label,
    read_sweep,
    results_table,
    widen,
)
from engine.training import TrainConfig

ROOT = Path(__file__).resolve().parents[2]


def tiny_design(name="tiny"):
    d = Design(name, num_classes=10)
    d.chain(("input", {"shape": [1, 8, 8]}), ("conv2d", {"out_channels": 4, "padding": 1}), "relu",
            ("maxpool2d", {"kernel": 2}), "flatten", ("linear", {"out_features": 10}), "output")
    return d


# -- the grid ------------------------------------------------------------------------------------
def test_grid_values_take_their_settings_types_and_aliases():
    grid = parse_grid(["lr=1e-3,0.01", "batch=32,64", "optimizer=sgd,adam", "nesterov=true,false", "width=0.5,2"])
    assert grid == {"lr": [0.001, 0.01], "batch_size": [32, 64], "optimizer": ["sgd", "adam"],
                    "nesterov": [True, False], "width": [0.5, 2.0]}
    assert isinstance(grid["batch_size"][0], int) and isinstance(grid["lr"][0], float)


@pytest.mark.parametrize("items, words", [
    (["lr=fast"], "lr=fast: not a number"),
    (["batch=3.5"], "takes a whole number"),
    (["batch=0"], "batch_size"),
    (["colour=red"], "'colour' is not a setting that can be swept"),
    (["resume=last.pt"], "not a setting that can be swept"),
    (["lr"], "write NAME=VALUE,VALUE"),
    (["lr="], "write NAME=VALUE,VALUE"),
    (["lr=1", "lr=2"], "given twice"),
    (["lr=0.1,0.1"], "lists a value twice"),
    (["optimizer=sgdx"], "one of sgd"),
    (["template=resnet9000"], "no such template"),
    (["width=0"], "above 0"),
    (["lr=nan"], "not a finite number"),
])
def test_bad_grids_are_refused_by_name(items, words):
    with pytest.raises(SweepError, match=None) as caught:
        parse_grid(items)
    assert words in str(caught.value)


def test_plan_is_every_combination_last_setting_fastest():
    points = plan_points({"lr": [1, 2], "batch_size": [32, 64, 128]})
    assert len(points) == 6
    assert points[:3] == [{"lr": 1, "batch_size": 32}, {"lr": 1, "batch_size": 64}, {"lr": 1, "batch_size": 128}]
    assert point_label(points[0]) == "lr=1 batch_size=32"


def test_random_plan_draws_distinct_points_repeatably():
    grid = {"lr": [1e-4, 1e-3, 1e-2, 1e-1], "batch_size": [16, 32, 64]}
    drawn = plan_points(grid, random_count=5, seed=7)
    assert len(drawn) == 5 and len({tuple(p.values()) for p in drawn}) == 5
    assert drawn == plan_points(grid, random_count=5, seed=7)
    assert all(p in plan_points(grid) for p in drawn)
    assert len(plan_points(grid, random_count=50)) == 12  # never more than the grid holds


# -- design variants -----------------------------------------------------------------------------
def test_every_integer_block_parameter_is_classified_for_the_width_variant():
    """A new block with a channel count must be listed, or `width=` would silently skip it."""
    unclassified = {(spec.key, p.name) for spec in blocks.catalog() for p in spec.params
                    if p.kind == "int" and p.name not in CHANNEL_PARAMS | NOT_CHANNEL_PARAMS}
    assert not unclassified


def _torch_params(design: Design) -> int:
    return sum(p.numel() for p in compile_design(design).parameters())


@pytest.mark.parametrize("factor", [0.5, 2.0])
def test_widened_lenet_matches_torch_and_keeps_its_classes(factor):
    base = templates.build("lenet5", (1, 28, 28), 10)
    wide = widen(base, factor)
    report = analyze(wide)
    assert report.valid
    assert report.total_params == _torch_params(wide)
    out = compile_design(wide)(torch.zeros(2, 1, 28, 28))
    assert out.shape == (2, 10)
    convs = [n for n in wide.nodes.values() if n.block == "conv2d"]
    original = {n.id: n.params["out_channels"] for n in base.nodes.values() if n.block == "conv2d"}
    assert all(n.params["out_channels"] == max(1, round(original[n.id] * factor)) for n in convs)
    assert analyze(base).total_params == _torch_params(base)  # the original is untouched


def test_random_width_variants_agree_with_torch():
    """A random search: templates × width factors, each variant valid and its parameter count
    equal to the compiled module's (torch is the reference)."""
    rng = random.Random(19)
    names = ["lenet5", "resnet18", "googlenet", "mobilenet-v1", "vgg11-bn", "alexnet"]
    for _ in range(8):
        name, factor = rng.choice(names), rng.choice([0.25, 0.5, 0.75, 1.5])
        variant = make_variant(templates.build(name, (3, 64, 64), 7), {"width": factor})
        report = analyze(variant)
        assert report.valid, (name, factor)
        assert report.total_params == _torch_params(variant), (name, factor)
        assert report.nodes[variant.output_nodes()[0].id].shape == (7,), (name, factor)


def test_template_variant_adapts_to_the_designs_input_and_classes():
    variant = make_variant(tiny_design(), {"template": "lenet5"})
    assert variant.input_shape == (1, 8, 8)
    assert compile_design(variant)(torch.zeros(1, 1, 8, 8)).shape == (1, 10)


# -- running -------------------------------------------------------------------------------------
@pytest.mark.slow
def test_sweep_runs_each_point_as_a_run_folder_in_parallel(tmp_path):
    base = TrainConfig(dataset="digits", epochs=1, batch_size=64, seed=1, num_threads=1)
    seen = []
    sweep = Sweep(tiny_design(), base, plan_points(parse_grid(["lr=0.001,0.05"])), tmp_path / "sweep",
                  on_change=lambda r: seen.append((r.index, r.status)))
    results = sweep.run(parallel=2)
    assert [r.status for r in results] == ["completed", "completed"], [r.message for r in results]
    for r in results:
        rows = [json.loads(line) for line in (Path(r.run_dir) / "metrics.jsonl").read_text().splitlines()]
        assert len(rows) == 1 and r.epochs == 1
        assert r.best_val_accuracy == rows[0]["val_accuracy"]  # the table shows the run's own figure
        assert json.loads((Path(r.run_dir) / "config.json").read_text())["lr"] == r.settings["lr"]
    assert sweep.best() is max(results, key=lambda r: r.best_val_accuracy)
    summary = read_sweep(tmp_path / "sweep")
    assert [p["status"] for p in summary["points"]] == ["completed", "completed"]
    assert summary["settings"] == ["lr"]
    assert {(0, "running"), (0, "completed"), (1, "running"), (1, "completed")} <= set(seen)
    table = results_table(results).splitlines()
    assert table[0].split()[:3] == ["#", "lr", "best"] and len(table) == 3


def test_a_failed_or_invalid_point_is_reported_and_the_others_still_run(tmp_path):
    grouped = Design("grouped", num_classes=10)
    grouped.chain(("input", {"shape": [1, 8, 8]}), ("conv2d", {"out_channels": 4}),
                  ("conv2d", {"out_channels": 8, "groups": 4}), "flatten", ("linear", {"out_features": 10}), "output")
    base = TrainConfig(dataset=str(tmp_path / "no-such-folder"), epochs=1)
    points = [{"width": 0.5}, {"lr": 0.01}]  # half width: 2 channels cannot be split into 4 groups
    sweep = Sweep(grouped, base, points, tmp_path / "sweep")
    results = sweep.run()
    assert results[0].status == "invalid" and "not a valid design" in results[0].message
    assert results[1].status == "failed" and "no-such-folder" in results[1].message
    assert "failed" in results_table(results)


def test_stopping_skips_the_runs_not_started(tmp_path):
    sweep = Sweep(tiny_design(), TrainConfig(dataset="digits", epochs=1), [{"lr": 0.1}, {"lr": 0.2}], tmp_path / "s")
    sweep.stop()
    thread = threading.Thread(target=sweep.run)
    thread.start()
    thread.join(timeout=30)
    assert not thread.is_alive()
    assert [r.status for r in sweep.results] == ["stopped", "stopped"]
    assert not any(Path(r.run_dir).exists() for r in sweep.results)


def test_cli_refuses_a_bad_grid_with_exit_2(tmp_path):
    save(tiny_design(), tmp_path / "d.json")
    proc = subprocess.run([sys.executable, str(ROOT / "main.py"), "sweep", str(tmp_path / "d.json"),
                           "--grid", "lr=fast"], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert proc.returncode == 2
    assert "Cannot start the sweep: lr=fast: not a number" in proc.stderr
