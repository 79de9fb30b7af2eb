"""The convolution lesson in one panel: a sample image, a kernel (classic or typed), stride and
padding, and the output with its shape. All arithmetic is the engine's (engine.kernels). The
first output is computed when the panel is first shown or given an image, not at start-up."""
from __future__ import annotations

from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from designer.deferred import np
from engine import kernels

from .images import DIVERGING, ImagePane, normalise, to_display

CUSTOM = "custom (type below)"


def default_image(size: int = 28) -> np.ndarray:
    """A picture with edges in every direction (a square and a disc) until a dataset is chosen."""
    yy, xx = np.mgrid[:size, :size]
    img = np.zeros((size, size), dtype=np.float32)
    img[size // 6:size // 2, size // 6:size // 2] = 1.0
    img[(yy - 2 * size // 3) ** 2 + (xx - 2 * size // 3) ** 2 < (size // 5) ** 2] = 0.6
    return img


class KernelPlayground(QWidget):
    def __init__(self, parent=None):
        super().__init__(parent)
        self._image = None  # default_image() until a dataset gives one
        self._live = False  # computes once shown or given an image
        self.kernel_choice = QComboBox()
        self.kernel_choice.addItems(list(kernels.CLASSIC_KERNELS) + [CUSTOM])
        self.kernel_text = QPlainTextEdit()
        self.kernel_text.setMaximumHeight(80)
        self.kernel_text.setToolTip("Rows on separate lines or separated by ';', e.g. 0 -1 0; -1 5 -1; 0 -1 0. "
                                    "Fractions like 1/9 work.")
        self.stride = QSpinBox()
        self.stride.setRange(1, 8)
        self.padding = QSpinBox()
        self.padding.setRange(0, 8)
        self.shape_label = QLabel()
        self.shape_label.setWordWrap(True)
        self.error_label = QLabel()
        self.error_label.setStyleSheet("color: #c0392b")
        self.error_label.setWordWrap(True)

        form = QFormLayout()
        form.addRow("Kernel", self.kernel_choice)
        form.addRow("Values", self.kernel_text)
        form.addRow("Stride", self.stride)
        form.addRow("Padding", self.padding)
        form.addRow(self.shape_label)
        form.addRow(self.error_label)
        self.input_view = ImagePane("input")
        self.output_view = ImagePane("output", colormap=DIVERGING)
        pictures = QHBoxLayout()
        pictures.addWidget(self.input_view)
        pictures.addWidget(self.output_view)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addLayout(pictures, 1)

        self.kernel_choice.currentTextChanged.connect(self._on_kernel_chosen)
        self.kernel_text.textChanged.connect(self._on_text_edited)
        self.stride.valueChanged.connect(self.update_output)
        self.padding.valueChanged.connect(self.update_output)
        self._on_kernel_chosen(self.kernel_choice.currentText())

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

    def _on_kernel_chosen(self, name: str) -> None:
        if name == CUSTOM:
            return
        k = kernels.CLASSIC_KERNELS[name]  # plain rows: no numpy needed yet
        self.kernel_text.blockSignals(True)
        self.kernel_text.setPlainText("\n".join(" ".join(_fmt(v) for v in row) for row in k))
        self.kernel_text.blockSignals(False)
        self.update_output()

    def _on_text_edited(self) -> None:
        self.kernel_choice.blockSignals(True)
        self.kernel_choice.setCurrentText(CUSTOM)
        self.kernel_choice.blockSignals(False)
        self.update_output()

    def update_output(self) -> None:
        if not self._live:
            return
        if self._image is None:
            self._image = default_image()
        h, w = self._image.shape
        self.input_view.set_array(to_display(self._image))
        self.input_view.set_title(f"input {h}×{w}")
        try:
            k = self.kernel()
            out = kernels.apply_kernel(self._image, k, self.stride.value(), self.padding.value())
        except ValueError as exc:
            self.error_label.setText(str(exc))
            return
        self.error_label.clear()
        s, p = self.stride.value(), self.padding.value()
        oh, ow = out.shape
        self.shape_label.setText(
            f"out = ⌊(in + 2p − k) / s⌋ + 1 → height ⌊({h} + 2·{p} − {k.shape[0]}) / {s}⌋ + 1 = {oh}, "
            f"width ⌊({w} + 2·{p} − {k.shape[1]}) / {s}⌋ + 1 = {ow}: output {oh}×{ow}")
        self.output_view.set_array(normalise(out, symmetric=True), gap_value=0.5)
        self.output_view.set_title(f"output {oh}×{ow} (blue < 0 < red)")
        self.last_output = out


def _fmt(v: float) -> str:
    return f"{v:g}" if abs(v - round(v)) < 1e-6 else f"{v:.4g}"
