"""One editor widget per parameter kind of the block schema (engine.blocks.base.Param).

Each editor validates as you type with the engine's own ``Param.coerce`` (the message is the
engine's), shows problems in place, and emits ``committed(value)`` only with a valid value.
"""
from __future__ import annotations

import math
import re

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QCheckBox, QComboBox, QDoubleSpinBox, QHBoxLayout, QLabel, QLineEdit, QSpinBox, QWidget

from engine.errors import ParameterError

BIG = 1_000_000_000
INVALID_STYLE = "border: 1.5px solid #d93025; border-radius: 3px;"


class ParamEditor(QWidget):
    committed = Signal(object)  # a valid, coerced value
    problem = Signal(str)  # "" when the text is valid again
    session_ended = Signal()  # focus left: the next edit is a new undo step

    def __init__(self, param, parent=None):
        super().__init__(parent)
        self.param = param
        self.layout_ = QHBoxLayout(self)
        self.layout_.setContentsMargins(0, 0, 0, 0)
        self.setToolTip(param.help or param.name)

    def set_value(self, value) -> None:
        raise NotImplementedError

    def _add(self, widget: QWidget) -> None:
        self.layout_.addWidget(widget, 1)
        if self.param.unit and not isinstance(widget, (QSpinBox, QDoubleSpinBox)):
            self.layout_.addWidget(QLabel(self.param.unit))


class IntEditor(ParamEditor):
    def __init__(self, param, parent=None):
        super().__init__(param, parent)
        self.spin = QSpinBox()
        low = int(param.min) if param.min is not None else -BIG
        high = int(param.max) if param.max is not None else BIG
        if param.optional:  # the lowest value reads "auto": the engine derives it
            low -= 1
            self.spin.setSpecialValueText("auto")
        self.spin.setRange(low, high)
        if param.unit:
            self.spin.setSuffix(f" {param.unit}")
        self.spin.setAccelerated(True)
        self._add(self.spin)
        self.spin.valueChanged.connect(self._on_changed)
        self.spin.editingFinished.connect(self.session_ended)

    def set_value(self, value) -> None:
        value = self.spin.minimum() if value is None else int(value)
        if value != self.spin.value():  # the same value again repaints the box for nothing
            self.spin.blockSignals(True)
            self.spin.setValue(value)
            self.spin.blockSignals(False)

    def _on_changed(self, value: int) -> None:
        if self.param.optional and value == self.spin.minimum():
            self.committed.emit(None)
        else:
            self.committed.emit(value)


class FloatEditor(ParamEditor):
    def __init__(self, param, parent=None):
        super().__init__(param, parent)
        self.spin = QDoubleSpinBox()
        scale = abs(param.default) if isinstance(param.default, (int, float)) and param.default else 0.1
        digits = max(2, min(8, 2 - math.floor(math.log10(scale))))
        self.spin.setDecimals(digits)
        self.spin.setSingleStep(10 ** math.floor(math.log10(scale)) if scale < 1 else 0.1)
        self.spin.setRange(param.min if param.min is not None else -BIG, param.max if param.max is not None else BIG)
        if param.unit:
            self.spin.setSuffix(f" {param.unit}")
        self._add(self.spin)
        self.spin.valueChanged.connect(lambda value: self.committed.emit(float(value)))
        self.spin.editingFinished.connect(self.session_ended)

    def set_value(self, value) -> None:
        if float(value) != self.spin.value():
            self.spin.blockSignals(True)
            self.spin.setValue(float(value))
            self.spin.blockSignals(False)


class BoolEditor(ParamEditor):
    def __init__(self, param, parent=None):
        super().__init__(param, parent)
        self.check = QCheckBox()
        self._add(self.check)
        self.check.toggled.connect(lambda on: self.committed.emit(bool(on)))

    def set_value(self, value) -> None:
        if bool(value) != self.check.isChecked():
            self.check.blockSignals(True)
            self.check.setChecked(bool(value))
            self.check.blockSignals(False)


class ChoiceEditor(ParamEditor):
    def __init__(self, param, parent=None):
        super().__init__(param, parent)
        self.combo = QComboBox()
        for choice in param.choices:
            self.combo.addItem(str(choice), choice)
        self._add(self.combo)
        self.combo.currentIndexChanged.connect(lambda i: self.committed.emit(self.combo.itemData(i)))

    def set_value(self, value) -> None:
        index = max(0, self.combo.findData(value))
        if index != self.combo.currentIndex():
            self.combo.blockSignals(True)
            self.combo.setCurrentIndex(index)
            self.combo.blockSignals(False)


class TextEditor(ParamEditor):
    """ints ('3' or '3, 5' per axis), padding (also 'same'/'valid'), shape ('1, 28, 28'), str.
    Optional parameters accept an empty field, meaning "derive it"."""

    def __init__(self, param, parent=None):
        super().__init__(param, parent)
        self.edit = QLineEdit()
        hints = {"ints": "a number, or one per axis: 3, 5", "padding": "a number, one per axis, same or valid",
                 "shape": "sizes without batch: 1, 28, 28", "str": ""}
        placeholder = hints.get(param.kind, "")
        if param.optional:
            placeholder = "auto (derived) — or " + placeholder
        self.edit.setPlaceholderText(placeholder)
        self._add(self.edit)
        self._value = None
        self._marked: str | None = None  # the message the box shows (None: not marked yet)
        self.edit.textEdited.connect(self._validate)
        self.edit.editingFinished.connect(self._commit)

    def set_value(self, value) -> None:
        self._value = value
        text = format_text(value)
        if text != self.edit.text():
            self.edit.setText(text)
        self._mark("")

    def parse(self, text: str):
        text = text.strip()
        if self.param.kind == "str":
            return text
        if not text:
            return None
        if self.param.kind == "padding" and text.lower() in ("same", "valid"):
            return text.lower()
        parts = [p for p in re.split(r"[,\s×x*]+", text.strip("[]()")) if p]
        try:
            numbers = [int(p) for p in parts]
        except ValueError:
            raise ParameterError(f"{self.param.name}: '{text}' is not a whole number or a list of them") from None
        if self.param.kind == "shape" or len(numbers) > 1:
            return numbers
        return numbers[0] if numbers else None

    def current(self):
        """The coerced value of the text, or raise ParameterError with the engine's message."""
        return self.param.coerce(self.parse(self.edit.text()))

    def _validate(self, _text: str = "") -> bool:
        try:
            self.current()
        except ParameterError as e:
            self._mark(str(e))
            return False
        self._mark("")
        return True

    def _commit(self) -> None:
        if self._validate():
            value = self.current()
            if value != self._value:
                self._value = value
                self.committed.emit(value)
        self.session_ended.emit()

    def _mark(self, message: str) -> None:
        if message != self._marked:  # a style sheet set again re-polishes the box: only on a change
            self._marked = message
            self.edit.setStyleSheet(INVALID_STYLE if message else "")
            self.edit.setToolTip(message or self.param.help)
        self.problem.emit(message)


def format_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value)
    return str(value)


def editor_for(param, parent=None) -> ParamEditor:
    kind = param.kind
    if kind == "int":
        return IntEditor(param, parent)
    if kind == "float":
        return FloatEditor(param, parent)
    if kind == "bool":
        return BoolEditor(param, parent)
    if kind == "choice":
        return ChoiceEditor(param, parent)
    return TextEditor(param, parent)
