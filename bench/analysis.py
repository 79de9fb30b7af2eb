"""How fast is a full re-analysis of a ResNet-152-sized design, against torchinfo.summary?

Builds ResNet-152 with the engine as ~500 primitive nodes (conv, batch norm, ReLU, Add; no
composite blocks), checks that the analysis agrees with torchvision's resnet152 (parameter
count, output shape), then reports the median time of ``analyze(design)``:

- cold: ``engine.analysis.clear_cache()`` before every run (every block's arithmetic redone);
  the line under it times the planning part of that alone (order, steps, reachability), for
  telling where a cold analysis spends its time (no target of its own);
- warm: the cache filled, as after the first analysis in the app, nothing changed;
- after an edit: the cache filled, and before each run one conv in the middle of stage 3
  changes its width (as an inspector edit does; the app re-analyses the whole design then);
- after a structural edit: before each run a node is added (or removed again), so the
  design's plan (order, sources, reachability) is rebuilt while node results are kept;

and the ratio against ``torchinfo.summary`` of torchvision's resnet152 measured in the same run
(batch 1, 224×224, ``verbose=0``). Targets: ≤ 2 ms median (≤ 1 ms cold) and ≥ 50× faster than
torchinfo.

    .venv/bin/python bench/analysis.py [--runs 200] [--torchinfo-runs 3] [--device cpu|meta]
"""
from __future__ import annotations

import argparse
import gc
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine import Design, analyze  # noqa: E402
from engine.analysis import _plan_for, clear_cache  # noqa: E402

TARGET_MS = 2.0
TARGET_COLD_MS = 1.0  # a design seen for the first time (issue 12)
TARGET_RATIO = 50.0


def resnet152_design() -> Design:
    d = Design("ResNet-152", num_classes=1000)
    last = d.chain(("input", {"shape": [3, 224, 224]}),
                   ("conv2d", {"out_channels": 64, "kernel": 7, "stride": 2, "padding": 3, "bias": False}),
                   "batchnorm2d", "relu", ("maxpool2d", {"kernel": 3, "stride": 2, "padding": 1}))[-1]
    channels = 64
    for stage, (blocks, width) in enumerate(zip((3, 8, 36, 3), (64, 128, 256, 512))):
        for i in range(blocks):
            stride = 2 if stage > 0 and i == 0 else 1
            shortcut = last
            body = d.chain(("conv2d", {"out_channels": width, "kernel": 1, "bias": False}), "batchnorm2d", "relu",
                           ("conv2d", {"out_channels": width, "kernel": 3, "stride": stride, "padding": 1,
                                       "bias": False}), "batchnorm2d", "relu",
                           ("conv2d", {"out_channels": width * 4, "kernel": 1, "bias": False}), "batchnorm2d",
                           after=last)
            if i == 0:  # projection shortcut: the channels (and maybe the size) change
                shortcut = d.chain(("conv2d", {"out_channels": width * 4, "kernel": 1, "stride": stride,
                                               "bias": False}), "batchnorm2d", after=last)[-1]
            add = d.add_node("add").id
            d.connect(body[-1], add)
            d.connect(shortcut, add)
            last = d.chain("relu", after=add)[-1]
            channels = width * 4
    d.chain("global_avgpool", ("linear", {"out_features": 1000}), "output", after=last)
    assert channels == 2048
    return d


