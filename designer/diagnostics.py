"""The problems list: every error and warning of the engine's report, with its fix; choosing
one selects the guilty node on the canvas. With nothing to say it is one line, and an empty
design gets a hint on how to begin, not the engine's "no Input" error."""
from __future__ import annotations

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QStyle,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from .icons import severity_icon
from .plain_text import plain_html

NODE_ROLE = Qt.ItemDataRole.UserRole
EMPTY_HINT = "Drag an Input block from the palette, or pick a template"
NO_PROBLEMS = "✔ No problems: every shape fits."


def is_empty(design) -> bool:
    """Nothing to check yet: the engine still reports 'no Input', the designer shows a hint."""
    return not design.nodes


def problem_counts(design, report) -> tuple[int, int]:
    """(errors, warnings) as the user should see them: none for an empty design."""
    if is_empty(design):
        return 0, 0
    return len(report.errors), len(report.warnings)


class ProblemsTitleBar(QWidget):
    """The Problems dock's title bar carries the summary, so with nothing to say the dock is
    this one line. Float and close buttons as on a standard dock title."""

    def __init__(self, title: str, summary: QLabel, parent=None):
        super().__init__(parent)
        self.title = QLabel(title)
        font = self.title.font()
        font.setBold(True)
        self.title.setFont(font)
        self.summary = summary
        self.float_button = self._button(QStyle.StandardPixmap.SP_TitleBarNormalButton, "Float or dock the panel")
        self.close_button = self._button(QStyle.StandardPixmap.SP_TitleBarCloseButton, "Close (View menu reopens it)")
        self.float_button.clicked.connect(self._toggle_floating)
        self.close_button.clicked.connect(self._close)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(6, 1, 2, 1)
        layout.setSpacing(10)
        layout.addWidget(self.title)
        layout.addWidget(summary, 1)
        layout.addWidget(self.float_button)
        layout.addWidget(self.close_button)

    def _button(self, pixmap, tip: str) -> QToolButton:
        button = QToolButton(self)
        button.setAutoRaise(True)
        button.setIcon(self.style().standardIcon(pixmap))
        button.setIconSize(QSize(10, 10))
        button.setFixedSize(QSize(18, 18))
        button.setToolTip(tip)
        button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        return button

    def _toggle_floating(self) -> None:
        dock = self.parentWidget()  # the dock widget takes its title bar as a child
        if dock is not None and hasattr(dock, "setFloating"):
            dock.setFloating(not dock.isFloating())

    def _close(self) -> None:
        dock = self.parentWidget()
        if dock is not None:
            dock.close()


class DiagnosticsPanel(QWidget):
    node_chosen = Signal(str)
    problems_changed = Signal(int)  # how many problems the list shows (0: the panel is one line)

    def __init__(self, document, parent=None):
        super().__init__(parent)
        self.document = document
        self.summary = QLabel()
        self.summary.setMinimumWidth(40)  # long messages are cut in the title, whole in the tooltip
        self.title_bar = ProblemsTitleBar("Problems", self.summary)  # the dock's title bar
        self.list = QListWidget()
        self.list.setWordWrap(True)
        self.list.setAlternatingRowColors(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.list, 1)
        layout.addStretch(0)  # with the list hidden the dock can still be dragged taller
        self.list.itemActivated.connect(self._on_activated)
        self.list.itemClicked.connect(self._on_activated)
        self.run_notes: list[tuple[str, str]] = []  # (node id, message): what the last run's health showed
        self._shown: tuple | None = None  # (list entries, summary) on screen
        document.report_changed.connect(self.show_report)
        self.show_report(document.report)

    @property
    def count(self) -> int:
        return self.list.count()

    def show_report(self, report) -> None:
        """List the report's problems. An edit that leaves them as they were (the common case:
        a parameter changed, every shape still fits) changes nothing on screen: the list is
        rebuilt, and the dock told, only when what it would show differs."""
        design = self.document.design
        if is_empty(design):
            shown = ((), f"Empty design: {EMPTY_HINT[0].lower()}{EMPTY_HINT[1:]}.")
        else:
            entries = []
            for d in sorted(report.diagnostics, key=lambda d: d.severity != "error"):
                where = ""
                if d.node_id and d.node_id in design.nodes:
                    where = f"{design.nodes[d.node_id].name}: "
                entries.append((d.severity, f"{where}{d.message}" + (f"\n    fix: {d.fix}" if d.fix else ""),
                                d.node_id))
            for node_id, message in self.run_notes:
                entries.append(("warning", f"training: {message}", node_id if node_id in design.nodes else ""))
            errors, warnings = problem_counts(design, report)
            trained = len(self.run_notes)
            if not errors and not warnings and not trained:
                summary = NO_PROBLEMS
            else:
                summary = f"{errors} error{'s' * (errors != 1)}, {warnings} warning{'s' * (warnings != 1)}"
                if trained:
                    summary += f", {trained} from training"
            shown = (tuple(entries), summary)
        if shown == self._shown:
            return
        self._shown = shown
        entries, summary = shown
        self.list.clear()
        for severity, text, node_id in entries:
            self._add_item(severity, text, node_id)
        self._set_summary(summary)
        self._show_list(bool(entries))

    def _add_item(self, severity: str, text: str, node_id: str) -> None:
        item = QListWidgetItem(severity_icon(severity), text)
        item.setData(NODE_ROLE, node_id)
        item.setToolTip(plain_html(text))  # a name like "a<b>" is text, not markup
        self.list.addItem(item)

    def add_run_diagnostic(self, node_id: str, message: str) -> None:
        """A problem training showed on a node (engine.training.health: vanishing or exploding
        gradients, dead ReLUs); listed with the design's own until the next run starts."""
        self.run_notes.append((node_id, message))
        self.show_report(self.document.report)

    def clear_run_diagnostics(self) -> None:
        if self.run_notes:
            self.run_notes = []
            self.show_report(self.document.report)

    def _set_summary(self, text: str) -> None:
        self.summary.setText(text)
        self.summary.setToolTip(text)

    def _show_list(self, shown: bool) -> None:
        # Hidden, the panel asks for one line only: the Problems dock can shrink to it.
        self.list.setVisible(shown)
        self.problems_changed.emit(self.list.count() if shown else 0)

    def list_height(self, max_rows: int = 6) -> int:
        """Height that shows up to ``max_rows`` problems without scrolling."""
        rows = sum(self.list.sizeHintForRow(i) for i in range(min(self.list.count(), max_rows)))
        return rows + 2 * self.list.frameWidth() + 4

    def _on_activated(self, item: QListWidgetItem) -> None:
        node_id = item.data(NODE_ROLE)
        if node_id:
            self.node_chosen.emit(node_id)
