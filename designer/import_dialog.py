"""File ▸ Import…: open a bundle (design + weights) to continue training or fine-tune, or turn
a torchvision model or any ``nn.Module`` torch.fx can trace into an editable design, with random
(untrained) weights or pretrained ones (torchvision's file from the torch hub cache, or a file
the user picks; engine.importing.sources loads them and says which it was).

The import (engine.export.load_bundle / engine.importing.sources.import_source) runs in a
background thread; the dialog shows the import report, and "Open as new document" replaces the
document (asking about unsaved changes first, like File ▸ Open). The imported weights go to the training controller: File ▸
Export… uses them, and the next run starts from them.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QDialogButtonBox,
    QFileDialog,
    QGridLayout,
    QHBoxLayout,
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
    weights_origin: str = ""  # random or pretrained (modules); empty for a bundle, whose weights are its own


def parse_shape(text: str) -> tuple[int, ...]:
    shape = tuple(int(s) for s in text.replace("x", ",").replace("×", ",").split(",") if s.strip())
    if not shape or any(s <= 0 for s in shape):
        raise ValueError(f"input shape {text!r}: give positive sizes without the batch axis, e.g. 3,224,224")
    return shape


def import_job(kind: str, source: str, input_shape: tuple[int, ...] | None = None, num_classes: int | None = None,
               pretrained: bool | str = False):
    """The function the background thread runs: ``kind`` is bundle, torchvision or python;
    ``pretrained`` is False (random weights), True (torchvision's file in the torch hub cache)
    or the path of a weights file."""
    def job(progress):
        from engine.export import load_bundle
        if kind == "bundle":
            progress(0.1, "reading the bundle")
            design, state = load_bundle(source)
            report = (f"bundle {Path(source).name}: {len(design.nodes)} nodes, weights for {len(state)} tensors "
                      "(checked against the design)")
            return ImportOutcome(design, state, report, True, source)
        from engine.importing import transfer_weights
        from engine.importing.sources import import_source
        spec = f"{kind}:{source}"
        progress(0.1, f"building {spec} and tracing it with torch.fx")
        module, design, report = import_source(spec, input_shape, num_classes, pretrained)
        state = None
        if report.complete:
            progress(0.8, "copying the weights")
            state = transfer_weights(module, design, report)
        return ImportOutcome(design, state, report.text(), report.complete, spec, report.weights_origin)
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
        self.pretrained = QCheckBox("Pretrained weights")
        self.pretrained.setToolTip("Start from trained weights instead of random ones. Nothing is downloaded: "
                                   "torchvision's file must be in the torch hub cache, or pick a file.")
        self.weights_file = QLineEdit()
        self.browse_weights = QPushButton("File…")
        self.browse_weights.clicked.connect(self._browse_weights)
        self.pretrained.toggled.connect(lambda _on: self._enable_fields())
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
        grid.addWidget(QLabel("Weights"), 8, 0, 1, 1)
        weights_row = QHBoxLayout()
        weights_row.addWidget(self.pretrained)
        weights_row.addWidget(self.weights_file, 1)
        grid.addLayout(weights_row, 8, 1, 1, 2)
        grid.addWidget(self.browse_weights, 8, 3)
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
        self.pretrained.setEnabled(kind != "bundle")  # a bundle carries its own weights
        chosen = kind != "bundle" and self.pretrained.isChecked()
        self.weights_file.setEnabled(chosen)
        self.browse_weights.setEnabled(chosen)
        self.weights_file.setPlaceholderText("empty: from the torch hub cache" if kind == "torchvision" else
                                             "a .pth / .pt / .safetensors file")

    def pretrained_choice(self) -> bool | str:
        """False (random weights), True (torchvision's file from the hub cache) or a file path."""
        if self.kind == "bundle" or not self.pretrained.isChecked():
            return False
        path = self.weights_file.text().strip()
        if path:
            return path
        if self.kind != "torchvision":
            raise ValueError("give the pretrained weights file of your module (the torch hub cache holds "
                             "torchvision's weights only)")
        return True

    @property
    def kind(self) -> str:
        return next((k for k, b in self.kinds.items() if b.isChecked()), "bundle")

    def _browse_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Import weights", "", "Weights (*.safetensors *.pt);;All files (*)")
        if path:
            self.bundle_path.setText(path)
            self.kinds["bundle"].setChecked(True)

    def _browse_weights(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Pretrained weights", "",
                                              "Weights (*.pth *.pt *.safetensors);;All files (*)")
        if path:
            self.weights_file.setText(path)

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
            pretrained = self.pretrained_choice()
        except ValueError as exc:
            self._on_failed(str(exc))
            return
        self.outcome = None
        self.open_button.setEnabled(False)
        self.import_button.setEnabled(False)
        self.close_button.setEnabled(False)
        self.report.clear()
        self.run_task(import_job(kind, source, shape, self.num_classes.value() or None, pretrained), "import",
                      "Importing…")

    def _on_done(self, outcome: ImportOutcome) -> None:
        self.outcome = outcome
        self.import_button.setEnabled(True)
        self.close_button.setEnabled(True)
        self.open_button.setEnabled(True)
        self.progress.setValue(100)
        if outcome.state is None:
            weights = "without weights: replace the opaque layers first"
        elif outcome.weights_origin:
            weights = f"with {outcome.weights_origin.partition(';')[0]}"
        else:
            weights = "with its weights"
        self.status.setStyleSheet("color: #1e8449" if outcome.complete else "color: #b9770e")
        self.status.setText(f"{'✓ imported completely' if outcome.complete else '⚠ imported with opaque layers'}: "
                            f"{len(outcome.design.nodes)} nodes, {weights}.")
        self.report.setPlainText(outcome.report)
        self._fit_status()
        self.imported.emit(outcome)

    def _on_failed(self, message: str) -> None:
        self.import_button.setEnabled(True)
        self.close_button.setEnabled(True)
        self.show_failure(f"Cannot import: {message}")
        self._fit_status()

    def _fit_status(self) -> None:
        """Room for every line of a wrapped status (paths make it long); the report gives way."""
        width = self.status.width() if self.status.isVisible() else self.width() - 24
        self.status.setMinimumHeight(self.status.heightForWidth(max(width, 200)))


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
        # The controller says "the weights imported from <source>": the source says what they are.
        origin = outcome.weights_origin.partition(";")[0]
        controller.adopt_weights(design, outcome.state, f"{outcome.source} ({origin})" if origin else outcome.source)
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


__all__ = ["ImportDialog", "ImportOutcome", "adopt_import", "import_job", "open_import_dialog", "parse_shape"]
