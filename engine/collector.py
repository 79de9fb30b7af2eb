"""Pausing Python's cycle collector around work that allocates many objects without cycles.

Building a 20,000-node design from a file, or importing torch, creates hundreds of thousands
of long-lived objects. The collector, triggered by their number, would rescan the growing heap
again and again (each full pass holding the GIL for up to a few hundred milliseconds), so such
work runs with it paused.
"""
from __future__ import annotations

import contextlib
import gc


@contextlib.contextmanager
def collector_paused(freeze: bool = False):
    """Run the block with the cycle collector off (and back on after, if it was on). With
    ``freeze`` everything alive afterwards is moved out of the collector's sight for good
    (``gc.freeze``): for objects that live as long as the process, such as imported modules."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
        if freeze:
            gc.freeze()
