"""The Export dialog: write a design with its weights as a bundle, a ``.pt``, one PyTorch file,
ONNX, a ``torch.export`` program or a training script, verified by reloading what was written.

The export (engine.export.export) runs in a background thread with a progress bar; the
dialog then shows the verified max difference and the written files. Opened from the training
panel's "Export…" (that run's model) and from File ▸ Export… (the current design, with the
latest run's weights when they fit it, else freshly initialised weights — the dialog says which).
"""
from __future__ import annotations

import importlib.util
import json
import re
from dataclasses import dataclass, field
from html import escape
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QDialogButtonBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QRadioButton,
    QVBoxLayout,
)

from .task_dialog import TaskDialog

# format → (label, what it is, file suffix or "" for a folder)
FORMAT_INFO = {
    "bundle": ("Bundle (safetensors)", "design.json + weights.safetensors; loads without running code", ""),
    "pt": ("PyTorch state_dict (.pt)", "tensors only; loads with torch.load(weights_only=True)", ".pt"),
    "python": ("Python code (.py)", "one standalone nn.Module file depending only on torch, + its weights", ".py"),
    "onnx": ("ONNX (.onnx)", "dynamic batch axis, checked in onnxruntime", ".onnx"),
    "pt2": ("torch.export program (.pt2)", "for deployment; torch.export.load(path).module()", ".pt2"),
    "script": ("Training script (torchrun)", "train.py + design + data config; runs on one machine or many", ""),
}
BAKE_FORMATS = ("python", "onnx", "pt2")  # engine.export.BAKE_FORMATS (a test checks); no torch import here
ONNX_PACKAGES = ("onnx", "onnxscript", "onnxruntime")
ONNX_HINT = "pip install onnx onnxscript onnxruntime   (or pip install '.[onnx]')"


def missing_onnx_packages() -> list[str]:
    return [name for name in ONNX_PACKAGES if importlib.util.find_spec(name) is None]


@dataclass
class ExportSource:
    """What to export: a design and its weights (None = freshly initialised), with a sentence
    saying where the weights come from, and what the training-script format needs."""
    design: object
    state: dict | None
    weights_note: str
    data: dict | None = None
    train_config: dict | None = None
    folder: Path | None = None  # where the output goes by default
    notes: list[str] = field(default_factory=list)

    @classmethod
    def from_run(cls, design, state: dict | None, run_dir) -> "ExportSource":
        run_dir = Path(run_dir) if run_dir else None
        data, config = _read_json(run_dir, "data.json"), _read_json(run_dir, "config.json")
        note = (f"the trained weights of run {run_dir.name}" if state is not None and run_dir else
                "freshly initialised weights (the run left no weights)")
        return cls(design, state, note, data, config, run_dir.parent if run_dir else None)


def _read_json(folder: Path | None, name: str) -> dict | None:
    if folder is None or not (folder / name).is_file():
        return None
    try:
        value = json.loads((folder / name).read_text())
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def _has_normalisation(source: ExportSource) -> bool:
    data, config = source.data or {}, source.train_config or {}
    return bool(data.get("mean")) and bool(data.get("std")) and config.get("normalize", True) is not False


def _export_job(source: ExportSource, fmt: str, out: str, bake: bool = False):
    """The function the background thread runs (no Qt in here)."""
    def job(progress):
        from engine.compile import compile_design
        from engine.export import export, untrained_note
        state = source.state
        if state is None:
            import torch
            progress(0.0, "initialising weights")
            with torch.random.fork_rng():  # seeded, without disturbing a run's random stream
                torch.manual_seed(0)
                state = compile_design(source.design).state_dict()
        origin = None if source.state is not None else untrained_note(0)
        return export(source.design, state, fmt, out, progress=progress, data=source.data,
                      train_config=source.train_config, weights_origin=origin, bake_normalisation=bake)
    return job


