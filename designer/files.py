"""Recent files, autosave to a recovery file, and restoring it after a crash."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, QSettings, QStandardPaths, QTimer

from engine import persistence
from engine.errors import DesignFileError

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
    (atomically). A clean close deletes it, so finding it at start-up means a crash."""

    def __init__(self, document, path: Path, interval_ms: int = AUTOSAVE_MS, parent=None):
        super().__init__(parent)
        self.document, self.path = document, Path(path)
        self._saved_version = None
        self.timer = QTimer(self, interval=interval_ms)
        self.timer.timeout.connect(self.save_now)
        self.timer.start()

    @property
    def origin_path(self) -> Path:
        return self.path.with_name(self.path.name + ".origin")

    def save_now(self) -> bool:
        design = self.document.design
        if not self.document.is_modified:
            self.discard()
            return False
        if self._saved_version == design.version and self.path.exists():
            return False
        self.path.parent.mkdir(parents=True, exist_ok=True)
        persistence.save(design, self.path)
        persistence.atomic_write_text(self.origin_path, self.document.path or "")
        self._saved_version = design.version
        return True

    def discard(self) -> None:
        for path in (self.path, self.origin_path):
            try:
                path.unlink()
            except FileNotFoundError:
                pass
        self._saved_version = None

    def stop(self) -> None:
        self.timer.stop()


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