def edit_one_conv(design: Design):
    """A callable that toggles the width of a 3×3 conv in the middle of the network."""
    convs = [n for n in design.topological_order() if design.nodes[n].params.get("kernel") == 3]
    middle = convs[len(convs) // 2]
    widths = [design.nodes[middle].params["out_channels"], design.nodes[middle].params["out_channels"] + 8]

    def edit():
        widths.reverse()
        design.set_param(middle, "out_channels", widths[0])
    return edit


def add_or_remove_a_node(design: Design):
    """A callable that alternately adds a loose ReLU and removes it again."""
    added = []

    def edit():
        if added:
            design.remove_node(added.pop())
        else:
            added.append(design.add_node("relu").id)
    return edit


def timings_ms(fn, runs: int, before=None) -> tuple[float, float, float]:
    """(median wall time, fastest wall time, median CPU time of this process) in ms. On a busy
    machine the wall median includes waiting for a core; the CPU time and the minimum do not."""
    wall, cpu = [], []
    for _ in range(runs):
        if before:
            before()
        c0, t0 = time.process_time(), time.perf_counter()
        fn()
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return statistics.median(wall) * 1e3, min(wall) * 1e3, statistics.median(cpu) * 1e3


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--torchinfo-runs", type=int, default=3)
    parser.add_argument("--device", default="cpu", choices=("cpu", "meta"))
    args = parser.parse_args()

    import torch
    import torchinfo
    import torchvision

    design = resnet152_design()
    report = analyze(design)
    model = torchvision.models.resnet152()
    torch_params = sum(p.numel() for p in model.parameters())
    kinds = {n.block for n in design.nodes.values()}
    print(f"design: {len(design.nodes)} primitive nodes, {len(design.edges)} edges, blocks {sorted(kinds)}")
    print(f"analysis: {report.total_params:,} params (torchvision resnet152: {torch_params:,}), "
          f"{report.macs / 1e9:.2f} GMACs, output {report.nodes[design.output_nodes()[0].id].shape}, "
          f"valid={report.valid}")
    if report.total_params != torch_params or not report.valid:
        print("MISMATCH: the design is not ResNet-152")
        return 1

    gc.collect()
    cold = timings_ms(lambda: analyze(design), args.runs, before=clear_cache)
    planning = timings_ms(lambda: _plan_for(design), args.runs, before=clear_cache)
    analyze(design)
    warm = timings_ms(lambda: analyze(design), args.runs)
    edited = timings_ms(lambda: analyze(design), args.runs, before=edit_one_conv(design))
    restructured = timings_ms(lambda: analyze(design), args.runs, before=add_or_remove_a_node(design))

    model.eval()
    device = torch.device(args.device)
    model = model.to(device) if args.device == "cpu" else model.to_empty(device=device)
    info = torchinfo.summary(model, input_size=(1, 3, 224, 224), verbose=0, device=device)
    ref = timings_ms(lambda: torchinfo.summary(model, input_size=(1, 3, 224, 224), verbose=0, device=device),
                     args.torchinfo_runs)
    print(f"torchinfo: {info.total_params:,} params, {info.total_mult_adds / 1e9:.2f} G mult-adds "
          f"(device {args.device}, torch threads {torch.get_num_threads()})")
    print(f"load average: {' '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} cores")
    print()
    print(f"{'':32} {'median':>10} {'fastest':>10} {'CPU median':>11}")
    for name, (med, fast, cpu) in (("full re-analysis, cold cache", cold), ("  of which planning alone", planning),
                                   ("full re-analysis, warm cache", warm),
                                   ("re-analysis after an edit", edited),
                                   ("after a structural edit", restructured), ("torchinfo.summary", ref)):
        print(f"{name:32} {med:8.3f}ms {fast:8.3f}ms {cpu:9.3f}ms")
    print(f"(medians of {args.runs} analyses and {args.torchinfo_runs} torchinfo summaries)")
    for label, index in (("median", 0), ("CPU median", 2)):
        print(f"ratio torchinfo / analysis ({label}): cold {ref[index] / cold[index]:,.0f}×, "
              f"warm {ref[index] / warm[index]:,.0f}×, after an edit {ref[index] / edited[index]:,.0f}×, "
              f"after a structural edit {ref[index] / restructured[index]:,.0f}×")
    for name, t, target in (("cold", cold, TARGET_COLD_MS), ("warm", warm, TARGET_MS),
                            ("after an edit", edited, TARGET_MS), ("after a structural edit", restructured, TARGET_MS)):
        ok = t[0] <= target and ref[0] / t[0] >= TARGET_RATIO
        print(f"{name}: target ≤ {target} ms median and ≥ {TARGET_RATIO:.0f}×: {'met' if ok else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
