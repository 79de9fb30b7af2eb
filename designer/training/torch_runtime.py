"""Torch for the app: imported once, in a background thread, after the window is on screen.

Importing torch takes seconds (it is most of what the app loads), so nothing the first window
shows needs it: the training form, the schedule preview (engine.training.schedule_math) and the
kernel playground are plain Python and numpy, and the device list and dataset preview say they
are waiting. :func:`when_ready` runs a callback on the UI thread once torch and the modules
training uses are imported, with the devices found (that needs torch too); the panels fill in
then. The import starts on the turn of the event loop after the first paint, runs in a plain
thread that only emits (a queued signal brings the result to the UI thread), and begins with
pyqtgraph, whose plots are made when first looked at (designer/deferred.py).

While that thread runs, the UI thread shares the GIL with it. Most of the import is Python code,
which hands the GIL over every few milliseconds; two things would hold it for long: the dynamic
linker loading libtorch (over half a second: :func:`_preload_native_libraries` has it done in
a ctypes call, which releases the GIL) and the cycle collector's full passes over the million
objects the import creates (:func:`engine.collector.collector_paused`, with ``gc.freeze`` after).
"""
from __future__ import annotations

import ctypes
import importlib
import importlib.machinery
import importlib.util
import logging
import os
import sys
import threading
from pathlib import Path

from PySide6.QtCore import QCoreApplication, QEvent, QObject, Qt, QTimer, Signal

from engine.collector import collector_paused

# What the app imports after its first frame: pyqtgraph first (the plots, made when first looked
# at: designer/deferred.py; quick), then torch and what the training panel and its background
# jobs use, so that the UI thread's later imports of these find them loaded.
WARM_MODULES = ("pyqtgraph", "torch", "engine.data", "engine.compile", "engine.training.trainer",
                "designer.training.engine_adapter", "designer.training.inspection", "designer.training.probes")

log = logging.getLogger(__name__)
NOTHING_PAINTED_MS = 3000  # start anyway if no window is painted by then (a test without one)


class _TorchLoader(QObject):
    ready = Signal(object)  # list[DeviceChoice]; emitted on the UI thread
    failed = Signal(str)
    _imported = Signal(object)  # from the import thread, queued to the UI thread
    _import_failed = Signal(str)

    def __init__(self):
        super().__init__()
        self.state = "idle"  # idle | loading | ready | failed
        self.devices = None
        self.error = ""
        self.thread: threading.Thread | None = None
        self._armed = False
        self._imported.connect(self._on_imported, Qt.ConnectionType.QueuedConnection)
        self._import_failed.connect(self._on_import_failed, Qt.ConnectionType.QueuedConnection)

    def start_after_first_paint(self) -> None:
        """Start on the turn of the event loop after the first paint in the app: the frame that
        shows the window is complete, and only then does the import compete with the UI thread
        for the GIL."""
        if self._armed or self.state != "idle":
            return
        self._armed = True
        app = QCoreApplication.instance()
        if app is not None:
            app.installEventFilter(self)
        QTimer.singleShot(NOTHING_PAINTED_MS, self.start)

    def eventFilter(self, obj, event) -> bool:  # noqa: N802 - Qt's name
        if event.type() == QEvent.Type.Paint:
            QCoreApplication.instance().removeEventFilter(self)
            QTimer.singleShot(0, self.start)
        return False

    def start(self) -> None:
        if self.state != "idle":
            return
        app = QCoreApplication.instance()
        if app is not None:
            app.removeEventFilter(self)
        self.state = "loading"
        # Not a daemon: a process that quits during the import waits for it rather than tearing
        # libtorch down while the linker is still initialising it.
        self.thread = threading.Thread(target=self._import, name="torch-import")
        self.thread.start()

    def _import(self) -> None:  # the background thread: imports and emits, nothing else
        try:
            _preload_native_libraries()
            with collector_paused(freeze=True):  # torch's modules live as long as the app
                for name in WARM_MODULES:
                    importlib.import_module(name)
            from .devices import available_devices
            devices = available_devices()
        except BaseException as exc:  # noqa: BLE001 - shown in the panel; the designer works on
            self._import_failed.emit(f"{type(exc).__name__}: {exc}")
        else:
            self._imported.emit(devices)
            _warm_first_use()

    # The state changes and the public signals are emitted on the UI thread only, where
    # when_ready() reads the state and connects: no notification can slip between the two.
    def _on_imported(self, devices) -> None:
        self.state, self.devices = "ready", devices
        self.ready.emit(devices)

    def _on_import_failed(self, message: str) -> None:
        self.state, self.error = "failed", message
        log.warning("training is unavailable: torch could not be imported: %s", message)
        self.failed.emit(message)


