"""Loading, connecting and analysing a design cost O(nodes + edges).

Prints the time to load (and to analyse) a 20,000-node chain as a ratio to a 2,000-node one
measured in the same run: linear is 10×, the target is ≤ 15×. Also the peak memory and time
of loading 20,000 user blocks, and a chain whose edges are listed in reverse order (the
order that made a per-edge cycle search quadratic).

    .venv/bin/python bench/load.py [--rounds 5]
"""
from __future__ import annotations

import argparse
import gc
import json
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.analysis import analyze
from engine.persistence import FORMAT, VERSION, loads


def chain_file(n: int, reverse_edges: bool = False) -> str:
    nodes = [{"id": "in", "block": "input", "params": {"shape": [16]}}]
    nodes += [{"id": f"r{i}", "block": "relu"} for i in range(n - 2)]
    nodes += [{"id": "out", "block": "output"}]
    ids = [node["id"] for node in nodes]
    edges = [{"from": a, "to": b} for a, b in zip(ids, ids[1:])]
    if reverse_edges:
        edges.reverse()
    return json.dumps({"format": FORMAT, "version": VERSION, "design": {"name": f"chain {n}"},
                       "nodes": nodes, "edges": edges})


def user_blocks_file(n: int) -> str:
    block = {"nodes": [{"id": "i", "block": "input", "params": {"shape": [16]}}, {"id": "o", "block": "output"}],
             "edges": [{"from": "i", "to": "o"}]}
    composites = [{"key": f"user:b{i}", "title": f"b{i}", **block} for i in range(n)]
    return json.dumps({"format": FORMAT, "version": VERSION, "design": {"name": "blocks"},
                       "nodes": [{"id": "in", "block": "input", "params": {"shape": [16]}},
                                 {"id": "out", "block": "output"}],
                       "edges": [{"from": "in", "to": "out"}], "composites": composites})


def timed(fn, rounds: int) -> float:
    times = []
    for _ in range(rounds):
        gc.collect()
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    small, big = chain_file(2_000), chain_file(20_000)
    load_small = timed(lambda: loads(small), args.rounds)
    load_big = timed(lambda: loads(big), args.rounds)
    d_small, d_big = loads(small), loads(big)
    analyse_small = timed(lambda: analyze(loads(small)), args.rounds) - load_small
    analyse_big = timed(lambda: analyze(loads(big)), args.rounds) - load_big
    print(f"{len(big) / 1e6:.1f} MB file of a 20,000-node chain; {len(small) / 1e6:.2f} MB for 2,000 nodes")
    print(f"load      2,000: {load_small * 1e3:7.1f} ms   20,000: {load_big * 1e3:7.1f} ms   "
          f"ratio {load_big / load_small:5.1f}× (linear 10×, target ≤ 15×)")
    print(f"analyse   2,000: {analyse_small * 1e3:7.1f} ms   20,000: {analyse_big * 1e3:7.1f} ms   "
          f"ratio {analyse_big / analyse_small:5.1f}×")
    assert len(d_small.nodes) == 2_000 and len(d_big.nodes) == 20_000
    reverse = chain_file(20_000, reverse_edges=True)
    load_reverse = timed(lambda: loads(reverse), max(1, args.rounds // 2))
    print(f"load 20,000 with the edges listed backwards: {load_reverse * 1e3:.1f} ms "
          f"({load_reverse / load_big:.2f}× the forward order)")
    blocks = user_blocks_file(20_000)
    seconds = timed(lambda: loads(blocks), 1)
    tracemalloc.start()
    design = loads(blocks)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"20,000 user blocks ({len(blocks) / 1e3:.0f} kB): loaded in {seconds * 1e3:.0f} ms, "
          f"peak {peak / 1e6:.0f} MB traced (tracemalloc), {len(design.composites):,} blocks")

if __name__ == "__main__":
    main()