class ExportDialog(TaskDialog):
    exported = Signal(object)  # engine.export.ExportResult

    def __init__(self, source: ExportSource, parent=None):
        super().__init__(parent)
        self.setWindowTitle("Export")
        self.setObjectName("ExportDialog")
        self.source = source
        self.result = None
        self._path_edited = False
        self._unavailable: set[str] = set()  # formats whose optional packages are missing
        name = re.sub(r"[^\w.-]+", "_", getattr(source.design, "name", "") or "model").strip("_") or "model"
        self._stem = str(Path(source.folder or Path.home()) / name)

        self.weights_label = QLabel(f"Exports <b>{escape(getattr(source.design, 'name', 'the design'))}</b> with "
                                    f"{escape(source.weights_note)}.")
        self.weights_label.setWordWrap(True)
        self.format_buttons: dict[str, QRadioButton] = {}
        self.format_group = QButtonGroup(self)
        formats = QVBoxLayout()
        missing = missing_onnx_packages()
        for fmt, (label, what, _suffix) in FORMAT_INFO.items():
            button = QRadioButton(f"{label} — {what}")
            button.setObjectName(f"format_{fmt}")
            self.format_group.addButton(button)
            self.format_buttons[fmt] = button
            formats.addWidget(button)
            button.toggled.connect(lambda on, f=fmt: on and self._on_format(f))
            if fmt == "onnx" and missing:
                self._unavailable.add(fmt)
                button.setEnabled(False)
                button.setToolTip(f"needs {', '.join(missing)}: {ONNX_HINT}")
                hint = QLabel(f"ONNX needs {', '.join(missing)}: <code>{ONNX_HINT}</code>")
                hint.setObjectName("onnx_hint")
                hint.setWordWrap(True)
                hint.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
                formats.addWidget(hint)
        self.bake = QCheckBox("Put the input normalisation inside the model (it then takes raw [0, 1] input)")
        self.bake.setObjectName("bake_normalisation")
        self.bake.setToolTip("Python, ONNX and .pt2 exports. Without it, normalise the input as the export's "
                             "README and metadata say (the Python file has a preprocess function).")
        self.path = QLineEdit()
        self.path.textEdited.connect(self._on_path_edited)
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        path_row = QHBoxLayout()
        path_row.addWidget(QLabel("Write to"))
        path_row.addWidget(self.path, 1)
        path_row.addWidget(browse)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.buttons = QDialogButtonBox()
        self.export_button = self.buttons.addButton("Export", QDialogButtonBox.ButtonRole.AcceptRole)
        self.close_button = self.buttons.addButton(QDialogButtonBox.StandardButton.Close)
        self.export_button.clicked.connect(self.start)
        self.close_button.clicked.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.weights_label)
        layout.addLayout(formats)
        layout.addWidget(self.bake)
        layout.addLayout(path_row)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        layout.addWidget(self.buttons)
        self.format_buttons["bundle"].setChecked(True)
        self.resize(620, 420)

    # -- choices ---------------------------------------------------------------------------
    @property
    def format(self) -> str:
        return next(f for f, b in self.format_buttons.items() if b.isChecked())

    def set_format(self, fmt: str) -> None:
        self.format_buttons[fmt].setChecked(True)

    def set_path(self, path: str) -> None:
        self.path.setText(str(path))
        self._path_edited = True

    def _on_format(self, fmt: str) -> None:
        self._update_bake(fmt)
        if not self._path_edited:  # follow the format until the user typed a path
            suffix = FORMAT_INFO[fmt][2]
            self.path.setText(self._stem + (suffix or ("_train" if fmt == "script" else "_bundle")))

    def _update_bake(self, fmt: str) -> None:
        """The normalisation can go inside Python, ONNX and .pt2 models, when there is one."""
        known = _has_normalisation(self.source)
        self.bake.setEnabled(fmt in BAKE_FORMATS and known and not self.is_busy())
        if not self.bake.isEnabled():
            self.bake.setChecked(False)
        self.bake.setToolTip(
            "no normalisation is known for these weights (untrained, or no dataset)" if not known else
            "only Python, ONNX and .pt2 models can take it inside" if fmt not in BAKE_FORMATS else
            "the exported model then takes raw [0, 1] input; without it, normalise as the README says "
            "(the Python file has a preprocess function)")

    def _on_path_edited(self, _text: str) -> None:
        self._path_edited = True

    def _browse(self) -> None:
        fmt = self.format
        if FORMAT_INFO[fmt][2]:
            path, _ = QFileDialog.getSaveFileName(self, "Export to", self.path.text(), f"*{FORMAT_INFO[fmt][2]}")
        else:
            path = QFileDialog.getExistingDirectory(self, "Export into a folder", str(Path(self.path.text()).parent))
        if path:
            self.set_path(path)

    # -- the export ------------------------------------------------------------------------
    def start(self) -> None:
        if self.is_busy():
            return
        out = self.path.text().strip()
        if not out:
            self.status.setText("Choose where to write the export.")
            return
        self.result = None
        self._set_busy(True)
        self.run_task(_export_job(self.source, self.format, out, self.bake.isChecked()), "export", "Exporting…")

    def _set_busy(self, busy: bool) -> None:
        self.export_button.setEnabled(not busy)
        self.close_button.setEnabled(not busy)
        for fmt, button in self.format_buttons.items():
            button.setEnabled(not busy and fmt not in self._unavailable)
        self.path.setEnabled(not busy)
        if busy:
            self.bake.setEnabled(False)
        else:
            self._update_bake(self.format)

    def _on_done(self, result) -> None:
        self._set_busy(False)
        self.result = result
        self.progress.setValue(100)
        mark = "✓ " if result.verified else "✗ "
        files = "".join(f"\n    {f}" for f in result.files)
        notes = "".join(f"\n{n}" for n in result.notes)
        dark = self.palette().window().color().lightness() < 128  # the light theme's green is too dim on dark
        self.status.setStyleSheet(f"color: {'#58d68d' if dark else '#1e8449'}" if result.verified
                                  else f"color: {'#f1948a' if dark else '#c0392b'}")
        # plain text (paths and names); the engine's sentence: both differences and the tolerances
        # used, as the command line prints them
        self.status.setText(f"{mark}{result.verification()}\nWrote:{files}{notes}")
        # grow to show the whole report (its last line says how to feed the model)
        self.resize(self.width(), max(self.height(), self.sizeHint().height()))
        self.exported.emit(result)

    def _on_failed(self, message: str) -> None:
        self._set_busy(False)
        self.show_failure(f"Export failed: {message}")


