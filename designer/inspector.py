"""The inspector: a form generated from the selected block's parameter schema, its formula,
and what the engine's report says about it (shapes, counts, receptive field, problems).
With nothing selected it edits the design's own properties (name, classes, notes)."""
from __future__ import annotations

import itertools
from html import escape

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QApplication,
    QCheckBox,
    QFormLayout,
    QFrame,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QScrollArea,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from engine.blocks.base import fmt_shape
from engine.summary import human, human_bytes

from .canvas.labels import diagnostic_html
from .diagnostics import problem_counts
from .icons import category_icon
from .param_editors import ParamEditor, editor_for

_sessions = itertools.count(1)


def _section(text: str) -> QLabel:
    label = QLabel(text)
    font = label.font()
    font.setBold(True)
    label.setFont(font)
    label.setContentsMargins(0, 8, 0, 2)
    return label


class InspectorPanel(QScrollArea):
    def __init__(self, document, parent=None):
        super().__init__(parent)
        self.document = document
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.node_id: str | None = None
        self.editors: dict[str, ParamEditor] = {}
        self._session = next(_sessions)
        self._body: QWidget | None = None
        self.report_label: QLabel | None = None
        self.problems_label: QLabel | None = None
        self._unsubscribe = document.design.subscribe(self._on_design_event)
        document.selection_changed.connect(self._on_selection)
        document.report_changed.connect(self._on_report)
        document.design_replaced.connect(lambda: self._on_selection(document.selection))
        self._on_selection(document.selection)

    def detach(self) -> None:
        self._unsubscribe()

    # -- building --------------------------------------------------------------------------
    def _on_selection(self, ids) -> None:
        self.node_id = ids[0] if len(ids) == 1 else None
        self._session = next(_sessions)
        body = QWidget()
        layout = QVBoxLayout(body)
        layout.setAlignment(Qt.AlignmentFlag.AlignTop)
        self.editors = {}
        self.report_label = self.problems_label = None
        if self.node_id is not None:
            self._build_node_form(layout)
        elif ids:
            layout.addWidget(QLabel(f"<b>{len(ids)} blocks selected</b>"))
            layout.addWidget(QLabel("Group them into a reusable block (Edit ▸ Group), lay them out, "
                                    "copy or delete them.", wordWrap=True))
        else:
            self._build_design_form(layout)
        self.setWidget(body)
        self._body = body
        self._on_report(self.document.report)

    def _build_node_form(self, layout: QVBoxLayout) -> None:
        design = self.document.design
        node = design.node(self.node_id)
        spec = design.spec(node.block)
        header = QLabel()
        header.setText(f"<span style='font-size:12pt'><b>{escape(spec.title)}</b></span>"
                       f"&nbsp;&nbsp;<span style='color:gray'>{spec.category} · {node.id}</span>")
        header.setWordWrap(True)
        icon_row = QWidget()
        row = QFormLayout(icon_row)
        row.setContentsMargins(0, 0, 0, 0)
        icon = QLabel()
        icon.setPixmap(category_icon(spec.category).pixmap(24, 24))
        row.addRow(icon, header)
        layout.addWidget(icon_row)
        formula = QLabel(f"<i>{escape(spec.formula)}</i>")
        formula.setWordWrap(True)
        formula.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(formula)
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.label_edit = QLineEdit(node.label, placeholderText=node.id)
        self.label_edit.editingFinished.connect(lambda: self.document.set_label(self.node_id, self.label_edit.text()))
        form.addRow("Name", self.label_edit)
        self.frozen_check = QCheckBox("frozen (not trained)")
        self.frozen_check.setChecked(node.frozen)
        self.frozen_check.toggled.connect(lambda on: self.document.set_frozen(self.node_id, on))
        form.addRow("", self.frozen_check)
        layout.addLayout(form)
        if spec.params:
            layout.addWidget(_section("Parameters"))
            params_form = QFormLayout()
            params_form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
            self.error_label = QLabel(wordWrap=True)
            self.error_label.setStyleSheet("color: #d93025;")
            self.error_label.hide()
            for param in spec.params:
                editor = editor_for(param)
                editor.set_value(node.params.get(param.name))
                editor.committed.connect(lambda value, name=param.name: self._commit(name, value))
                editor.problem.connect(self._show_problem)
                editor.session_ended.connect(self._new_session)
                label = QLabel(param.name.replace("_", " "))
                label.setToolTip(param.help or param.name)
                params_form.addRow(label, editor)
                self.editors[param.name] = editor
            layout.addLayout(params_form)
            layout.addWidget(self.error_label)
        if spec.is_composite:
            layout.addWidget(QLabel("<i>Double-click the node to open it and edit its inside.</i>", wordWrap=True))
        layout.addWidget(_section("Analysis"))
        self.report_label = AnalysisRows(("input", "output", "parameters", "MACs", "memory", "receptive field"))
        layout.addWidget(self.report_label)
        self.problems_label = QLabel(wordWrap=True)
        self.problems_label.setTextFormat(Qt.TextFormat.RichText)
        layout.addWidget(self.problems_label)

    def _build_design_form(self, layout: QVBoxLayout) -> None:
        design = self.document.design
        layout.addWidget(QLabel("<span style='font-size:12pt'><b>Design</b></span>"))
        layout.addWidget(QLabel("Select a block to edit its parameters. Drag blocks from the palette, "
                                "connect an output port (bottom) to an input port (top).", wordWrap=True))
        form = QFormLayout()
        self.name_edit = QLineEdit(design.name)
        self.name_edit.editingFinished.connect(lambda: self.document.set_meta(name=self.name_edit.text()))
        form.addRow("Name", self.name_edit)
        self.classes_spin = QSpinBox()
        self.classes_spin.setRange(0, 1 << 20)
        self.classes_spin.setSpecialValueText("not set")
        self.classes_spin.setValue(design.num_classes or 0)
        self.classes_spin.editingFinished.connect(
            lambda: self.document.set_meta(num_classes=self.classes_spin.value() or None))
        form.addRow("Classes", self.classes_spin)
        self.notes_edit = QPlainTextEdit(design.notes)
        self.notes_edit.setMaximumHeight(120)
        form.addRow("Notes", self.notes_edit)
        self.notes_edit.focusOutEvent = self._notes_focus_out
        layout.addLayout(form)
        self.report_label = QLabel(wordWrap=True)
        layout.addWidget(_section("Totals"))
        layout.addWidget(self.report_label)

    def _notes_focus_out(self, event) -> None:
        QPlainTextEdit.focusOutEvent(self.notes_edit, event)
        self.document.set_meta(notes=self.notes_edit.toPlainText())

    # -- editing ---------------------------------------------------------------------------
    def _commit(self, name: str, value) -> None:
        if self.node_id is None:
            return
        self.document.set_params(self.node_id, {name: value}, merge_token=(self._session, name))

    def _new_session(self) -> None:
        self._session = next(_sessions)

    def _show_problem(self, message: str) -> None:
        self.error_label.setText(message)
        self.error_label.setVisible(bool(message))

    def _on_design_event(self, event) -> None:
        if self.node_id is None or event.node_id != self.node_id or self._body is None:
            return
        node = self.document.design.nodes.get(self.node_id)
        if node is None:
            return
        if event.kind == "params_changed":  # undo, redo, or another view: show the new values
            for name, editor in self.editors.items():
                if not editor.isAncestorOf(QApplication.focusWidget()):
                    editor.set_value(node.params.get(name))
        elif event.kind == "node_changed":
            self.label_edit.setText(node.label)
            self.frozen_check.blockSignals(True)
            self.frozen_check.setChecked(node.frozen)
            self.frozen_check.blockSignals(False)

    def _on_report(self, report) -> None:
        if self.report_label is None:
            return
        if self.node_id is None:
            text = (f"{report.total_params:,} parameters ({report.trainable_params:,} trainable)<br>"
                    f"{human(report.macs)} multiply-accumulates per sample<br>"
                    f"{human_bytes(report.activation_bytes)} activations per sample<br>"
                    + _problem_line(*problem_counts(self.document.design, report)))
            if text != self.report_label.text():
                self.report_label.setText(text)
            return
        n = report.nodes.get(self.node_id)
        if n is None:
            return
        ins = ", ".join(fmt_shape(s) if s is not None else "?" for s in n.input_shapes) or "—"
        out = fmt_shape(n.shape) if n.shape is not None else "unknown"
        rf = "—"
        if n.receptive_field:
            rf = " × ".join(str(size) for size, _jump in n.receptive_field) + " px"
        frozen = f" ({n.frozen_params:,} frozen)" if n.frozen_params else ""
        self.report_label.show_values({
            "input": ins, "output": out, "parameters": f"{n.params:,}{frozen}",
            "MACs": f"{n.macs:,} ({human(n.macs)})", "memory": f"{human_bytes(n.activation_bytes)} per sample",
            "receptive field": rf})
        lines = [f"<p>{diagnostic_html(d)}</p>" for d in n.diagnostics]
        text = "".join(lines)
        if text != self.problems_label.text():  # an unchanged label costs no relayout, no repaint
            self.problems_label.setText(text)
            self.problems_label.setVisible(bool(lines))


def _problem_line(errors: int, warnings: int) -> str:
    return f"{errors} error{'s' * (errors != 1)}, {warnings} warning{'s' * (warnings != 1)}"


class AnalysisRows(QWidget):
    """The analysis of the selected node as rows of plain labels. An edit re-analyses on every
    keystroke: only the values that changed are set, so Qt relayouts and repaints nothing else
    (a rich-text table re-parsed per edit cost the window several milliseconds a frame)."""

    def __init__(self, names, parent=None):
        super().__init__(parent)
        form = QFormLayout(self)
        form.setContentsMargins(0, 0, 0, 0)
        form.setVerticalSpacing(2)
        self.values: dict[str, QLabel] = {}
        for name in names:
            value = QLabel()
            value.setTextFormat(Qt.TextFormat.PlainText)
            value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            if name in ("input", "output"):
                font = value.font()
                font.setBold(True)
                value.setFont(font)
            form.addRow(name, value)
            self.values[name] = value

    def show_values(self, values: dict[str, str]) -> None:
        for name, text in values.items():
            label = self.values[name]
            if label.text() != text:
                label.setText(text)

    def text(self) -> str:
        return "\n".join(f"{name}: {label.text()}" for name, label in self.values.items())
