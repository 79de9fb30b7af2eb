"""Python's cycle collector, run on the UI thread only.

CPython runs a collection in whichever thread happens to allocate past the threshold. When that
is a background thread (a training run, a dataset load) and the garbage holds Qt objects of the
UI thread (a closed window's actions, in a reference cycle through a Python slot), their C++
destructors run in the wrong thread: a QObject's destructor takes Qt's signal lock and then
waits for the GIL, while the UI thread, holding the GIL, waits for that lock. Both stop for
good. (Seen in the suite: a training thread's allocation collected a closed window's menu;
``gdb`` showed ``QObject::~QObject`` waiting for the GIL in the training thread against
``QAction::~QAction`` waiting for the lock on the UI thread.)

So the app turns automatic collection off and collects on a UI-thread timer instead, by the
same generation thresholds CPython uses: garbage is freed a fraction of a second later than it
would be, always on the UI thread. The idea and its reason are pyqtgraph's
(``pyqtgraph.util.garbage_collector.GarbageCollector``, after Erik Janssens).
"""
from __future__ import annotations

import gc

from PySide6.QtCore import QObject, QTimer

INTERVAL_MS = 100  # often enough that a generation never grows far past its threshold


class UiCollector(QObject):
    """Owns the timer; :meth:`stop` gives collection back to CPython."""

    def __init__(self, parent: QObject | None = None, interval_ms: int = INTERVAL_MS):
        super().__init__(parent)
        self._was_enabled = gc.isenabled()
        gc.disable()
        self._long_lived_total = 0  # objects in the oldest generation after the last full collection
        self._long_lived_pending = 0  # objects moved there since
        self._timer = QTimer(self)
        self._timer.timeout.connect(self.collect_due)
        self._timer.start(interval_ms)

    def collect_due(self) -> int:
        """Collect the oldest generation whose count is past its threshold, as CPython's
        automatic collection would (a younger generation is collected with it); the number of
        objects found unreachable, 0 when none was due.

        Like CPython, a full collection also waits until the objects that reached the oldest
        generation since the last one are a quarter of those it held then: a full pass walks the
        whole heap (tens of ms with a big design open), and without this rule a UI busy with a
        run made one every few seconds."""
        thresholds = gc.get_threshold()
        counts = gc.get_count()
        if counts[0] <= thresholds[0]:
            return 0
        generation = 0
        if counts[1] > thresholds[1]:
            generation = 1
            if counts[2] > thresholds[2] and self._long_lived_pending > self._long_lived_total / 4:
                generation = 2
        moving = 0  # objects a collection of generation 1 looks at: what survives moves to the oldest
        if generation == 1:
            moving = len(gc.get_objects(generation=0)) + len(gc.get_objects(generation=1))
        found = gc.collect(generation)
        if generation == 1:
            self._long_lived_pending += max(0, moving - found)
        elif generation == 2:
            self._long_lived_total, self._long_lived_pending = len(gc.get_objects(generation=2)), 0
        return found

    def stop(self) -> None:
        """Collect what is due now, here, and hand collection back to CPython (as it was before);
        the app no longer finds this collector (:func:`collect_on_ui_thread` makes a new one)."""
        self._timer.stop()
        gc.collect()  # garbage made while it ran must not wait for a collection in another thread
        if self._was_enabled:
            gc.enable()
        self.setParent(None)


def collect_on_ui_thread(app: QObject) -> UiCollector:
    """Install the UI-thread collector on ``app`` (once; later calls return the same one)."""
    existing = app.findChild(UiCollector)
    if existing is not None:
        return existing
    return UiCollector(app)
