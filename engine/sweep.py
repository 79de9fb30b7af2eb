"""Sweeps: one design trained many times, a few settings varied, the runs compared.

    grid = parse_grid(["lr=1e-3,1e-2", "batch=32,64"])      # {"lr": [0.001, 0.01], "batch_size": [32, 64]}
    plan = plan_points(grid)                                  # the 4 combinations (or random=N of them)
    sweep = Sweep(design, TrainConfig(dataset="digits", epochs=2), plan, "runs/sweep-lenet")
    results = sweep.run(parallel=1)                           # each point a normal run folder
    best = sweep.best()

A setting is a :class:`~engine.training.TrainConfig` field (``lr``, ``batch_size``, ``optimizer``,
``weight_decay``...; short aliases such as ``batch`` are accepted) or a *design variant*:
``template=lenet5,alexnet`` trains each template adapted to the design's input and classes, and
``width=0.5,2`` multiplies every channel count of the design (the classifier's outputs stay).

Each point runs as ``main.py train`` in its own process: a crash or an out-of-memory in one run
cannot take the sweep down, runs can go side by side (``parallel``; with several GPUs each run
gets its own, on the CPU the cores are shared out), and every run folder is exactly what a
command-line run writes, so the app's run table lists sweep runs like any other.
``sweep.json`` in the sweep folder holds the plan and each finished point's results; it is
rewritten (atomically) after every run, so an interrupted sweep still shows what it finished.
"""
from __future__ import annotations

import itertools
import json
import math
import os
import random
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Callable

from .analysis import analyze
from .graph import Design
from .persistence import atomic_write_text, dumps
from .training.config import ConfigError, TrainConfig
from .training.rundir import read_metrics

ALIASES = {"batch": "batch_size", "bs": "batch_size", "wd": "weight_decay", "opt": "optimizer",
           "learning_rate": "lr", "smoothing": "label_smoothing", "clip": "grad_clip"}
DESIGN_SETTINGS = ("template", "width")
# Parameters that count channels (or features): what a width multiplier scales. A test checks
# that every integer parameter of every catalog block is listed here or in NOT_CHANNEL_PARAMS,
# so a new block cannot slip past the width variant unnoticed.
CHANNEL_PARAMS = frozenset({"out_channels", "out_features", "squeeze_channels", "width", "c1", "c3_reduce", "c3",
                            "c5_reduce", "c5", "pool_proj", "c_mid", "c_out", "c3dbl_reduce"})
NOT_CHANNEL_PARAMS = frozenset({"in_features", "groups", "chunks", "index", "params", "depth_multiplier",
                                "block_size", "pieces", "size", "num_groups", "stride", "expansion", "n",
                                "num_classes"})
# Settings that make no sense to sweep: what a run resumes or starts from.
NOT_SWEEPABLE = frozenset({"resume", "init_weights"})


class SweepError(ValueError):
    """A sweep that cannot start: a bad setting name or value, a variant that cannot be built."""


# -- the plan ----------------------------------------------------------------------------------
def parse_grid(items: list[str]) -> dict[str, list[Any]]:
    """``["lr=1e-3,1e-2", "batch=32,64"]`` → ``{"lr": [0.001, 0.01], "batch_size": [32, 64]}``.

    Values take the type of the setting (a whole number for ``batch_size``, a float for ``lr``),
    so ``batch=3.5`` or ``lr=fast`` is refused here, naming the setting, before any run starts."""
    grid: dict[str, list[Any]] = {}
    for item in items:
        name, sep, values = item.partition("=")
        name = ALIASES.get(name.strip(), name.strip())
        if not sep or not name or not values.strip():
            raise SweepError(f"{item!r} is not a setting: write NAME=VALUE,VALUE (e.g. lr=1e-3,1e-2)")
        if name in grid:
            raise SweepError(f"{name} is given twice")
        grid[name] = [_typed(name, text.strip()) for text in values.split(",") if text.strip()]
        if len(set(map(repr, grid[name]))) != len(grid[name]):
            raise SweepError(f"{name} lists a value twice")
    return grid


