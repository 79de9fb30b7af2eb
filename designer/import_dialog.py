"""File ▸ Import…: open a bundle (design + weights) to continue training or fine-tune, or turn
a torchvision model or any ``nn.Module`` torch.fx can trace into an editable design.

The import (engine.export.load_bundle / import_module) runs in a background thread; the dialog
shows the import report, and "Open as new document" replaces the document (asking about unsaved
changes first, like File ▸ Open). The imported weights go to the training controller: File ▸
Export… uses them, and the next run starts from them.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QDialogButtonBox,
    QFileDialog,
    QGridLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QRadioButton,
    QSpinBox,
    QVBoxLayout,
)

from .task_dialog import TaskDialog

TORCHVISION_MODELS = ("resnet18", "resnet34", "resnet50", "vgg11", "vgg16", "alexnet", "mobilenet_v2",
                      "squeezenet1_0", "densenet121", "googlenet", "efficientnet_b0", "regnet_x_400mf")


@dataclass
class ImportOutcome:
    design: object
    state: dict | None  # weights that fit the design, or None (opaque layers)
    report: str
    complete: bool
    source: str


def parse_shape(text: str) -> tuple[int, ...]:
    shape = tuple(int(s) for s in text.replace("x", ",").replace("×", ",").split(",") if s.strip())
    if not shape or any(s <= 0 for s in shape):
        raise ValueError(f"input shape {text!r}: give positive sizes without the batch axis, e.g. 3,224,224")
    return shape


def build_module(source: str, num_classes: int | None = None):
    """``torchvision:NAME`` or ``python:package.module:factory`` → an nn.Module in eval mode.
    A python factory is imported and run: it is the user's own code."""
    import importlib
    kind, _, rest = source.partition(":")
    kwargs = {"num_classes": num_classes} if num_classes else {}
    if kind == "torchvision":
        import torchvision
        if rest in ("googlenet", "inception_v3"):
            kwargs.update(aux_logits=False, init_weights=False)  # the auxiliary heads are training-only
        return torchvision.models.get_model(rest, weights=None, **kwargs).eval()
    if kind == "python":
        module_name, _, factory = rest.partition(":")
        if not module_name or not factory:
            raise ValueError("write the factory as package.module:function")
        return getattr(importlib.import_module(module_name), factory)(**kwargs).eval()
    raise ValueError(f"unknown source {source!r}")


def import_job(kind: str, source: str, input_shape: tuple[int, ...] | None = None, num_classes: int | None = None):
    """The function the background thread runs: ``kind`` is bundle, torchvision or python."""
    def job(progress):
        from engine.export import import_module, load_bundle
        if kind == "bundle":
            progress(0.1, "reading the bundle")
            design, state = load_bundle(source)
            report = (f"bundle {Path(source).name}: {len(design.nodes)} nodes, weights for {len(state)} tensors "
                      "(checked against the design)")
            return ImportOutcome(design, state, report, True, source)
        spec = f"{kind}:{source}"
        progress(0.1, f"building {spec}")
        module = build_module(spec, num_classes)
        progress(0.4, "tracing it with torch.fx")
        design, report = import_module(module, input_shape, source.split(":")[-1].split(".")[-1])
        state = None
        if report.complete:
            from engine.export.importer import transfer_weights
            progress(0.8, "copying the weights")
            state = transfer_weights(module, design, report)
        return ImportOutcome(design, state, report.text(), report.complete, spec)
    return job


