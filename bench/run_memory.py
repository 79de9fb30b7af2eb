"""Memory a finished training run leaves behind in the app (issue 13: after N runs the process
is within a few MB of after one).

The app as the user has it: a MainWindow (canvas, Problems list, training panel and views) on
the tests' small CNN and the bundled digits, runs started with the panel's Train button one after
the other, each left to finish and its after-run work (saving, reading its weights, filters,
equivariance) to settle. After each run: a collection and glibc's ``malloc_trim`` (what the app
does after a run), then the resident memory and what Python's allocator holds (tracemalloc,
which sees Python objects and numpy arrays, not torch's tensors) and what glibc's allocator has
handed out and not had back (torch's CPU tensors, Qt's images; not freed pages it keeps). Prints
these per run and the MB per extra run: (after run N − after run 1) / (N − 1), each way.

    .venv/bin/python bench/run_memory.py                       # 6 runs of 1 epoch, Curves in front
    .venv/bin/python bench/run_memory.py --runs 8 --view feature_maps --top 15
    .venv/bin/python bench/run_memory.py --model resnet18 --batches 20   # the bigger model's runs

``--model resnet18``: ResNet-18 (3×32×32, 4 classes) on the procedural shapes, batch 32, one
epoch of ``--batches`` batches (what issue 13 measured: 300 MB kept after five runs once).

``--top K`` lists the K source lines whose Python allocations grew most between run 2 and the
last run (run 1 warms caches that are made once); its deep traces cost tens of MB a run
themselves, so read the RSS without it. Until ``AUTO_OVERLAYS`` + 1 runs exist the Curves view
gains a run's overlay items each run (bounded after that: test_runs_freed).
"""
from __future__ import annotations

import argparse
import ctypes
import ctypes.util
import gc
import os
import resource
import shutil
import sys
import tempfile
import time
import tracemalloc

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

MiB = 2 ** 20


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize()


class _MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]


def malloc_in_use() -> float:
    """Bytes the C allocator has handed out and not had back, over all its arenas (glibc's
    mallinfo2: small blocks in use plus mmapped ones); NaN elsewhere. Unlike the resident size it
    does not count pages freed but kept, so it tells a leak from fragmentation."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.mallinfo2.restype = _MallInfo2
        info = libc.mallinfo2()
    except (OSError, AttributeError):
        return float("nan")
    return float(info.uordblks + info.hblkhd)


def trim() -> None:
    gc.collect()
    try:
        ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def settle(app, seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        app.processEvents()
        time.sleep(0.01)


def wait_until(app, condition, timeout: float) -> None:
    end = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > end:
            raise TimeoutError("the run did not finish in time")
        app.processEvents()
        time.sleep(0.01)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=6)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--model", choices=("small", "resnet18"), default="small")
    parser.add_argument("--batches", type=int, default=20, help="training batches per run (resnet18)")
    parser.add_argument("--view", default="curves", help="the Training views tab in front")
    parser.add_argument("--top", type=int, default=0, help="list the top growing allocation sites")
    parser.add_argument("--settle", type=float, default=1.5, help="seconds of event loop after each run")
    args = parser.parse_args()

    folder = tempfile.mkdtemp(prefix="nd_run_memory_")
    os.environ["ND_RUNS_DIR"] = os.path.join(folder, "runs")
    from PySide6.QtCore import QSettings

    from designer.app import make_application
    from designer.document import Document
    from designer.main_window import MainWindow
    from engine import Design, data, templates
    from engine.training.config import TrainConfig

    app = make_application()  # as the app makes it (its cycle collector on the UI thread)
    design = Design("small cnn", num_classes=10)
    design.chain(("input", {"shape": [1, 8, 8]}), ("conv2d", {"out_channels": 8, "kernel": 3, "padding": 1}),
                 "relu", ("maxpool2d", {"kernel": 2}), ("conv2d", {"out_channels": 16, "kernel": 3, "padding": 1}),
                 "relu", "flatten", ("linear", {"out_features": 10}), "output")
    if args.model == "resnet18":
        design = templates.build("resnet18", input_shape=(3, 32, 32), num_classes=4)
    settings = QSettings(os.path.join(folder, "settings.ini"), QSettings.Format.IniFormat)
    window = MainWindow(Document(design), settings=settings, recovery_path=os.path.join(folder, "recovery.json"))
    window.resize(1440, 900)
    window.show()
    controller = window.training
    panel, views = controller.panel, controller.views
    wait_until(app, lambda: controller.bundle is not None and not controller.dataset_loading(), 180)
    if args.model == "resnet18":
        n = int(args.batches * 32 / 0.8) + 8
        controller.set_bundle(data.load("shapes", input_shape=(3, 32, 32), options={"n": n}, val_fraction=0.2, seed=0))
        panel.set_config(TrainConfig(optimizer="sgd", lr=0.01, batch_size=32, epochs=1, device="cpu", seed=0))
    else:
        panel.epochs.setValue(args.epochs)
    views.setCurrentWidget(getattr(views, args.view))
    tracemalloc.start(12 if args.top else 1)

    rss, traced, native, snapshots = [], [], [], {}
    for run in range(1, args.runs + 1):
        panel.start_button.click()
        wait_until(app, lambda: controller.session is not None and not controller.session.is_running()
                   and panel.start_button.isEnabled(), 1800)
        settle(app, args.settle)
        trim()
        rss.append(rss_bytes() / MiB)
        traced.append(tracemalloc.get_traced_memory()[0] / MiB)
        native.append(malloc_in_use() / MiB)
        if args.top and run in (2, args.runs):
            snapshots[run] = tracemalloc.take_snapshot()
        print(f"after run {run}: RSS {rss[-1]:7.1f} MB, C heap in use {native[-1]:7.1f} MB, "
              f"Python allocations {traced[-1]:6.2f} MB", flush=True)

    extra = args.runs - 1
    print(f"per extra run: RSS {(rss[-1] - rss[0]) / extra:+.2f} MB, C heap in use "
          f"{(native[-1] - native[0]) / extra:+.2f} MB, Python allocations "
          f"{(traced[-1] - traced[0]) / extra:+.3f} MB  ({args.runs} runs of {args.epochs} epoch(s), "
          f"{args.view} in front)")
    if args.top and len(snapshots) == 2:
        print(f"\ngrowth between run 2 and run {args.runs}, by source line:")
        for stat in snapshots[args.runs].compare_to(snapshots[2], "traceback")[:args.top]:
            print(f"{stat.size_diff / 1024:+9.1f} KiB {stat.count_diff:+6d} blocks")
            for line in stat.traceback.format()[-8:]:
                print("    " + line)
    window.document.undo_stack.setClean()
    window.close()
    settle(app, 0.5)
    shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