def _typed(name: str, text: str) -> Any:
    if name == "template":
        from . import templates
        if text not in templates.names():
            raise SweepError(f"template={text}: no such template; known: {', '.join(templates.names())}")
        return text
    if name == "width":
        factor = _number(name, text, float)
        if not 0 < factor <= 16:
            raise SweepError(f"width={text}: a width multiplier is a number above 0 and at most 16")
        return factor
    defaults = sweepable_defaults()
    if name not in defaults:
        known = sorted(defaults) + list(DESIGN_SETTINGS)
        raise SweepError(f"{name!r} is not a setting that can be swept; settings: {', '.join(known)}")
    default = defaults[name]
    if isinstance(default, bool):
        if text.lower() not in ("true", "false", "1", "0", "yes", "no", "on", "off"):
            raise SweepError(f"{name}={text}: write true or false")
        value: Any = text.lower() in ("true", "1", "yes", "on")
    elif isinstance(default, int):
        value = _number(name, text, int)
    elif isinstance(default, float):
        value = _number(name, text, float)
    else:
        value = text
    try:
        TrainConfig().replace(**{name: value})
    except ConfigError as e:
        raise SweepError(f"{name}={text}: {e}") from None
    return value


def sweepable_defaults() -> dict[str, Any]:
    """The TrainConfig settings a sweep can vary (the plain ones: numbers, flags, names), with
    their defaults."""
    defaults = TrainConfig().to_dict()
    return {f.name: defaults[f.name] for f in fields(TrainConfig)
            if f.name not in NOT_SWEEPABLE and isinstance(defaults[f.name], (bool, int, float, str))}


def _number(name: str, text: str, kind: type) -> Any:
    try:
        value = float(text)
    except ValueError:
        raise SweepError(f"{name}={text}: not a number") from None
    if kind is int:
        if not value.is_integer():
            raise SweepError(f"{name}={text}: {name} takes a whole number")
        return int(value)
    if not math.isfinite(value):
        raise SweepError(f"{name}={text}: not a finite number")
    return value


def plan_points(grid: dict[str, list[Any]], random_count: int = 0, seed: int = 0) -> list[dict[str, Any]]:
    """Every combination of the grid in order (the last setting varies fastest), or, with
    ``random_count``, that many distinct combinations drawn with ``seed`` (all of them when the
    grid holds fewer)."""
    names = list(grid)
    combos = [dict(zip(names, values)) for values in itertools.product(*(grid[n] for n in names))]
    if random_count and random_count < len(combos):
        picked = sorted(random.Random(seed).sample(range(len(combos)), random_count))
        combos = [combos[i] for i in picked]
    return combos


def point_label(settings: dict[str, Any]) -> str:
    """``lr=0.001 batch_size=32``: a point as the user would type it back."""
    return " ".join(f"{k}={_short(v)}" for k, v in settings.items()) or "defaults"


