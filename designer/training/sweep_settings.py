"""The settings editor of Run ▸ Sweep… (:mod:`.sweep_dialog`): one row per swept setting,
its values typed as text and checked by :func:`engine.sweep.parse_grid` as they are typed (the
engine's message shown at the row)."""
from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from designer import theme as themes
from engine.sweep import DESIGN_SETTINGS, SweepError, parse_grid, sweepable_defaults

DEFAULT_ROWS = (("lr", "1e-3, 1e-2"), ("batch_size", "32, 64"))


def setting_names() -> list[str]:
    """What the setting combo offers: the engine's sweepable TrainConfig fields, then the design
    variants (template, width)."""
    return sorted(sweepable_defaults()) + list(DESIGN_SETTINGS)


# -- the settings editor -----------------------------------------------------------------------
class SettingRow(QWidget):
    changed = Signal()
    removed = Signal(object)

    def __init__(self, name: str = "lr", values: str = "", parent=None):
        super().__init__(parent)
        self.setting = QComboBox()
        self.setting.addItems(setting_names())
        self.setting.setCurrentText(name)
        self.setting.setMinimumContentsLength(14)
        self.values = QLineEdit(values)
        self.values.setPlaceholderText("values, separated by commas: 1e-3, 1e-2")
        self.remove = QToolButton()
        self.remove.setText("✕")
        self.remove.setToolTip("remove this setting")
        self.message = QLabel()
        self.message.setTextFormat(Qt.TextFormat.PlainText)  # engine text: never markup
        self.message.setWordWrap(True)
        self.message.setObjectName("setting_message")
        grid = QGridLayout(self)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setVerticalSpacing(1)
        grid.addWidget(self.setting, 0, 0)
        grid.addWidget(self.values, 0, 1)
        grid.addWidget(self.remove, 0, 2)
        grid.addWidget(self.message, 1, 0, 1, 3)
        grid.setColumnStretch(1, 1)
        self.setting.currentTextChanged.connect(lambda _t: self.changed.emit())
        self.values.textChanged.connect(lambda _t: self.changed.emit())
        self.remove.clicked.connect(lambda: self.removed.emit(self))

    def item(self) -> str:
        return f"{self.setting.currentText()}={self.values.text()}"

    def show_message(self, text: str) -> None:
        self.message.setText(text)
        self.message.setVisible(bool(text))
        self.message.setStyleSheet(f"color: {themes.active().bad_text};")


class SettingsEditor(QWidget):
    """Rows of (setting, values), each checked as it is typed; :attr:`grid` is the parsed grid
    of all rows, or None while any row is wrong."""

    changed = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self.rows: list[SettingRow] = []
        self.grid: dict | None = None
        self._rows_layout = QVBoxLayout()
        self._rows_layout.setSpacing(4)
        self.add_button = QPushButton("Add setting")
        self.add_button.clicked.connect(lambda: self.add_row(self._unused_name(), ""))
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(self._rows_layout)
        add_row = QHBoxLayout()
        add_row.addWidget(self.add_button)
        add_row.addStretch(1)
        layout.addLayout(add_row)
        for name, values in DEFAULT_ROWS:
            self.add_row(name, values)

    def add_row(self, name: str, values: str) -> SettingRow:
        row = SettingRow(name, values)
        row.changed.connect(self.validate)
        row.removed.connect(self._remove_row)
        self.rows.append(row)
        self._rows_layout.addWidget(row)
        self.validate()
        return row

    def _remove_row(self, row: SettingRow) -> None:
        self.rows.remove(row)
        row.setParent(None)
        row.deleteLater()
        self.validate()

    def _unused_name(self) -> str:
        used = {r.setting.currentText() for r in self.rows}
        for name in ("lr", "batch_size", "weight_decay", "optimizer", "width", "template"):
            if name not in used:
                return name
        return next(n for n in setting_names() if n not in used) if len(used) < len(setting_names()) else "lr"

    def validate(self) -> None:
        """Each row alone through parse_grid (its own message), then a name given twice."""
        ok = True
        seen: set[str] = set()
        for row in self.rows:
            message = ""
            if not row.values.text().strip(" ,"):
                message = f"type the values of {row.setting.currentText()}, separated by commas"
            else:
                try:
                    parse_grid([row.item()])
                except SweepError as e:
                    message = str(e)
            if not message and row.setting.currentText() in seen:
                message = f"{row.setting.currentText()} is given twice: remove one of the rows"
            seen.add(row.setting.currentText())
            row.show_message(message)
            ok = ok and not message
        self.grid = None
        if ok and self.rows:
            try:
                self.grid = parse_grid([row.item() for row in self.rows])
            except SweepError:  # each row was fine alone; parse_grid has the last word
                self.grid = None
        self.changed.emit()

    def messages(self) -> list[str]:
        return [r.message.text() for r in self.rows if r.message.text()]
