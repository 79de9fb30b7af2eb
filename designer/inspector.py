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
from engine.course_notes import block_help
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
        self._stale = False  # an edit came while the inspector was out of sight
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
        help_text = block_help(spec)  # the block's doc and the course notes' slips about it
        self.help_label = QLabel("".join(_help_paragraph(p) for p in help_text.split("\n\n")))
        self.help_label.setWordWrap(True)
        self.help_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.help_label)
        # after it has a parent: shown while parentless, a widget is a window of its own (it
        # flashed on screen and took the main window's activation, so its shortcuts stopped)
        self.help_label.setVisible(bool(help_text))
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
        # Full width and the panel's spare height: a template's notes (its adaptations and the
        # course notes' slips about it, explained) run to several paragraphs.
        self.notes_edit.setMinimumHeight(140)
        self.notes_edit.focusOutEvent = self._notes_focus_out
        layout.addLayout(form)
        layout.addWidget(_section("Notes"))
        layout.addWidget(self.notes_edit, 1)
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

    def _out_of_sight(self) -> bool:
        """The window is up but the inspector is not seen (its dock closed, or behind another
        dock's tab): what an edit changes is shown when it is seen again (showEvent)."""
        if self.isVisible() or not self.window().isVisible():
            return False
        self._stale = True
        return True

    def showEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().showEvent(event)
        if self._stale:
            self._stale = False
            node = self.document.design.nodes.get(self.node_id) if self.node_id is not None else None
            if node is not None and self._body is not None:
                self._show_params(node)
                self._show_attributes(node)
            self._on_report(self.document.report)

    def _show_params(self, node) -> None:
        for name, editor in self.editors.items():
            if not editor.isAncestorOf(QApplication.focusWidget()):
                editor.set_value(node.params.get(name))

    def _show_attributes(self, node) -> None:
        if self.label_edit.text() != node.label:
            self.label_edit.setText(node.label)
        self.frozen_check.blockSignals(True)
        self.frozen_check.setChecked(node.frozen)
        self.frozen_check.blockSignals(False)

    def _on_design_event(self, event) -> None:
        if self.node_id is None or event.node_id != self.node_id or self._body is None:
            return
        if self._out_of_sight():
            return
        node = self.document.design.nodes.get(self.node_id)
        if node is None:
            return
        if event.kind == "params_changed":  # undo, redo, or another view: show the new values
            self._show_params(node)
        elif event.kind == "node_changed":
            self._show_attributes(node)

    def _on_report(self, report) -> None:
        if self.report_label is None or self._out_of_sight():
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


def _help_paragraph(text: str) -> str:
    """One paragraph of a block's help; a course-notes slip's title in bold so it stands out."""
    head, sep, rest = text.partition(": ")
    if text.startswith("Course-notes slip") and sep:
        return f"<p><b>{escape(head)}:</b> {escape(rest)}</p>"
    return f"<p>{escape(text)}</p>"


def _problem_line(errors: int, warnings: int) -> str:
    return f"{errors} error{'s' * (errors != 1)}, {warnings} warning{'s' * (warnings != 1)}"


NEED_SLACK = 16  # px: how far the rows' measured need may be from the form's own


class AnalysisRows(QWidget):
    """The analysis of the selected node as rows of plain labels. An edit re-analyses on every
    keystroke: only the values that changed are set, and they change nothing else. A label
    whose text changes asks its parent's layout to run again, and a layout that runs asks its
    own parent's: the request climbed to the inspector's whole form (its word-wrapped help
    measured again) and the form was repainted, on every edit. So the rows' form layout is
    switched off and placed by hand when the rows are resized (the same geometry: it is the
    form that computes it); the inspector's layout hears of the rows only when a value no
    longer fits their width, or stops overflowing it."""

    def __init__(self, names, parent=None):
        super().__init__(parent)
        self.form = QFormLayout(self)
        self.form.setContentsMargins(0, 0, 0, 0)
        self.form.setVerticalSpacing(2)
        # Values span the column whatever their text (Fusion's default, said here because the
        # rows are placed only when resized: a value sized to its text would need placing anew)
        self.form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.values: dict[str, QLabel] = {}
        for name in names:
            value = QLabel()
            value.setTextFormat(Qt.TextFormat.PlainText)
            value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            if name in ("input", "output"):
                font = value.font()
                font.setBold(True)
                value.setFont(font)
            self.form.addRow(name, value)
            self.values[name] = value
        self.form.setEnabled(False)  # placed in resizeEvent, not on every label's request
        self._needed = 0  # the width the rows' texts needed at the last update
        self._names_width = 0  # the name column and the gap after it, once measured

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().resizeEvent(event)
        self.form.setGeometry(self.rect())

    def show_values(self, values: dict[str, str]) -> None:
        changed = False
        for name, text in values.items():
            label = self.values[name]
            if label.text() != text:
                label.setText(text)
                changed = True
        if not changed or not self.isVisible():  # (not yet shown: it is laid out with these values)
            return
        # Measured with the font, not asked of the form: its size hints lay out every label's
        # text document again (a sixth of an edit's cost at 500 nodes).
        if not self._names_width:
            names = [self.form.itemAt(row, QFormLayout.ItemRole.LabelRole).widget() for row in range(self.form.rowCount())]
            self._names_width = max(label.sizeHint().width() for label in names) + max(self.form.horizontalSpacing(), 6)
        widest = max(label.fontMetrics().horizontalAdvance(label.text()) for label in self.values.values())
        needed, before = self._names_width + widest, self._needed
        self._needed = needed
        # The rows' width is the inspector's unless what they need is more (then the inspector
        # scrolls sideways): the layout is told when the need changes and either need, give or
        # take a few pixels of measuring, reaches the width.
        if needed != before and max(needed, before) + NEED_SLACK >= self.width():
            self.updateGeometry()

    def text(self) -> str:
        return "\n".join(f"{name}: {label.text()}" for name, label in self.values.items())