def _short(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


# -- design variants ---------------------------------------------------------------------------
def make_variant(design: Design, settings: dict[str, Any]) -> Design:
    """The design a point trains: a template in place of ``design`` (same input and classes)
    and/or every channel count times ``width``. Raises SweepError when the variant is invalid."""
    variant = design
    if "template" in settings:
        from . import templates
        variant = templates.build(settings["template"], input_shape=design.input_shape,
                                  num_classes=getattr(design, "num_classes", None))
    if "width" in settings and settings["width"] != 1:
        variant = widen(variant, settings["width"])
    report = analyze(variant)
    if not report.valid:
        first = report.errors[0]
        raise SweepError(f"{point_label(settings)}: the variant is not a valid design: {first.message}")
    return variant


def widen(design: Design, factor: float) -> Design:
    """A copy of ``design`` with every channel count multiplied by ``factor`` (at least 1). The
    classifier's outputs (the linear layers that reach an Output block with no other linear or
    conv in between) keep their size; a fixed ``in_features`` is cleared to follow the input."""
    wide = design.copy()
    classifier = _classifier_nodes(wide)
    for node in list(wide.nodes.values()):
        changes: dict[str, int | None] = {name: max(1, round(value * factor)) for name, value in node.params.items()
                   if name in CHANNEL_PARAMS and isinstance(value, int) and not isinstance(value, bool)
                   and not (node.id in classifier and name == "out_features")}
        if node.params.get("in_features") is not None:
            changes["in_features"] = None  # a fixed input count no longer holds
        if changes:
            wide.set_params(node.id, changes)
    wide.set_meta(name=f"{design.name} ×{_short(float(factor))}")
    return wide


def _classifier_nodes(design: Design) -> set[str]:
    """Linear nodes whose output reaches an Output block through no other linear or conv."""
    found: set[str] = set()
    for out in design.output_nodes():
        frontier = [e.src for e in design.incoming(out.id)]
        seen: set[str] = set()
        while frontier:
            node = design.node(frontier.pop())
            if node.id in seen:
                continue
            seen.add(node.id)
            if node.block == "linear":
                found.add(node.id)
            elif "out_channels" not in node.params:
                frontier += [e.src for e in design.incoming(node.id)]
    return found


# -- running -----------------------------------------------------------------------------------
@dataclass
class PointResult:
    """One point of a sweep, and how its run went."""

    index: int
    settings: dict[str, Any]
    run_dir: str
    status: str = "queued"          # queued | running | completed | failed | stopped | invalid
    message: str = ""
    best_val_accuracy: float | None = None
    final_val_loss: float | None = None
    final_train_loss: float | None = None
    epochs: int = 0
    seconds: float = 0.0
    device: str = ""

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class Sweep:
    """A queue of runs of ``design`` under ``base`` with each point's settings applied on top."""

    design: Design
    base: TrainConfig
    points: list[dict[str, Any]]
    folder: Path
    devices: list[str] = field(default_factory=list)   # e.g. ["cuda:0", "cuda:1"]; [] = base.device
    on_change: Callable[[PointResult], None] | None = None
    results: list[PointResult] = field(init=False)

    def __post_init__(self):
        self.folder = Path(self.folder)
        width = len(str(max(len(self.points), 1)))
        self.results = [PointResult(i, dict(s), str(self.folder / f"{i + 1:0{width}d}-{_slug(point_label(s))}"))
                        for i, s in enumerate(self.points)]
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._processes: set[subprocess.Popen] = set()

    # the queue
    def run(self, parallel: int = 1) -> list[PointResult]:
        """Run every point, ``parallel`` at a time; returns the results in plan order. Each
        finished point updates ``sweep.json`` and calls ``on_change``."""
        self.folder.mkdir(parents=True, exist_ok=True)
        self._write_summary()
        parallel = max(1, min(parallel, len(self.points) or 1))
        devices = self.devices or [self.base.device]
        threads = self.base.num_threads or (max(1, (os.cpu_count() or 1) // parallel) if parallel > 1 else 0)
        queue = list(self.results)
        queue_lock = threading.Lock()

        def worker(slot: int) -> None:
            while not self._stop.is_set():
                with queue_lock:
                    if not queue:
                        return
                    result = queue.pop(0)
                self._run_point(result, devices[slot % len(devices)], threads)

        workers = [threading.Thread(target=worker, args=(slot,), name=f"sweep-{slot}") for slot in range(parallel)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        for result in self.results:
            if result.status == "queued" and self._stop.is_set():
                result.status, result.message = "stopped", "the sweep was stopped before this run started"
        self._write_summary()
        return self.results

    def stop(self) -> None:
        """Stop the sweep: runs not started are skipped, running ones are asked to stop (as
        Ctrl-C would: they keep a checkpoint)."""
        self._stop.set()
        with self._lock:
            for process in self._processes:
                if process.poll() is None:
                    process.send_signal(2)  # SIGINT: `train` stops after the batch and keeps a checkpoint

    def kill(self) -> None:
        """Stop now (an app closing that cannot wait for a batch to end): runs not started are
        skipped, running ones are killed and keep no checkpoint of their last epoch."""
        self._stop.set()
        with self._lock:
            for process in self._processes:
                if process.poll() is None:
                    process.kill()

    def best(self) -> PointResult | None:
        done = [r for r in self.results if r.best_val_accuracy is not None]
        return max(done, key=lambda r: r.best_val_accuracy or 0.0) if done else None

    # one point
    def _run_point(self, result: PointResult, device: str, threads: int) -> None:
        run_dir = Path(result.run_dir)
        settings = dict(result.settings)
        design_settings = {k: settings.pop(k) for k in DESIGN_SETTINGS if k in settings}
        try:
            design = make_variant(self.design, design_settings) if design_settings else self.design
            config = self.base.replace(**{"device": device, "num_threads": threads, **settings})
        except (SweepError, ConfigError) as e:
            self._finish(result, "invalid", str(e))
            return
        run_dir.mkdir(parents=True, exist_ok=True)
        atomic_write_text(run_dir / "sweep-design.json", dumps(design))
        atomic_write_text(run_dir / "sweep-config.json", config.to_json())
        result.status, result.device = "running", device
        self._notify(result)
        command = [sys.executable, str(_MAIN), "train", str(run_dir / "sweep-design.json"),
                   "--config", str(run_dir / "sweep-config.json"), "--out", str(run_dir), "--quiet"]
        started = time.monotonic()
        log = (run_dir / "sweep.log").open("w", encoding="utf-8")
        try:
            process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=str(_MAIN.parent))
        except OSError as e:
            log.close()
            self._finish(result, "failed", f"could not start the run: {e}")
            return
        with self._lock:
            self._processes.add(process)
        code = process.wait()
        with self._lock:
            self._processes.discard(process)
        log.close()
        result.seconds = time.monotonic() - started
        self._read_results(result, run_dir)
        if code == 0:
            self._finish(result, "completed")
        elif code == 130 or self._stop.is_set():
            self._finish(result, "stopped", "stopped by the user")
        else:
            self._finish(result, "failed", _last_line(run_dir / "sweep.log") or f"the run ended with code {code}")

    @staticmethod
    def _read_results(result: PointResult, run_dir: Path) -> None:
        rows = read_metrics(run_dir)
        result.epochs = len(rows)
        accuracies = [r["val_accuracy"] for r in rows if r.get("val_accuracy") is not None]
        result.best_val_accuracy = max(accuracies) if accuracies else None
        if rows:
            result.final_val_loss = rows[-1].get("val_loss")
            result.final_train_loss = rows[-1].get("train_loss")

    def _finish(self, result: PointResult, status: str, message: str = "") -> None:
        result.status, result.message = status, message
        self._write_summary()
        self._notify(result)

    def _notify(self, result: PointResult) -> None:
        if self.on_change is not None:
            self.on_change(result)

    def _write_summary(self) -> None:
        with self._lock:
            summary = {"design": self.design.name, "settings": sorted({k for p in self.points for k in p}),
                       "base_config": self.base.to_dict(), "points": [r.to_dict() for r in self.results]}
            atomic_write_text(self.folder / "sweep.json", json.dumps(summary, indent=2, default=str) + "\n")


def read_sweep(folder) -> dict[str, Any]:
    """A sweep folder's ``sweep.json`` (plan and results), for a table or a report."""
    return json.loads((Path(folder) / "sweep.json").read_text(encoding="utf-8"))


def results_table(results: list[PointResult]) -> str:
    """A plain-text table of the results, best validation accuracy first (failed runs last)."""
    names = sorted({k for r in results for k in r.settings}, key=lambda k: list(results[0].settings).index(k)
                   if results and k in results[0].settings else 99)
    header = ["#", *names, "best val acc", "val loss", "epochs", "time", "status"]
    rows = []
    for r in sorted(results, key=lambda r: -(r.best_val_accuracy if r.best_val_accuracy is not None else -1)):
        rows.append([str(r.index + 1), *(_short(r.settings[n]) if n in r.settings else "" for n in names),
                     f"{r.best_val_accuracy:.2%}" if r.best_val_accuracy is not None else "—",
                     f"{r.final_val_loss:.4f}" if r.final_val_loss is not None else "—",
                     str(r.epochs), f"{r.seconds:.0f} s", r.status + (f": {r.message}" if r.message else "")])
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in [header, *rows]]
    return "\n".join(lines)


_MAIN = Path(__file__).resolve().parent.parent / "main.py"


def _slug(text: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_.=" else "_" for ch in text).strip("_")[:80] or "run"


def _last_line(path: Path) -> str:
    try:
        lines = [line.strip() for line in path.read_text(encoding="utf-8", errors="replace").splitlines()]
    except OSError:
        return ""
    lines = [line for line in lines if line]
    return lines[-1] if lines else ""
