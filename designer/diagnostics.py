"""The problems list: every error and warning of the engine's report, with its fix; choosing
one selects the guilty node on the canvas."""
from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QLabel, QListWidget, QListWidgetItem, QVBoxLayout, QWidget

from .icons import severity_icon

NODE_ROLE = Qt.ItemDataRole.UserRole


class DiagnosticsPanel(QWidget):
    node_chosen = Signal(str)

    def __init__(self, document, parent=None):
        super().__init__(parent)
        self.document = document
        self.summary = QLabel()
        self.list = QListWidget()
        self.list.setWordWrap(True)
        self.list.setAlternatingRowColors(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.summary)
        layout.addWidget(self.list)
        self.list.itemActivated.connect(self._on_activated)
        self.list.itemClicked.connect(self._on_activated)
        document.report_changed.connect(self.show_report)
        self.show_report(document.report)

    def show_report(self, report) -> None:
        self.list.clear()
        design = self.document.design
        for d in sorted(report.diagnostics, key=lambda d: d.severity != "error"):
            where = ""
            if d.node_id and d.node_id in design.nodes:
                where = f"{design.nodes[d.node_id].name}: "
            text = f"{where}{d.message}" + (f"\n    fix: {d.fix}" if d.fix else "")
            item = QListWidgetItem(severity_icon(d.severity), text)
            item.setData(NODE_ROLE, d.node_id)
            item.setToolTip(text)
            self.list.addItem(item)
        errors, warnings = len(report.errors), len(report.warnings)
        if not errors and not warnings:
            self.summary.setText("✔ No problems: every shape fits.")
        else:
            self.summary.setText(f"{errors} error{'s' * (errors != 1)}, {warnings} warning{'s' * (warnings != 1)}")

    def _on_activated(self, item: QListWidgetItem) -> None:
        node_id = item.data(NODE_ROLE)
        if node_id:
            self.node_chosen.emit(node_id)