# -- the main window's File menu --------------------------------------------------------------

def current_design_source(window) -> ExportSource:
    """File ▸ Export…: the current design, with the latest run's weights if they fit it."""
    design = window.document.design.copy()
    controller = getattr(window, "training", None)
    state = getattr(controller, "trained_state", None) if controller is not None else None
    data = config = None
    note = "freshly initialised weights (no training run yet)"
    if controller is not None and controller.bundle is not None:
        data = controller.describe_data(design.input_shape)  # as a run would resize it
    if state is not None:
        from engine.errors import EngineError
        from engine.export import check_state_dict
        try:
            check_state_dict(design, state)
            run_dir = Path(controller.session.run_dir) if controller.session and controller.session.run_dir else None
            note = f"the weights of the latest run{f' ({run_dir.name})' if run_dir else ''}"
            data = _read_json(run_dir, "data.json") or data
            config = _read_json(run_dir, "config.json")
        except EngineError:
            state = None
            note = "freshly initialised weights (the latest run's weights no longer fit the edited design)"
    folder = Path(window.document.path).parent if window.document.path else None
    return ExportSource(design, state, note, data, config, folder)


def open_export_dialog(parent, source: ExportSource) -> ExportDialog:
    """Shows the dialog window-modal without blocking (tests drive it as ``parent.export_dialog``)."""
    previous = getattr(parent, "export_dialog", None)
    if previous is not None and previous.is_busy():
        previous.raise_()
        return previous
    if previous is not None:
        previous.deleteLater()
    dialog = ExportDialog(source, parent)
    dialog.setWindowModality(Qt.WindowModality.WindowModal)
    parent.export_dialog = dialog
    dialog.show()
    return dialog


def install_export_actions(window) -> None:
    """File ▸ Export… and File ▸ Import…, placed before Quit (one call from the main window)."""
    from .import_dialog import open_import_dialog
    menu = window.menus["File"]
    before = window.actions_by_name.get("quit")
    entries = (("export", "&Export…", "Ctrl+Shift+E", "export the design with its weights (bundle, .pt, Python, "
                "ONNX, .pt2, training script)", lambda: open_export_dialog(window, current_design_source(window))),
               ("import", "&Import…", "Ctrl+Shift+I", "open a bundle (design + weights) or import a torchvision "
                "model or a traceable nn.Module", lambda: open_import_dialog(window)))
    for name, text, shortcut, tip, slot in entries:
        action = QAction(text, window)
        action.setShortcut(shortcut)
        action.setStatusTip(tip)
        action.triggered.connect(lambda _checked=False, s=slot: s())
        menu.insertAction(before, action) if before is not None else menu.addAction(action)
        window.addAction(action)
        window.actions_by_name[name] = action
    if before is not None:
        menu.insertSeparator(before)


__all__ = ["ExportDialog", "ExportSource", "FORMAT_INFO", "current_design_source", "install_export_actions",
           "missing_onnx_packages", "open_export_dialog"]
