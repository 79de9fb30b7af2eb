"""The template gallery: every classic network with its description and parameter count,
for the input shape and class count the user chooses (counted by the engine, live)."""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from engine import analyze
from engine.summary import human

NAME_ROLE = Qt.ItemDataRole.UserRole


def template_module():
    from engine import templates
    return templates


def template_year(info) -> str:
    """The template's year, or "" when its title already says it ("LeNet-5 (1998)")."""
    return "" if not info.year or str(info.year) in info.title else str(info.year)


def template_title(info) -> str:
    """The name shown in lists: the title with the year once ("VGG-16 · 2014", "LeNet-5 (1998)")."""
    year = template_year(info)
    return f"{info.title} · {year}" if year else info.title


class TemplateGallery(QDialog):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.setWindowTitle("New from template")
        self.resize(760, 460)
        templates = template_module()
        self.templates = templates
        self.list = QListWidget()
        self.list.setMinimumWidth(260)
        for info in templates.catalog():
            item = QListWidgetItem(template_title(info))
            item.setData(NAME_ROLE, info.name)
            ref = f"{info.reference_params:,} parameters at {'×'.join(map(str, info.default_input))}" \
                if info.reference_params else ""
            item.setToolTip(f"{info.description}\n{ref}".strip())
            self.list.addItem(item)
        self.title = QLabel()
        self.title.setStyleSheet("font-size: 14pt; font-weight: bold;")
        self.description = QLabel(wordWrap=True)
        self.count = QLabel()
        self.count.setStyleSheet("font-size: 11pt;")
        self.channels, self.height_, self.width_ = (QSpinBox(), QSpinBox(), QSpinBox())
        for spin, high in ((self.channels, 64), (self.height_, 4096), (self.width_, 4096)):
            spin.setRange(1, high)
        self.classes = QSpinBox()
        self.classes.setRange(1, 1 << 20)
        shape_row = QHBoxLayout()
        for label, spin in (("C", self.channels), ("H", self.height_), ("W", self.width_)):
            shape_row.addWidget(QLabel(label))
            shape_row.addWidget(spin)
        self.options_box = QWidget()
        self.options_layout = QVBoxLayout(self.options_box)
        self.options_layout.setContentsMargins(0, 0, 0, 0)
        self.option_checks: dict[str, QCheckBox] = {}
        form = QFormLayout()
        form.addRow("Input shape", shape_row)
        form.addRow("Classes", self.classes)
        form.addRow("Options", self.options_box)
        right = QVBoxLayout()
        right.addWidget(self.title)
        right.addWidget(self.description)
        right.addLayout(form)
        right.addWidget(self.count)
        right.addStretch(1)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Create")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        right.addWidget(buttons)
        layout = QHBoxLayout(self)
        layout.addWidget(self.list)
        layout.addLayout(right, 1)
        self.list.currentItemChanged.connect(self._on_template)
        self.list.itemDoubleClicked.connect(lambda _item: self.accept())
        for spin in (self.channels, self.height_, self.width_, self.classes):
            spin.valueChanged.connect(self._update_count)
        self.list.setCurrentRow(0)

    def current_name(self) -> str | None:
        item = self.list.currentItem()
        return item.data(NAME_ROLE) if item else None

    def _on_template(self, item, _previous=None) -> None:
        if item is None:
            return
        info = self.templates.info(item.data(NAME_ROLE))
        self.title.setText(info.title)
        self.description.setText(info.description + (f"<br><i>weights: torchvision {info.torchvision}</i>"
                                                     if info.torchvision else ""))
        for spin, value in zip((self.channels, self.height_, self.width_, self.classes),
                               (*info.default_input, info.default_classes)):
            spin.blockSignals(True)
            spin.setValue(value)
            spin.blockSignals(False)
        for check in self.option_checks.values():
            check.deleteLater()
        self.option_checks = {}
        for name, (default, help_text) in info.options.items():
            check = QCheckBox(name.replace("_", " "))
            check.setChecked(bool(default))
            check.setToolTip(help_text)
            check.toggled.connect(self._update_count)
            self.options_layout.addWidget(check)
            self.option_checks[name] = check
        self._update_count()

    def choice(self):
        name = self.current_name()
        if name is None:
            return None
        shape = (self.channels.value(), self.height_.value(), self.width_.value())
        options = {k: c.isChecked() for k, c in self.option_checks.items()}
        return name, shape, self.classes.value(), options

    def _update_count(self, *_args) -> None:
        name, shape, classes, options = self.choice()
        try:
            design = self.templates.build(name, input_shape=shape, num_classes=classes, **options)
        except ValueError as e:
            self.count.setText(f"<span style='color:#d93025'>{e}</span>")
            return
        report = analyze(design)
        self.count.setText(f"<b>{report.total_params:,}</b> parameters · {human(report.macs)} MACs per image · "
                           f"{len(design.nodes)} blocks")