_loader: _TorchLoader | None = None


def loader() -> _TorchLoader:
    """The process's one loader (created on the UI thread, on first use)."""
    global _loader
    if _loader is None:
        _loader = _TorchLoader()
    return _loader


def is_ready() -> bool:
    return _loader is not None and _loader.state == "ready"


def error() -> str:
    """Why the import failed ('' if it has not)."""
    return _loader.error if _loader is not None and _loader.state == "failed" else ""


def when_ready(on_ready, on_failed=None) -> None:
    """Call ``on_ready(devices)`` on the UI thread once torch is imported: now if it already is,
    else when the background import ends (``on_failed(message)`` if it fails). Bound methods of
    QObjects are disconnected when their object is deleted. The import starts once the first
    frame has been painted (see :meth:`_TorchLoader.start_after_first_paint`)."""
    load = loader()
    if load.state == "ready":
        on_ready(load.devices)
        return
    if load.state == "failed":
        if on_failed is not None:
            on_failed(load.error)
        return
    load.ready.connect(on_ready)
    if on_failed is not None:
        load.failed.connect(on_failed)
    load.start_after_first_paint()


# The warming below, once started, is waited for by a run's thread before it trains (see there).
_first_use_warming = False
_first_use_warmed = threading.Event()


def _warm_first_use() -> None:
    """What torch imports only when first used, imported here (after the panels are told torch
    is ready, so Train is not held up) rather than in the first run: the first optimizer made
    imports ``torch._dynamo`` and with it about 900 modules (sympy among them; 3 to 5 s on a
    2-core machine). In the first run's thread that import held the GIL long enough to stall
    the UI, and the objects it made, outside the frozen import, cost every later collection
    after a run about 120 ms of UI thread (154,000 objects; measured with bench/ui_latency.py).
    Frozen with the rest of torch's modules. A run started meanwhile waits for the end
    (:func:`wait_for_first_use_imports`), so that none of its objects are frozen with them."""
    global _first_use_warming
    _first_use_warming = True
    try:
        with collector_paused(freeze=True):
            import torch
            torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
    except Exception:  # noqa: BLE001 - only a head start: the first run imports it otherwise
        log.debug("warming torch's first-use imports failed", exc_info=True)
    finally:
        _first_use_warmed.set()


def wait_for_first_use_imports(timeout_s: float = 120.0) -> None:
    """A run's thread, before it makes its model: wait while :func:`_warm_first_use` runs (its
    freeze at the end would freeze the run's objects too, out of the collector's reach for good).
    Returns at once if it has finished or never started (headless use, tests without the loader)."""
    if _first_use_warming:
        _first_use_warmed.wait(timeout_s)


def _preload_native_libraries() -> None:
    """Load libtorch's shared libraries through ``dlopen`` called via ctypes, which releases the
    GIL for the call, in the order ``import torch`` loads them (its global dependencies with
    RTLD_GLOBAL, then the ``torch._C`` extension with Python's own flags); the import then finds
    them loaded. Only where the linker's choice of CUDA libraries cannot differ from torch's
    (no LD_LIBRARY_PATH, which torch works around by preloading wheels itself); on any problem
    it does nothing and the import does all the work, as usual."""
    if sys.platform not in ("linux", "darwin") or "torch" in sys.modules:
        return
    if os.environ.get("LD_LIBRARY_PATH") or os.environ.get("DYLD_LIBRARY_PATH"):
        return
    try:
        spec = importlib.util.find_spec("torch")
        if spec is None or spec.origin is None:
            return
        root = Path(spec.origin).parent
        global_deps = root / "lib" / ("libtorch_global_deps.dylib" if sys.platform == "darwin"
                                      else "libtorch_global_deps.so")
        extension = next((root / f"_C{suffix}" for suffix in importlib.machinery.EXTENSION_SUFFIXES
                          if (root / f"_C{suffix}").is_file()), None)
        if extension is None or not global_deps.is_file():
            return
        libc = ctypes.CDLL(None)
        dlopen = libc.dlopen
        dlopen.restype = ctypes.c_void_p
        dlopen.argtypes = (ctypes.c_char_p, ctypes.c_int)
        if dlopen(os.fsencode(global_deps), os.RTLD_GLOBAL | os.RTLD_NOW):
            dlopen(os.fsencode(extension), sys.getdlopenflags())
    except Exception:  # noqa: BLE001 - only a head start: the import itself reports real problems
        return


__all__ = ["WARM_MODULES", "error", "is_ready", "loader", "wait_for_first_use_imports", "when_ready"]
