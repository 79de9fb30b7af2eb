"""The dataset chooser: the built-in sets, the torchvision downloads, the user's recent folders
and CSV files, and *Image folder…* / *CSV…* to add one.

A choice is a name (``digits``) or a path; both go to :func:`engine.data.load` unchanged. The
two "…" entries open a file dialog; cancelling it puts the previous choice back, so nothing is
lost. Recent choices are kept in the window's ``QSettings`` (in memory only when none is given,
as in tests of the panel alone).
"""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QComboBox, QFileDialog

from engine import dataset_names

PICK_FOLDER, PICK_CSV = "\x00folder", "\x00csv"  # item data of the two dialog entries (never a path)
RECENT_KEY = "training/recent_datasets"
MAX_RECENT = 6
FOLDER_HINT = ("Image folder: one sub-folder of images per class (DATA/cat/001.png, DATA/dog/001.png), "
               "optionally under train/ and val/")
CSV_HINT = ("CSV: either 'path,label' rows naming image files, or numeric feature columns and a label column "
            "(headed label, class or target, else the last) for 1-D and fully connected designs")


class DatasetChooser(QComboBox):
    """``chosen(name_or_path)`` when the user (or code, through ``setCurrentIndex``) picks a dataset."""

    chosen = Signal(str)

    def __init__(self, settings=None, parent=None):
        super().__init__(parent)
        self.settings = settings
        self._recent: list[str] = self._stored_recent()
        self._previous = 0
        self._fill()
        self.currentIndexChanged.connect(self._on_index)

    # -- recent datasets ---------------------------------------------------------------------
    def use_settings(self, settings) -> None:
        """Remember recent datasets in ``settings`` (the window's) from now on."""
        self.settings = settings
        self._recent = self._stored_recent() or self._recent
        self._refill(self.currentData())

    def recent(self) -> list[str]:
        return list(self._recent)

    def _stored_recent(self) -> list[str]:
        if self.settings is None:
            return []
        value = self.settings.value(RECENT_KEY, [])
        value = [value] if isinstance(value, str) else list(value or [])
        return [str(v) for v in value if isinstance(v, str) and Path(v).exists()][:MAX_RECENT]

    def remember(self, path: str) -> None:
        """Put ``path`` first among the recent datasets and select it."""
        self._recent = [path] + [p for p in self._recent if p != path][:MAX_RECENT - 1]
        if self.settings is not None:
            self.settings.setValue(RECENT_KEY, self._recent)
        self._refill(None)
        self.setCurrentIndex(self.findData(path))  # emits chosen

    # -- items -------------------------------------------------------------------------------
    def _fill(self) -> None:
        downloads = set(dataset_names.DOWNLOADS)
        for name in dataset_names.names():
            if name not in downloads:
                self._add(name, name, dataset_names.describe(name))
        self.insertSeparator(self.count())
        for name in dataset_names.DOWNLOADS:
            self._add(f"{name} (download)", name, dataset_names.describe(name))
        if self._recent:
            self.insertSeparator(self.count())
            for path in self._recent:
                self._add(_short(path), path, path)
        self.insertSeparator(self.count())
        self._add("Image folder…", PICK_FOLDER, FOLDER_HINT)
        self._add("CSV…", PICK_CSV, CSV_HINT)

    def _refill(self, keep) -> None:
        self.blockSignals(True)
        self.clear()
        self._fill()
        index = self.findData(keep) if keep is not None else -1
        self.setCurrentIndex(max(0, index))
        self._previous = self.currentIndex()
        self.blockSignals(False)

    def _add(self, text: str, data: str, tip: str) -> None:
        self.addItem(text, data)
        self.setItemData(self.count() - 1, tip, Qt.ItemDataRole.ToolTipRole)

    # -- choosing ----------------------------------------------------------------------------
    def _on_index(self, index: int) -> None:
        data = self.itemData(index)
        if data in (PICK_FOLDER, PICK_CSV):
            self._back_to(self._previous)  # until a file is picked the old choice stands
            path = self._ask(data)
            if path:
                self.remember(str(Path(path).expanduser().resolve()))
            return
        if data is None:
            return
        self._previous = index
        self.setToolTip(self.itemData(index, Qt.ItemDataRole.ToolTipRole) or "")
        self.chosen.emit(data)

    def _back_to(self, index: int) -> None:
        self.blockSignals(True)
        self.setCurrentIndex(index)
        self.blockSignals(False)

    def _ask(self, kind: str) -> str:
        start = str(Path(self._recent[0]).parent) if self._recent else str(Path.home())
        if kind == PICK_FOLDER:
            return QFileDialog.getExistingDirectory(self, "Image folder (one sub-folder per class)", start)
        path, _filter = QFileDialog.getOpenFileName(self, "CSV file", start, "CSV files (*.csv);;All files (*)")
        return path


def _short(path: str) -> str:
    p = Path(path)
    return f"{p.name} ({p.parent.name}/)" if p.parent.name else p.name


__all__ = ["DatasetChooser", "PICK_FOLDER", "PICK_CSV", "RECENT_KEY"]
