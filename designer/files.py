"""Recent files, autosave to a recovery file, and restoring it after a crash."""
from __future__ import annotations

import logging
import threading
from pathlib import Path

from PySide6.QtCore import QObject, QSettings, QStandardPaths, QTimer

from engine import persistence
from engine.errors import DesignFileError

log = logging.getLogger(__name__)
MAX_RECENT = 8
AUTOSAVE_MS = 60_000


def default_recovery_path() -> Path:
    folder = Path(QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppDataLocation)
                  or Path.home() / ".network-designer")
    return folder / "recovery.json"


class RecentFiles:
    def __init__(self, settings: QSettings):
        self.settings = settings

    def paths(self) -> list[str]:
        value = self.settings.value("recent_files", [])
        if isinstance(value, str):  # QSettings returns a lone entry as a string
            value = [value]
        return [p for p in (value or []) if isinstance(p, str)]

    def add(self, path: str) -> None:
        paths = [path] + [p for p in self.paths() if p != path]
        self.settings.setValue("recent_files", paths[:MAX_RECENT])

    def remove(self, path: str) -> None:
        self.settings.setValue("recent_files", [p for p in self.paths() if p != path])


class Autosave(QObject):
    """Every minute, if the design changed since the last save, write it to the recovery file
    (atomically). A clean close deletes it, so finding it at start-up means a crash.

    The design's data are taken on the UI thread (the thread that edits it); encoding and
    writing them, with the fsync of an atomic save, run in a thread of their own: for a big
    design they took the UI thread tens to hundreds of milliseconds once a minute."""

    def __init__(self, document, path: Path, interval_ms: int = AUTOSAVE_MS, parent=None):
        super().__init__(parent)
        self.document, self.path = document, Path(path)
        self._saved_version = None
        self._writer: threading.Thread | None = None
        self.timer = QTimer(self, interval=interval_ms)
        self.timer.timeout.connect(self.save_now)
        self.timer.start()

    @property
    def origin_path(self) -> Path:
        return self.path.with_name(self.path.name + ".origin")

    def save_now(self) -> bool:
        """Start writing the design if it changed since the last autosave; True if it started
        (:meth:`wait` for the file)."""
        design = self.document.design
        if not self.document.is_modified:
            self.discard()
            return False
        if self._saved_version == design.version and self.path.exists():
            return False
        data, origin = persistence.to_dict(design), self.document.path or ""
        self.wait()  # one write at a time (the last began a minute ago: long finished)
        self._saved_version = design.version  # before the thread starts: a failed write resets it
        self._writer = threading.Thread(target=self._write, args=(data, origin), name="autosave")
        self._writer.start()
        return True

    def _write(self, data: dict, origin: str) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            persistence.atomic_write_text(self.path, persistence.dumps_dict(data))
            persistence.atomic_write_text(self.origin_path, origin)
        except OSError as exc:  # a full disk: the next minute tries again; the design is untouched
            self._saved_version = None
            log.warning("the recovery file could not be written: %s", exc)

    def wait(self) -> None:
        """Until the write under way (if any) has finished."""
        if self._writer is not None:
            self._writer.join()
            self._writer = None

    def discard(self) -> None:
        self.wait()  # a write still under way would bring the file back after this
        for path in (self.path, self.origin_path):
            try:
                path.unlink()
            except FileNotFoundError:
                pass
        self._saved_version = None

    def stop(self) -> None:
        self.timer.stop()
        self.wait()


def pending_recovery(path: Path):
    """(design, original file path or None) left by a crashed session, or None."""
    path = Path(path)
    if not path.exists():
        return None
    try:
        design = persistence.load(path)
    except DesignFileError:
        return None
    origin = path.with_name(path.name + ".origin")
    original = origin.read_text(encoding="utf-8").strip() if origin.exists() else ""
    return design, original or None
