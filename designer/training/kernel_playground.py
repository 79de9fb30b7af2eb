"""The convolution and pooling lesson in one panel: an input (a sample image, or a matrix the
student types, up to 16×16), a kernel (classic or typed) or a pooling window (max, average, L2),
stride and padding; the output with its numbers in the cells when it is small, and the
output-size formula with the numbers plugged in. The course notes' exercises are presets.
All arithmetic is the engine's (engine.kernels). The first output is computed when the panel is
first shown or given an image, not at start-up."""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from designer.deferred import np
from engine import kernels

from .images import DIVERGING, GREY, ImagePane

CUSTOM = "custom (typed)"
NO_PRESET = "— a course-notes exercise —"
SAMPLE = "sample image"
TYPED = "typed matrix"
CONVOLUTION = "convolution"
OPERATIONS = {CONVOLUTION: "conv", **{label: kind for kind, label in kernels.POOLS.items()}}
NUMBERS_UP_TO = kernels.MAX_INPUT  # matrices this small show their values in the cells


def default_image(size: int = 28) -> np.ndarray:
    """A picture with edges in every direction (a square and a disc) until a dataset is chosen."""
    yy, xx = np.mgrid[:size, :size]
    img = np.zeros((size, size), dtype=np.float32)
    img[size // 6:size // 2, size // 6:size // 2] = 1.0
    img[(yy - 2 * size // 3) ** 2 + (xx - 2 * size // 3) ** 2 < (size // 5) ** 2] = 0.6
    return img


def _text_box(tip: str) -> QPlainTextEdit:
    box = QPlainTextEdit()
    box.setMaximumHeight(96)
    box.setToolTip(tip)
    box.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
    return box


def _wrapped_label(style: str = "") -> QLabel:
    label = QLabel()
    label.setWordWrap(True)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    if style:
        label.setStyleSheet(style)
    return label


def _set_text(label: QLabel, text: str) -> None:
    """A message label takes room only while it has something to say."""
    label.setText(text)
    label.setVisible(bool(text))


class KernelPlayground(QWidget):
    def __init__(self, parent=None):
        super().__init__(parent)
        self._image = None  # default_image() until a dataset gives one
        self._live = False  # computes once shown or given an image
        self.last_output = None
        self.preset_choice = QComboBox()
        self.preset_choice.addItems([NO_PRESET, *kernels.PRESETS])
        self.preset_choice.setToolTip("The worked exercises of the course notes: input, kernel or window, stride "
                                      "and padding set for you; change anything afterwards")
        # Long exercise names must not widen the Training views dock: the combo box elides them.
        self.preset_choice.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.preset_choice.setMinimumContentsLength(18)
        self.operation = QComboBox()
        self.operation.addItems(list(OPERATIONS))
        self.input_choice = QComboBox()
        self.input_choice.addItems([SAMPLE, TYPED])
        self.input_choice.setToolTip("A sample of the chosen dataset, or a matrix you type (at most 16×16)")
        self.input_text = _text_box("The input matrix: rows on separate lines or separated by ';', numbers by "
                                    "spaces or commas; at most 16×16")
        self.input_text.setPlaceholderText("1 1 2 4\n5 6 7 8\n3 2 1 0\n1 2 3 4")
        self.kernel_choice = QComboBox()
        self.kernel_choice.addItems(list(kernels.CLASSIC_KERNELS) + [CUSTOM])
        self.kernel_text = _text_box("Rows on separate lines or separated by ';', e.g. 0 -1 0; -1 5 -1; 0 -1 0. "
                                     "Fractions like 1/9 work.")
        self.window = QSpinBox()
        self.window.setRange(1, 8)
        self.window.setValue(2)
        self.window.setToolTip("The pooling window is window × window")
        self.stride = QSpinBox()
        self.stride.setRange(1, 8)
        self.padding = QSpinBox()
        self.padding.setRange(0, 8)
        self.shape_label = _wrapped_label()
        self.note_label = _wrapped_label("color: #5f6b7a")
        self.error_label = _wrapped_label("color: #c0392b")
        self.note_label.hide()
        self.error_label.hide()

        grid = QGridLayout()
        grid.addWidget(QLabel("Exercise"), 0, 0)
        grid.addWidget(self.preset_choice, 0, 1, 1, 3)
        grid.addWidget(QLabel("Operation"), 1, 0)
        grid.addWidget(self.operation, 1, 1)
        self.window_label = QLabel("Window")
        numbers = QHBoxLayout()
        for text, spin in ((None, self.window), ("Stride", self.stride), ("Padding", self.padding)):
            if text:
                numbers.addWidget(QLabel(text))
            numbers.addWidget(spin)
        numbers.insertWidget(0, self.window_label)
        numbers.addStretch(1)
        grid.addLayout(numbers, 1, 2, 1, 2)
        grid.addWidget(QLabel("Input"), 2, 0)
        grid.addWidget(self.input_choice, 2, 1)
        self.kernel_label = QLabel("Kernel")
        grid.addWidget(self.kernel_label, 2, 2)
        grid.addWidget(self.kernel_choice, 2, 3)
        grid.addWidget(self.input_text, 3, 0, 1, 2)
        grid.addWidget(self.kernel_text, 3, 2, 1, 2)
        grid.setColumnStretch(1, 1)
        grid.setColumnStretch(3, 1)
        self.input_view = ImagePane("input", colormap=GREY)
        self.input_view.setToolTip("Click a cell of a typed matrix to paint it: 0 becomes 1, anything else 0")
        self.input_view.cell_clicked.connect(self.paint_cell)
        self.output_view = ImagePane("output", colormap=DIVERGING)
        pictures = QHBoxLayout()
        pictures.addWidget(self.input_view)
        pictures.addWidget(self.output_view)
        layout = QVBoxLayout(self)
        layout.addLayout(grid)
        layout.addWidget(self.shape_label)
        layout.addWidget(self.note_label)
        layout.addWidget(self.error_label)
        layout.addLayout(pictures, 1)

        self.preset_choice.currentTextChanged.connect(self._on_preset_chosen)
        self.operation.currentTextChanged.connect(self._on_operation_chosen)
        self.input_choice.currentTextChanged.connect(lambda _t: self._on_edited())
        self.input_text.textChanged.connect(self._on_input_edited)
        self.kernel_choice.currentTextChanged.connect(self._on_kernel_chosen)
        self.kernel_text.textChanged.connect(self._on_text_edited)
        for spin in (self.window, self.stride, self.padding):
            spin.valueChanged.connect(lambda _v: self._on_edited())
        self._on_operation_chosen(self.operation.currentText())
        self._on_kernel_chosen(self.kernel_choice.currentText())

    # -- inputs ------------------------------------------------------------------------------
    def set_image(self, image: np.ndarray) -> None:
        """Use a sample from the chosen dataset (C×H×W or H×W; colour images are averaged, as
        a one-filter conv layer sums over its input channels)."""
        image = np.asarray(image, dtype=np.float32)
        self._image = image.mean(axis=0) if image.ndim == 3 else image
        self._live = True
        self.update_output()

    def showEvent(self, event) -> None:  # noqa: N802 - Qt's name
        if not self._live:
            self._live = True
            self.update_output()
        super().showEvent(event)

    def kernel(self) -> np.ndarray:
        return kernels.parse_kernel(self.kernel_text.toPlainText())

    def operation_kind(self) -> str:
        """'conv', or the engine's name of the pooling ('max', 'average', 'L2')."""
        return OPERATIONS[self.operation.currentText()]

    def input_matrix(self) -> np.ndarray:
        """The typed matrix, or the sample image (raises ValueError for a bad typed matrix)."""
        if self.input_choice.currentText() == TYPED:
            return kernels.parse_input(self.input_text.toPlainText())
        if self._image is None:
            self._image = default_image()
        return self._image

    def paint_cell(self, row: int, col: int) -> None:
        """Toggle one cell of the typed matrix (0 → 1, anything else → 0): drawing a binary
        image by clicking. A sample image is not painted on (it is the dataset's)."""
        if self.input_choice.currentText() != TYPED:
            return
        try:
            x = kernels.parse_input(self.input_text.toPlainText())
        except ValueError:
            return  # the error label already says what to fix in the text
        if row < x.shape[0] and col < x.shape[1]:
            x[row, col] = 1.0 if x[row, col] == 0 else 0.0
            self.input_text.setPlainText(kernels.format_matrix(x))

    def choose_preset(self, name: str) -> None:
        self.preset_choice.setCurrentText(name)

    # -- reacting to edits ---------------------------------------------------------------------
    def _quietly(self, widget, setter, value) -> None:
        widget.blockSignals(True)
        setter(value)
        widget.blockSignals(False)

    def _on_preset_chosen(self, name: str) -> None:
        preset = kernels.PRESETS.get(name)
        if preset is None:
            _set_text(self.note_label, "")
            return
        label = next(label for label, kind in OPERATIONS.items() if kind == preset.operation)
        self._quietly(self.operation, self.operation.setCurrentText, label)
        self._show_operation_controls()
        self._quietly(self.input_choice, self.input_choice.setCurrentText, TYPED)
        self._quietly(self.input_text, self.input_text.setPlainText, kernels.format_matrix(preset.input))
        if preset.kernel:
            self._quietly(self.kernel_text, self.kernel_text.setPlainText, kernels.format_matrix(preset.kernel))
            classic = next((n for n, k in kernels.CLASSIC_KERNELS.items()
                            if tuple(map(tuple, k)) == preset.kernel), CUSTOM)
            self._quietly(self.kernel_choice, self.kernel_choice.setCurrentText, classic)
        for spin, value in ((self.window, preset.window), (self.stride, preset.stride),
                            (self.padding, preset.padding)):
            self._quietly(spin, spin.setValue, value)
        self._live = True
        self.update_output()
        _set_text(self.note_label, preset.note)

    def _on_edited(self) -> None:
        """Any change by hand: the exercise's note no longer describes what is shown."""
        if self.preset_choice.currentText() != NO_PRESET:
            self._quietly(self.preset_choice, self.preset_choice.setCurrentText, NO_PRESET)
            _set_text(self.note_label, "")
        self.update_output()

    def _on_input_edited(self) -> None:
        if self.input_choice.currentText() != TYPED:
            self._quietly(self.input_choice, self.input_choice.setCurrentText, TYPED)
        self._on_edited()

    def _on_operation_chosen(self, _label: str) -> None:
        self._show_operation_controls()
        self._on_edited()

    def _show_operation_controls(self) -> None:
        conv = self.operation_kind() == "conv"
        for widget in (self.kernel_label, self.kernel_choice, self.kernel_text):
            widget.setVisible(conv)
        self.window_label.setVisible(not conv)
        self.window.setVisible(not conv)

    def _on_kernel_chosen(self, name: str) -> None:
        if name == CUSTOM:
            return
        k = kernels.CLASSIC_KERNELS[name]  # plain rows: no numpy needed yet
        self._quietly(self.kernel_text, self.kernel_text.setPlainText,
                      "\n".join(" ".join(kernels.format_number(v) for v in row) for row in k))
        self._on_edited()

    def _on_text_edited(self) -> None:
        self._quietly(self.kernel_choice, self.kernel_choice.setCurrentText, CUSTOM)
        self._on_edited()

    # -- the lesson ----------------------------------------------------------------------------
    def update_output(self) -> None:
        if not self._live:
            return
        kind, s, p = self.operation_kind(), self.stride.value(), self.padding.value()
        try:
            x = self.input_matrix()
            if kind == "conv":
                k = self.kernel()
                out = kernels.apply_kernel(x, k, s, p)
                window = tuple(k.shape)
            else:
                out = kernels.pool(x, kind, self.window.value(), s, p)
                window = (self.window.value(), self.window.value())
        except ValueError as exc:
            _set_text(self.error_label, str(exc))
            return
        _set_text(self.error_label, "")
        self._show_input(x)
        h, w = x.shape
        oh, ow = out.shape
        self.shape_label.setText(kernels.size_formula(h, w, window, s, p))
        self._show_output(out, kind)
        self.last_output = out

    def _show_input(self, x: np.ndarray) -> None:
        lo, hi = float(x.min()), float(x.max())
        flat = hi <= lo
        self.input_view.set_array((x - lo) / (hi - lo) if not flat else np.zeros_like(x), scale=(lo, hi),
                                  scale_label="input value")
        self.input_view.set_title(f"input {x.shape[0]}×{x.shape[1]}")
        small = max(x.shape) <= NUMBERS_UP_TO and self.input_choice.currentText() == TYPED
        self.input_view.set_numbers(x if small else None)

    def _show_output(self, out: np.ndarray, kind: str) -> None:
        m = float(np.abs(out).max()) if out.size else 0.0
        m = m if m > 0 else 1.0
        positions = 0.5 + 0.5 * out / m  # one symmetric scale: 0 is always the middle colour
        self.output_view.set_array(positions, scale=(-m, m), scale_label="output value")
        name = "output" if kind == "conv" else kernels.POOLS[kind]
        self.output_view.set_title(f"{name} {out.shape[0]}×{out.shape[1]}: blue negative, red positive")
        self.output_view.set_numbers(out if max(out.shape) <= NUMBERS_UP_TO else None, positions)
