"""The status bar's totals ("✔ valid · 1,234 params · …"): their text, and a label that shows it
without laying the window out again.

A QLabel whose text changes asks its parent's layout to run; in the status bar that layout
then asks the main window's, which places every dock again and repaints the whole bar: on
every edit, for a count that changed by a few digits. Here the label sits in a holder with no
layout (a request from the label stops there) whose width moves in steps of WIDTH_STEP pixels:
only a text that needs another step asks the status bar for room. The label keeps its text's
width against the holder's right edge, so the text is drawn where it was, next to the batch size.
"""
from __future__ import annotations

from PySide6.QtCore import QSize
from PySide6.QtWidgets import QLabel, QWidget

from engine.summary import human, human_bytes

from .diagnostics import EMPTY_HINT, is_empty

WIDTH_STEP = 32  # px: the holder grows or shrinks by whole steps


def totals_text(design, report, batch: int) -> str:
    if is_empty(design):  # the engine says "no Input"; a new user needs a hint
        return f"Empty design · {EMPTY_HINT}"
    errors = len(report.errors)
    status = "✔ valid" if not errors else f"✖ {errors} error{'s' * (errors != 1)}"
    return (f"{status}  ·  {report.total_params:,} params  ·  {human(report.macs)} MACs  ·  "
            f"{human_bytes(report.activation_bytes * batch)} activations")


class TotalsHolder(QWidget):
    """Holds ``label`` (a plain QLabel: what tests and users read) and sizes it by hand."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.label = QLabel(self)
        self.setSizePolicy(self.label.sizePolicy())
        self._hint = QSize(0, 0)

    def set_text(self, text: str) -> None:
        if text == self.label.text():
            return
        self.label.setText(text)
        needed = self.label.sizeHint()
        width = -(-needed.width() // WIDTH_STEP) * WIDTH_STEP
        hint = QSize(width, needed.height())
        if hint != self._hint:  # only now does the status bar lay out again
            self._hint = hint
            self.updateGeometry()
        self._place()

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt's name
        return self._hint

    def minimumSizeHint(self) -> QSize:  # noqa: N802 - Qt's name
        return self._hint

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().resizeEvent(event)
        self._place()

    def _place(self) -> None:
        """The label as wide as its text, against the holder's right edge (where the status
        bar put it when it sized the label itself)."""
        width = min(self.label.sizeHint().width(), self.width())
        self.label.setGeometry(self.width() - width, 0, width, self.height())

