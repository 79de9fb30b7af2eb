"""The list of runs: every run of this session (and those saved before), each checkable to
overlay its curves on the current run's for comparison."""
from __future__ import annotations

import time

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QLabel, QListWidget, QListWidgetItem, QVBoxLayout, QWidget

from engine.runs import RunRecord


def describe(record: RunRecord) -> str:
    c = record.config
    best = record.summary.get("best_val_accuracy")
    test = record.summary.get("test_accuracy")
    parts = [record.title, time.strftime("%H:%M", time.localtime(record.started)), record.status,
             f"{c.get('dataset', '?')}, {c.get('optimizer', '?')} lr {c.get('lr', '?')}, batch {c.get('batch_size', '?')}"]
    if best is not None:
        parts.append(f"best val {best:.1%}")
    if test is not None:
        parts.append(f"held-out {test:.1%}")
    return " · ".join(parts)


class RunHistoryView(QWidget):
    selection_changed = Signal()  # the set of runs to overlay changed

    def __init__(self, parent=None):
        super().__init__(parent)
        self.records: dict[str, RunRecord] = {}
        self.list = QListWidget()
        self.list.itemChanged.connect(lambda _item: self.selection_changed.emit())
        hint = QLabel("Tick runs to overlay their curves on the current run (dashed: validation).")
        hint.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(hint)
        layout.addWidget(self.list, 1)

    def add_run(self, record: RunRecord, checked: bool = True) -> None:
        self.records[record.run_id] = record
        item = QListWidgetItem(describe(record))
        item.setData(Qt.UserRole, record.run_id)
        item.setFlags(item.flags() | Qt.ItemIsUserCheckable)
        self.list.blockSignals(True)
        item.setCheckState(Qt.Checked if checked else Qt.Unchecked)
        self.list.insertItem(0, item)
        self.list.blockSignals(False)

    def refresh(self) -> None:
        self.list.blockSignals(True)
        for i in range(self.list.count()):
            item = self.list.item(i)
            item.setText(describe(self.records[item.data(Qt.UserRole)]))
            item.setToolTip(self.records[item.data(Qt.UserRole)].message or item.text())
        self.list.blockSignals(False)

    def chosen_runs(self) -> list[RunRecord]:
        """Checked runs, oldest first (the current run is always included by the caller)."""
        chosen = []
        for i in reversed(range(self.list.count())):
            item = self.list.item(i)
            if item.checkState() == Qt.Checked:
                chosen.append(self.records[item.data(Qt.UserRole)])
        return chosen
