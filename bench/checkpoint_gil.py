"""How long writing a checkpoint keeps other threads from the GIL (issue 15 item 8).

The trainer writes a checkpoint at every epoch's end, in its thread; the app's UI thread needs
the GIL to draw. A watchdog thread sleeps 0.5 ms at a time and records how late it wakes (it
needs the GIL to wake) while a ResNet-18 checkpoint with SGD momentum (about 90 MB) is written:

* ``path``: ``torch.save(checkpoint, path)``, torch's C++ writer (the reference);
* ``file``: ``torch.save`` into a Python file, as ``engine.training.rundir.save_checkpoint`` does.

    .venv/bin/python bench/checkpoint_gil.py [--rounds 12]

Prints the longest wait of each round's write (median and worst of the rounds) and the ratio
path / file. Python hands the GIL over every 5 ms (``sys.getswitchinterval``) when it runs
bytecode, so about 5 ms is the floor; a 60 Hz frame is 16.7 ms.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import torch
import torchvision

from engine.training.rundir import _torch_save_to_file

SLEEP_S = 0.0005


def longest_wait_ms(write) -> float:
    stop, worst = threading.Event(), [0.0]

    def watch():
        last = time.perf_counter()
        while not stop.is_set():
            time.sleep(SLEEP_S)
            now = time.perf_counter()
            worst[0] = max(worst[0], now - last - SLEEP_S)
            last = now

    watchdog = threading.Thread(target=watch)
    watchdog.start()
    time.sleep(0.02)
    write()
    time.sleep(0.01)
    stop.set()
    watchdog.join()
    return worst[0] * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=12)
    args = parser.parse_args()
    model = torchvision.models.resnet18()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    model(torch.randn(2, 3, 32, 32)).sum().backward()
    optimizer.step()
    checkpoint = {"model": {k: v.detach().clone() for k, v in model.state_dict().items()},
                  "optimizer": optimizer.state_dict()}
    with tempfile.TemporaryDirectory() as folder:
        target = os.path.join(folder, "last.pt")
        ways = {"path": lambda: torch.save(checkpoint, target), "file": lambda: _torch_save_to_file(checkpoint, target)}
        waits: dict[str, list[float]] = {name: [] for name in ways}
        for round_index in range(args.rounds):  # alternate, so a drifting load hits both alike
            for name in (("path", "file") if round_index % 2 == 0 else ("file", "path")):
                waits[name].append(longest_wait_ms(ways[name]))
    for name, values in waits.items():
        print(f"{name:5s} longest GIL wait per write: median {statistics.median(values):6.1f} ms, "
              f"worst {max(values):6.1f} ms ({len(values)} writes)")
    ratio = statistics.median(waits["path"]) / statistics.median(waits["file"])
    print(f"ratio path / file (medians): {ratio:.1f}×; load average {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