class ImportDialog(TaskDialog):
    imported = Signal(object)  # ImportOutcome

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setWindowTitle("Import")
        self.setObjectName("ImportDialog")
        self.outcome: ImportOutcome | None = None
        self.kind_group = QButtonGroup(self)
        self.kinds = {kind: QRadioButton(text) for kind, text in (
            ("bundle", "Bundle or weights file (design + weights: continue training, fine-tune)"),
            ("torchvision", "torchvision model"),
            ("python", "Your nn.Module factory (imports and runs your code)"))}
        for button in self.kinds.values():
            self.kind_group.addButton(button)
        self.bundle_path = QLineEdit()
        self.bundle_path.setPlaceholderText("a bundle or run folder, or a .safetensors / .pt file")
        browse_file = QPushButton("File…")
        browse_file.clicked.connect(self._browse_file)
        browse_folder = QPushButton("Folder…")
        browse_folder.clicked.connect(self._browse_folder)
        self.torchvision_name = QComboBox()
        self.torchvision_name.setEditable(True)
        self.torchvision_name.addItems(TORCHVISION_MODELS)
        self.factory = QLineEdit()
        self.factory.setPlaceholderText("package.module:make_model")
        self.input_shape = QLineEdit("3,224,224")
        self.num_classes = QSpinBox()
        self.num_classes.setRange(0, 100000)
        self.num_classes.setSpecialValueText("the model's own")
        grid = QGridLayout()
        grid.addWidget(self.kinds["bundle"], 0, 0, 1, 4)
        grid.addWidget(self.bundle_path, 1, 1, 1, 1)
        grid.addWidget(browse_file, 1, 2)
        grid.addWidget(browse_folder, 1, 3)
        grid.addWidget(self.kinds["torchvision"], 2, 0, 1, 4)
        grid.addWidget(self.torchvision_name, 3, 1, 1, 3)
        grid.addWidget(self.kinds["python"], 4, 0, 1, 4)
        grid.addWidget(self.factory, 5, 1, 1, 3)
        grid.addWidget(QLabel("Input shape (no batch)"), 6, 0, 1, 1)
        grid.addWidget(self.input_shape, 6, 1, 1, 3)
        grid.addWidget(QLabel("Classes"), 7, 0, 1, 1)
        grid.addWidget(self.num_classes, 7, 1, 1, 3)
        grid.setColumnMinimumWidth(0, 24)
        grid.setColumnStretch(1, 1)
        self.report = QPlainTextEdit()
        self.report.setReadOnly(True)
        self.report.setPlaceholderText("The import report appears here.")
        self.buttons = QDialogButtonBox()
        self.import_button = self.buttons.addButton("Import", QDialogButtonBox.ButtonRole.ActionRole)
        self.open_button = self.buttons.addButton("Open as new document", QDialogButtonBox.ButtonRole.AcceptRole)
        self.close_button = self.buttons.addButton(QDialogButtonBox.StandardButton.Close)
        self.open_button.setEnabled(False)
        self.import_button.clicked.connect(self.start)
        self.open_button.clicked.connect(self.accept)
        self.close_button.clicked.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(grid)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        layout.addWidget(self.report, 1)
        layout.addWidget(self.buttons)
        for button in self.kinds.values():
            button.toggled.connect(lambda _on: self._enable_fields())
        self.kinds["bundle"].setChecked(True)
        self.resize(640, 480)

    def _enable_fields(self) -> None:
        """Only the chosen source's fields are editable; shape and classes are for modules."""
        kind = self.kind
        self.bundle_path.setEnabled(kind == "bundle")
        self.torchvision_name.setEnabled(kind == "torchvision")
        self.factory.setEnabled(kind == "python")
        self.input_shape.setEnabled(kind != "bundle")
        self.num_classes.setEnabled(kind != "bundle")

    @property
    def kind(self) -> str:
        return next((k for k, b in self.kinds.items() if b.isChecked()), "bundle")

    def _browse_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Import weights", "", "Weights (*.safetensors *.pt);;All files (*)")
        if path:
            self.bundle_path.setText(path)
            self.kinds["bundle"].setChecked(True)

    def _browse_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Import a bundle or run folder")
        if path:
            self.bundle_path.setText(path)
            self.kinds["bundle"].setChecked(True)

    def start(self) -> None:
        if self.is_busy():
            return
        kind = self.kind
        try:
            source = {"bundle": self.bundle_path.text(), "torchvision": self.torchvision_name.currentText(),
                      "python": self.factory.text()}[kind].strip()
            if not source:
                raise ValueError("say what to import first")
            shape = parse_shape(self.input_shape.text()) if kind != "bundle" else None
        except ValueError as exc:
            self._on_failed(str(exc))
            return
        self.outcome = None
        self.open_button.setEnabled(False)
        self.import_button.setEnabled(False)
        self.close_button.setEnabled(False)
        self.report.clear()
        self.run_task(import_job(kind, source, shape, self.num_classes.value() or None), "import", "Importing…")

    def _on_done(self, outcome: ImportOutcome) -> None:
        self.outcome = outcome
        self.import_button.setEnabled(True)
        self.close_button.setEnabled(True)
        self.open_button.setEnabled(True)
        self.progress.setValue(100)
        weights = ("with its weights" if outcome.state is not None else
                   "without weights: replace the opaque layers first")
        self.status.setStyleSheet("color: #1e8449" if outcome.complete else "color: #b9770e")
        self.status.setText(f"{'✓ imported completely' if outcome.complete else '⚠ imported with opaque layers'}: "
                            f"{len(outcome.design.nodes)} nodes, {weights}.")
        self.report.setPlainText(outcome.report)
        self.imported.emit(outcome)

    def _on_failed(self, message: str) -> None:
        self.import_button.setEnabled(True)
        self.close_button.setEnabled(True)
        self.show_failure(f"Cannot import: {message}")


def adopt_import(window, outcome: ImportOutcome) -> bool:
    """Open the imported design as the window's document (asking about unsaved changes first);
    its weights go to the training controller. Returns False if the user kept the old document."""
    if not window.files.maybe_discard():
        return False
    design = outcome.design
    if outcome.source.startswith(("torchvision:", "python:")):
        from .file_actions import lay_out
        lay_out(design)  # the importer lays out left to right; the canvas flows downward
    window.document.replace_design(design)
    controller = getattr(window, "training", None)
    if controller is not None and hasattr(controller, "adopt_weights"):
        controller.adopt_weights(design, outcome.state, outcome.source)
    window.statusBar().showMessage(f"Imported {outcome.source}: " + outcome.report.splitlines()[0], 10000)
    return True


def open_import_dialog(window) -> ImportDialog:
    previous = getattr(window, "import_dialog", None)
    if previous is not None and previous.is_busy():
        previous.raise_()
        return previous
    if previous is not None:
        previous.deleteLater()
    dialog = ImportDialog(window)
    dialog.setWindowModality(Qt.WindowModality.WindowModal)
    dialog.accepted.connect(lambda: dialog.outcome is not None and adopt_import(window, dialog.outcome))
    window.import_dialog = dialog
    dialog.show()
    return dialog


__all__ = ["ImportDialog", "ImportOutcome", "adopt_import", "build_module", "import_job", "open_import_dialog",
           "parse_shape"]
