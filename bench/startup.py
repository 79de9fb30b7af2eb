"""Start-up: how long until the main window is on screen, and does the UI thread stall after?

Each round starts two fresh processes (offscreen Qt, an empty home folder so no settings,
recent files or recovery file are found): the app as ``python main.py`` starts it, and a bare
PySide6 ``QMainWindow``. Both measure from the moment this script spawned them (the system's
monotonic clock) to the end of the first paint pass of their main window. Rounds alternate the
order (bare/app, app/bare, ...) so the drifting load of a shared machine hits both alike; an
untimed first round fills the OS file cache and Python's bytecode caches, as any start after
the very first has them.

After its first frame the app keeps running with a 10 ms ``QTimer`` on the UI thread, for
``--watch`` seconds and at least until torch, imported in the background, is ready (plus a
second for the panels to fill in). A gap between two ticks is the UI thread being busy, or
waiting for the GIL held by another thread. Reported: the longest gap in the first ``--watch``
seconds and the longest until torch was ready, whether torch was imported when the window was
painted, and when torch was ready.

    .venv/bin/python bench/startup.py [--rounds 5] [--watch 6]

Targets: the app's window within 6× the bare window's time; no gap over 100 ms. Prints figures
only; the machine's load average is printed because processes competing for the cores
inflate every figure (a gap includes the time the OS gave the cores to someone else).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TICK_MS = 10
AFTER_READY_S = 1.0  # the panels fill in after torch is ready: measured too
MAX_EXTRA_S = 40.0  # give up waiting for torch this long after --watch

# The child: a hook on the first paint of any QMainWindow, then the program proper.
CHILD = r"""
import json, os, sys, time
spawned, mode, watch = float(sys.argv[1]), sys.argv[2], float(sys.argv[3])
after_ready, max_extra, tick_ms = float(sys.argv[4]), float(sys.argv[5]), int(sys.argv[6])
sys.path.insert(0, os.getcwd())
from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtWidgets import QApplication, QMainWindow

result = {"torch_ready_s": None}
ticks = []


def torch_ready():
    try:
        from designer.training import torch_runtime
    except ImportError:  # an app without the background import: torch is there once imported
        return "torch" in sys.modules
    return torch_runtime.is_ready()


def finish():
    shown = result["shown_s"] + spawned
    gaps = [(b - a, a) for a, b in zip(ticks, ticks[1:])]
    early = [g for g in gaps if g[1] - shown < watch]
    worst = sorted(gaps, reverse=True)
    result["max_gap_ms"] = 1000 * max(early)[0] if early else None
    result["max_gap_until_ready_ms"] = 1000 * worst[0][0] if worst else None
    result["worst_gaps"] = [(round(1000 * g), round(a - spawned, 2)) for g, a in worst[:3]]
    print("RESULT " + json.dumps(result), flush=True)
    os._exit(0)  # no teardown: only the start-up is measured


def tick():
    now = time.monotonic()
    ticks.append(now)
    if result["torch_ready_s"] is None and torch_ready():
        result["torch_ready_s"] = now - spawned
    since_shown = now - spawned - result["shown_s"]
    ready_for = now - spawned - result["torch_ready_s"] if result["torch_ready_s"] is not None else -1
    if (since_shown >= watch and ready_for >= after_ready) or since_shown >= watch + max_extra:
        finish()


def frame_done():
    # The paint pass that began with the main window's first paint event has ended: the first
    # frame is complete, the window is on screen.
    result["shown_s"] = time.monotonic() - spawned
    if mode == "bare":
        finish()
    timer = QTimer(QApplication.instance())
    timer.setInterval(tick_ms)
    timer.timeout.connect(tick)
    timer.start()
    ticks.append(time.monotonic())


class FirstPaint(QObject):
    done = False

    def eventFilter(self, obj, event):
        if (not self.done and event.type() == QEvent.Type.Paint and obj.isWidgetType()
                and isinstance(obj.window(), QMainWindow)):
            self.done = True
            result["torch_when_shown"] = "torch" in sys.modules
            QTimer.singleShot(0, frame_done)
        return False


app = QApplication([sys.argv[0]])
hook = FirstPaint()
app.installEventFilter(hook)
if mode == "bare":
    window = QMainWindow()
    window.resize(1440, 900)
    window.show()
    app.exec()
else:
    from engine.cli import main
    main(["gui"])
"""


def run_child(mode: str, watch: float, home: str) -> dict:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", HOME=home, XDG_CONFIG_HOME=os.path.join(home, "config"),
               XDG_DATA_HOME=os.path.join(home, "data"), XDG_CACHE_HOME=os.path.join(home, "cache"),
               TMPDIR=home)
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # a user's Python keeps compiled modules
    args = [repr(time.monotonic()), mode, str(watch), str(AFTER_READY_S), str(MAX_EXTRA_S), str(TICK_MS)]
    proc = subprocess.run([sys.executable, "-c", CHILD, *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120 + watch + MAX_EXTRA_S)
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")), None)
    if line is None:
        raise SystemExit(f"the {mode} process gave no result (exit {proc.returncode}):\n{proc.stderr[-2000:]}")
    return json.loads(line[len("RESULT "):])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--watch", type=float, default=6.0, help="seconds the UI thread is watched after the "
                        "first frame (longer if torch is not ready by then)")
    args = parser.parse_args()
    bare, app = [], []
    with tempfile.TemporaryDirectory(prefix="nd-startup-") as home:
        run_child("bare", 0, home)  # untimed: caches
        run_child("app", 0, home)
        for r in range(args.rounds):
            for mode in (("bare", "app") if r % 2 == 0 else ("app", "bare")):
                figures = run_child(mode, args.watch, home)
                (bare if mode == "bare" else app).append(figures)
            a, b = app[-1], bare[-1]
            ready = f"{a['torch_ready_s']:.1f} s" if a["torch_ready_s"] is not None else "never"
            worst = ", ".join(f"{g} ms at {t:.1f} s" for g, t in a["worst_gaps"])
            print(f"round {r + 1}: bare {b['shown_s'] * 1000:5.0f} ms, app {a['shown_s'] * 1000:5.0f} ms "
                  f"(torch imported by then: {a['torch_when_shown']}; ready at {ready}); "
                  f"longest UI gaps: {worst}", flush=True)
    bare_ms = statistics.median(f["shown_s"] for f in bare) * 1000
    app_ms = statistics.median(f["shown_s"] for f in app) * 1000
    early = [f["max_gap_ms"] for f in app]
    until_ready = [f["max_gap_until_ready_ms"] for f in app]
    ready = [f["torch_ready_s"] for f in app if f["torch_ready_s"] is not None]
    print(f"window shown after: app {app_ms:.0f} ms, bare QMainWindow {bare_ms:.0f} ms (medians of "
          f"{args.rounds}) → {app_ms / bare_ms:.1f}× (target ≤ 6×)")
    print(f"longest UI-thread gap in the first {args.watch:g} s after the first frame: median "
          f"{statistics.median(early):.0f} ms, worst {max(early):.0f} ms (target ≤ 100 ms)")
    print(f"longest UI-thread gap until torch was ready + {AFTER_READY_S:g} s: median "
          f"{statistics.median(until_ready):.0f} ms, worst {max(until_ready):.0f} ms")
    print(f"torch imported before the first frame: {sum(f['torch_when_shown'] for f in app)} of {len(app)} runs; "
          f"ready in the background after {statistics.median(ready) if ready else float('nan'):.1f} s (median)")
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    return 0


if __name__ == "__main__":
    sys.exit(main())
