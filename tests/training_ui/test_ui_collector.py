"""Cycle collection happens on the UI thread only (designer/ui_collector.py): a collection in a
training thread once deleted a closed window's Qt objects there and deadlocked the app."""
from __future__ import annotations

import gc
import threading

from designer.ui_collector import UiCollector


class _Cycle:
    """Garbage in a reference cycle that notes the thread it is finally deleted in."""

    deleted_in: list[int] = []

    def __init__(self):
        self.me = self

    def __del__(self):
        _Cycle.deleted_in.append(threading.get_ident())


def test_a_busy_background_thread_never_collects_the_ui_threads_garbage(qtbot):
    _Cycle.deleted_in.clear()
    _Cycle()  # unreachable at once, freed only by a collection
    kept = []

    def allocate():  # far past the youngest generation's threshold, as a training loop is
        for i in range(50_000):
            kept.append({"i": i})

    worker = threading.Thread(target=allocate)
    worker.start()
    worker.join()
    assert _Cycle.deleted_in == []  # automatic collection would have run in the worker by now
    qtbot.waitUntil(lambda: bool(_Cycle.deleted_in), timeout=5_000)  # the UI thread's timer collects it
    assert _Cycle.deleted_in == [threading.get_ident()]


def test_the_app_collects_on_its_ui_thread_and_stopping_gives_collection_back(qapp):
    from designer.app import make_application

    installed = qapp.findChild(UiCollector)  # the tests install it as the app does
    installed.stop()
    assert qapp.findChild(UiCollector) is None
    assert make_application() is qapp
    collector = qapp.findChild(UiCollector)
    assert collector is not None and not gc.isenabled()
    assert make_application().findChild(UiCollector) is collector  # once
    # A generation past its threshold is collected, with the younger ones.
    gc.collect()
    garbage = [_Cycle() for _ in range(gc.get_threshold()[0] + 1)]
    del garbage
    assert collector.collect_due() >= gc.get_threshold()[0]
    assert gc.get_count()[0] < gc.get_threshold()[0]


def _counts_past(generation: int, kept: list) -> None:
    """Counts past the thresholds of generations 0 to ``generation``, as after a busy while."""
    t0, t1, t2 = gc.get_threshold()
    gc.collect()
    if generation >= 2:
        for _ in range(t2 + 1):
            gc.collect(1)
    for _ in range(t1 + 1):
        gc.collect(0)
    kept.extend([] for _ in range(t0 + 1))


def test_a_full_collection_waits_until_a_quarter_more_objects_are_long_lived(qapp):
    """CPython's rule: a full pass walks the whole heap, so it waits for enough new old objects."""
    collector = qapp.findChild(UiCollector)
    kept: list = []
    _counts_past(2, kept)
    collector._long_lived_total, collector._long_lived_pending = 1_000_000, 1_000
    before = gc.get_count()[2]
    collector.collect_due()
    assert gc.get_count()[2] == before + 1  # generation 1 only: its survivors joined the oldest
    assert collector._long_lived_pending > 1_000

    _counts_past(2, kept)
    collector._long_lived_pending = 250_001  # a quarter of a million more
    collector.collect_due()
    assert gc.get_count()[2] == 0  # the full collection
    assert collector._long_lived_total == len(gc.get_objects(generation=2)) and collector._long_lived_pending == 0
