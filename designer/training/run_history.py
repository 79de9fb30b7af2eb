"""Run comparison (issue 15 item 5): a sortable table of every run in the runs folder (this
session's, earlier ones, and those made by `main.py train`), with its settings and results;
ticked or selected runs have their curves overlaid on the current run's; Delete, Open folder
and Explain act on the selected rows.

The rows are engine.run_table's (reading the folders, the values, deleting); this shows them.
The runs folder is polled every few seconds off the UI thread (one stat per file, re-reading
only the folders that changed), so a run started from the command line appears on its own.
"""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QItemSelection, QItemSelectionModel, Qt, QTimer, QUrl, Signal
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QMessageBox,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from designer.plain_text import plain_label
from engine.run_table import (
    COLUMNS,
    RunFolderError,
    delete_run_folder,
    has_weights,
    read_run_folder,
    scan as scan_folders,
)
from engine.runs import RunRecord

from .run_table_model import KEYS, OverlayBoxDelegate, RunTableModel, shown

AUTO_OVERLAYS = 3  # earlier runs overlaid on a new run unless the user ticked or unticked them
POLL_MS = 2500  # how often the runs folder is looked at for runs made elsewhere
class RunHistoryView(QWidget):
    selection_changed = Signal()  # the set of runs to overlay changed
    explain_requested = Signal(str)  # a run folder to explain
    folders_deleted = Signal(list)  # the run folders just deleted (str)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.model = RunTableModel(self)
        self.records = self.model.records
        self.history = None  # engine.runs.RunHistory: its root is the runs folder
        self.jobs = None  # the controller's background runner (LatestOnly)
        self._live: set[str] = set()  # this session's runs: their records are kept up to date in memory
        self._stamps: dict[str, tuple] = {}  # folder name → stamp when last read
        self._chosen_by_user: set[str] = set()  # runs whose tick the user set: never changed for them
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(KEYS.index("started"), Qt.SortOrder.DescendingOrder)  # newest on top
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        self.table.verticalHeader().hide()
        self.table.setItemDelegateForColumn(0, OverlayBoxDelegate(self.table))
        self.table.verticalHeader().setDefaultSectionSize(self.table.fontMetrics().height() + 8)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(True)
        header.setResizeContentsPrecision(40)  # column widths from 40 rows, not from hundreds
        self.model.check_changed.connect(self._on_check_changed)
        self.table.selectionModel().selectionChanged.connect(self._on_rows_selected)
        self.table.doubleClicked.connect(lambda _index: self.explain_selected())

        self.explain_button = QPushButton("Explain")
        self.explain_button.setToolTip("Show what the selected run's network responds to (the Explain tab)")
        self.open_button = QPushButton("Open folder")
        self.open_button.setToolTip("Open the selected run's folder in the file manager")
        self.delete_button = QPushButton("Delete…")
        self.delete_button.setToolTip("Move the selected runs' folders to the trash")
        self.explain_button.clicked.connect(self.explain_selected)
        self.open_button.clicked.connect(self.open_selected)
        self.delete_button.clicked.connect(self.delete_selected)
        self.hint = plain_label("Tick runs, or select rows, to overlay their curves on the current run "
                                "(dashed: validation). Click a header to sort.")
        self.hint.setWordWrap(True)
        self.message = plain_label("")
        self.message.setWordWrap(True)
        buttons = QHBoxLayout()
        for button in (self.explain_button, self.open_button, self.delete_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(self.hint)
        layout.addWidget(self.table, 1)
        layout.addLayout(buttons)
        layout.addWidget(self.message)
        self.message.hide()
        self.timer = QTimer(self)
        self.timer.setInterval(POLL_MS)
        self.timer.timeout.connect(self.poll)
        self._update_buttons()

    # -- runs of this session (from the controller) ----------------------------------------------
    def add_run(self, record: RunRecord, checked: bool = True) -> None:
        """A new run of this session. The runs overlaid automatically are the last
        ``AUTO_OVERLAYS`` before it (older ones are unticked unless the user ticked them), so the
        curves show a bounded number of runs however many were made."""
        self._live.add(record.run_id)
        self.model.put(record)
        self.table.resizeColumnsToContents()
        self.model.set_checked(record.run_id, checked)
        for run_id in list(reversed(self.model.added))[AUTO_OVERLAYS + 1:]:
            if run_id not in self._chosen_by_user:
                self.model.set_checked(run_id, False)

    def refresh(self) -> None:
        """The records changed (a run ended, was evaluated): show their values."""
        self.model.update_rows()
        self._update_buttons()

    def count(self) -> int:
        return self.model.rowCount()

    def run_ids_in_view_order(self) -> list[str]:
        return list(self.model.ids)

    def chosen_runs(self) -> list[RunRecord]:
        """Ticked and selected runs, oldest first (the current run is always included by the caller)."""
        chosen = self.model.checked | set(self.selected_ids())
        return [self.model.records[i] for i in self.model.added if i in chosen]

    def selected_ids(self) -> list[str]:
        rows = {index.row() for index in self.table.selectionModel().selectedRows()}
        return [self.model.ids[r] for r in sorted(rows)]

    def select(self, run_ids) -> None:
        """Select these runs' rows (as a click and Ctrl-clicks would)."""
        selection = QItemSelection()
        for r, run_id in enumerate(self.model.ids):
            if run_id in run_ids:
                selection.select(self.model.index(r, 0), self.model.index(r, len(COLUMNS) - 1))
        self.table.selectionModel().select(selection, QItemSelectionModel.SelectionFlag.ClearAndSelect)

    def _on_check_changed(self, run_id: str) -> None:
        self._chosen_by_user.add(run_id)
        self.selection_changed.emit()

    def _on_rows_selected(self, *_args) -> None:
        self._update_buttons()
        self.selection_changed.emit()

    def _update_buttons(self) -> None:
        ids = self.selected_ids()
        one = self.model.records[ids[0]] if len(ids) == 1 else None
        self.explain_button.setEnabled(one is not None and bool(one.folder) and has_weights(one.folder))
        self.open_button.setEnabled(one is not None and bool(one.folder) and Path(one.folder).is_dir())
        self.delete_button.setEnabled(bool(ids) and self.history is not None and self.history.root is not None)

    def _say(self, text: str) -> None:
        self.message.setText(text)
        self.message.setVisible(bool(text))

    # -- the runs folder ---------------------------------------------------------------------
    def watch(self, history, jobs) -> None:
        """List the runs under ``history.root`` every few seconds while the table is shown (read
        by ``jobs``, the controller's background runner)."""
        self.history, self.jobs = history, jobs
        if history.root is None:
            return
        self.timer.start()
        self.poll()

    def showEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().showEvent(event)
        self.poll()

    def poll(self) -> None:
        """Look at the runs folder off the UI thread; re-read only new or changed folders. Only
        while the table is on screen: nobody looks at it otherwise, and at the app's start the
        folders' JSON would be read while torch imports."""
        if self.jobs is None or self.history is None or self.history.root is None or not self.isVisible():
            return
        if self.jobs.running_tag("runs folder") is not None:
            return  # the last look is not done yet
        root, known, live = Path(self.history.root), dict(self._stamps), set(self._live)

        def look(_progress):  # background thread: reads files, touches no widget
            found = scan_folders(root)
            changed = {name: (stamp, read_run_folder(root / name)) for name, stamp in found.items()
                       if name not in live and known.get(name) != stamp}
            return set(found), changed

        self.jobs.submit("runs folder", look, self._on_looked, lambda _message: None, tag="scan")

    def _on_looked(self, outcome) -> None:
        present, changed = outcome
        readable = []
        for name, (stamp, record) in changed.items():
            self._stamps[name] = stamp
            if record is None or name in self._live:
                continue
            record.run_id = name  # one run per folder: the folder's name is its id
            readable.append(record)
        first = self.model.rowCount() == 0
        self.model.put_many(readable)
        if readable and (first or len(readable) < 20):  # widths once for a big folder (0.2 s for 300 runs)
            self.table.resizeColumnsToContents()
        for run_id in list(self.model.ids):
            if run_id not in present and run_id not in self._live:
                self._stamps.pop(run_id, None)
                self.model.drop(run_id)  # removed outside the app
        self._update_buttons()

    # -- actions on the selected rows ------------------------------------------------------------
    def explain_selected(self) -> None:
        ids = self.selected_ids()
        if len(ids) == 1 and self.explain_button.isEnabled():
            self.explain_requested.emit(self.model.records[ids[0]].folder)

    def open_selected(self) -> None:
        ids = self.selected_ids()
        if len(ids) == 1 and self.model.records[ids[0]].folder:
            QDesktopServices.openUrl(QUrl.fromLocalFile(self.model.records[ids[0]].folder))

    def confirm_delete(self, records: list[RunRecord]) -> bool:
        names = "\n".join(f"• {r.title}  ({r.folder})" for r in records[:8])
        more = f"\n… and {len(records) - 8} more" if len(records) > 8 else ""
        answer = QMessageBox.question(
            self, "Delete runs", f"Move {len(records)} run folder(s) to the trash (or delete them where there "
            f"is no trash)?\n\n{names}{more}", QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Cancel)
        return answer == QMessageBox.StandardButton.Yes

    def delete_selected(self) -> None:
        """Delete the selected runs' folders after asking; never the run being trained, never a
        folder outside the runs folder (engine.run_table.delete_run_folder checks)."""
        if self.history is None or self.history.root is None:
            return
        records = [self.model.records[i] for i in self.selected_ids()]
        running = [r for r in records if r.run_id in self._live and r.status == "running"]
        records = [r for r in records if r not in running and r.folder]
        if not records:
            if running:
                self._say("The run being trained cannot be deleted: stop it first.")
            return
        if not self.confirm_delete(records):
            return
        problems, removed = [], []
        for record in records:
            try:
                delete_run_folder(self.history.root, record.folder, trash=_move_to_trash)
            except RunFolderError as e:
                problems.append(str(e))
                continue
            removed.append(record.folder)
            self._stamps.pop(record.run_id, None)
            self._live.discard(record.run_id)
            self.model.drop(record.run_id)
            self.history.remove(record.run_id)
        if running:
            problems.append("The run being trained was kept: stop it first.")
        self._say(" ".join(problems) if problems else f"{len(removed)} run(s) moved to the trash or deleted.")
        self._update_buttons()
        self.selection_changed.emit()
        if removed:
            self.folders_deleted.emit(removed)


def _move_to_trash(path: str) -> bool:
    from PySide6.QtCore import QFile
    result = QFile.moveToTrash(path)
    return bool(result[0] if isinstance(result, tuple) else result)


__all__ = ["AUTO_OVERLAYS", "KEYS", "RunHistoryView", "RunTableModel", "shown"]
