"""PySide6 6.12.0 on Python 3.11 corrupts the reference counts of True/None on every signal
emit and aborts after a few hundred (bool_dealloc). This emits far more than that."""
import sys

from PySide6.QtCore import QObject, Signal


class _Emitter(QObject):
    fired = Signal(bool, object)


def test_100k_signal_emits_do_not_crash():
    emitter = _Emitter()
    counts = {True: 0, False: 0}

    def on_fired(flag, value):
        counts[flag] += 1
    emitter.fired.connect(on_fired)
    true_refs = sys.getrefcount(True)
    for i in range(100_000):
        emitter.fired.emit(i % 2 == 0, None)
    assert counts == {True: 50_000, False: 50_000}
    # The broken build leaks a reference of True per emit; a healthy one is back where it started.
    assert abs(sys.getrefcount(True) - true_refs) < 1000
