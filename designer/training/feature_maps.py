"""Seeing inside (catalog §6): the selected node's activation maps for a chosen sample, the
first layer's filters, the confusion matrix, top-5 predictions, and the translation probe.

The view only draws what it is given (maps from the trainer's feature-map events, results of
:mod:`designer.training.inspection` computed off the UI thread); it computes nothing itself.
"""
from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QGridLayout, QHBoxLayout, QLabel, QSpinBox, QTabWidget, QVBoxLayout, QWidget

from designer.deferred import Deferred, np, pg
from designer.plain_text import plain_label

from .images import DIVERGING, GREY, ImagePane, mosaic, normalise, to_display


class FeatureMapView(QWidget):
    sample_changed = Signal(int)  # index into the preview samples
    shift_changed = Signal(int, int)  # dy, dx of the translation probe

    def __init__(self, parent=None):
        super().__init__(parent)
        self.node_id: str | None = None
        self.node_names: dict[str, str] = {}
        self.maps: dict[str, tuple[np.ndarray, str]] = {}  # node id → (C×H×W maps, when)
        self.samples = []  # N×C×… array once set_samples is called (numpy is imported then)
        self.labels = []
        self.classes: list[str] = []

        self.tabs = QTabWidget()
        self.tabs.addTab(self._build_maps_tab(), "Activations")
        self.filters = ImagePane("first-layer filters", colormap=DIVERGING)
        self.tabs.addTab(self.filters, "Filters")
        self.confusion = ImagePane("confusion matrix (rows: true, columns: predicted)", colormap="CET-L12")
        self._confusion_text: list = []  # pg.TextItem per cell
        self.tabs.addTab(self.confusion, "Confusion")
        self.tabs.addTab(self._build_predictions_tab(), "Predictions")
        self.tabs.addTab(self._build_shift_tab(), "Shift")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(self.tabs)

    # -- construction ----------------------------------------------------------------------
    def _build_maps_tab(self) -> QWidget:
        page = QWidget()
        self.node_label = plain_label("Select a node on the canvas to see its activation maps.")
        self.node_label.setWordWrap(True)
        self.sample_spin = QSpinBox()
        self.sample_spin.setToolTip("Which sample is fed through the network")
        self.sample_spin.valueChanged.connect(self._on_sample_changed)
        self.sample_view = ImagePane("sample")
        self.sample_view.setMaximumWidth(160)
        self.maps_view = ImagePane("activation maps")
        top = QHBoxLayout()
        top.addWidget(self.node_label, 1)
        top.addWidget(QLabel("Sample"))
        top.addWidget(self.sample_spin)
        pictures = QHBoxLayout()
        pictures.addWidget(self.sample_view)
        pictures.addWidget(self.maps_view, 1)
        layout = QVBoxLayout(page)
        layout.addLayout(top)
        layout.addLayout(pictures, 1)
        return page

    def _build_predictions_tab(self) -> QWidget:
        page = QWidget()
        self.prediction_image = ImagePane("input")
        self.prediction_plot = TopProbabilities()
        self.prediction_label = plain_label()
        layout = QGridLayout(page)
        layout.addWidget(self.prediction_image, 0, 0)
        layout.addWidget(self.prediction_plot, 0, 1)
        layout.addWidget(self.prediction_label, 1, 0, 1, 2)
        layout.setColumnStretch(1, 2)
        return page

    def _build_shift_tab(self) -> QWidget:
        page = QWidget()
        self.shift_dy = QSpinBox()
        self.shift_dx = QSpinBox()
        for spin in (self.shift_dy, self.shift_dx):
            spin.setRange(-8, 8)
            spin.valueChanged.connect(lambda _=0: self.shift_changed.emit(self.shift_dy.value(), self.shift_dx.value()))
        self.shift_dx.setValue(2)
        self.shift_view = ImagePane("each layer's mean map: input | shifted input")
        self.shift_label = plain_label("Shift the input and watch each layer's maps move with it: convolution is "
                                  "equivariant to translation; pooling and strides add a little invariance.")
        self.shift_label.setWordWrap(True)
        controls = QHBoxLayout()
        controls.addWidget(QLabel("Shift down"))
        controls.addWidget(self.shift_dy)
        controls.addWidget(QLabel("right"))
        controls.addWidget(self.shift_dx)
        controls.addStretch(1)
        layout = QVBoxLayout(page)
        layout.addLayout(controls)
        layout.addWidget(self.shift_view, 1)
        layout.addWidget(self.shift_label)
        return page

    # -- inputs ----------------------------------------------------------------------------
    def set_samples(self, images: np.ndarray, labels: np.ndarray, classes: list[str]) -> None:
        self.samples, self.labels, self.classes = np.asarray(images), np.asarray(labels), list(classes)
        self.sample_spin.setRange(0, max(0, len(self.samples) - 1))
        self._show_sample()

    def set_node_names(self, names: dict[str, str]) -> None:
        self.node_names = dict(names)

    def select_node(self, node_id: str | None) -> None:
        self.node_id = node_id
        self._show_maps()

    def add_maps(self, node_id: str, maps: np.ndarray, when: str = "") -> None:
        """New activations of one node (C×H×W, or C×L for 1-D) from the trainer or a probe."""
        self.maps[node_id] = (np.asarray(maps), when)
        if node_id == self.node_id:
            self._show_maps()

    def clear_maps(self) -> None:
        self.maps.clear()
        self._show_maps()

    def set_filters(self, node_name: str, weights: np.ndarray) -> None:
        """First conv's weights K×C×kh×kw: RGB tiles if C = 3, else the mean over input channels."""
        w = np.asarray(weights, dtype=np.float32)
        tiles = w.mean(axis=1) if w.ndim == 4 else w.reshape(w.shape[0], 1, -1).mean(axis=1)[:, None, :]
        if w.ndim == 3:  # 1-D kernels K×C×k: one row each
            tiles = w.mean(axis=1)[:, None, :]
        self.filters.set_array(mosaic(tiles, symmetric=True, per_tile=False), gap_value=0.5)
        k = "×".join(str(s) for s in w.shape[2:])
        self.filters.set_title(f"{node_name}: {w.shape[0]} filters of {k} (blue < 0 < red, one scale for all)")

    def set_confusion(self, matrix: np.ndarray) -> None:
        m = np.asarray(matrix, dtype=np.float64)
        rows = m.sum(axis=1, keepdims=True)
        self.confusion.set_array(np.divide(m, rows, out=np.zeros_like(m), where=rows > 0))
        self.prepare_confusion(m.shape[0])
        for text, ((r, _c), v) in zip(self._confusion_text, np.ndenumerate(m)):
            share = v / rows[r, 0] if rows[r, 0] else 0
            text.setText(str(int(v)), color="w" if share > 0.5 else "k")
        acc = np.trace(m) / max(m.sum(), 1)
        self.confusion.set_title(f"confusion matrix (rows: true, columns: predicted) — accuracy {acc:.1%}")

    def prepare_confusion(self, classes: int) -> None:
        """Make the count labels for a classes×classes matrix (once per size; the controller
        calls this before a run): making a hundred text items takes ~60 ms, too long for the
        UI thread during a run, while updating them each epoch takes ~8 ms."""
        readable = classes <= 12  # counts are readable only on small matrices
        if len(self._confusion_text) == (classes * classes if readable else 0):
            return
        for item in self._confusion_text:
            self.confusion.view.removeItem(item)
        self._confusion_text = []
        for r, c in np.ndindex(classes, classes) if readable else ():
            text = pg.TextItem("", anchor=(0.5, 0.5))
            text.setPos(c + 0.5, r + 0.5)
            self.confusion.view.addItem(text)
            self._confusion_text.append(text)

    def set_predictions(self, image: np.ndarray, top5: list[tuple[str, float]], true_label: str = "") -> None:
        self.prediction_image.set_array(to_display(image))
        names = [name for name, _ in top5]
        probs = [p for _, p in top5]
        self.prediction_plot.show_bars(names, probs)
        verdict = "" if not true_label or not names else ("✓ correct" if names[0] == true_label else "✗ wrong")
        self.prediction_label.setText(f"true class: {true_label}   predicted: {names[0] if names else '?'} "
                                      f"({probs[0] if probs else 0:.1%})   {verdict}")

    def set_equivariance(self, rows, input_size: tuple[int, int]) -> None:
        """Rows from :func:`inspection.equivariance_probe`: each layer's map for the input and
        the shifted input, upsampled to the input size so movement is compared at one scale."""
        if not rows:
            return
        h, w = input_size
        tiles = []
        for row in rows:
            for m in (row.original, row.shifted):
                m = m if m.ndim == 2 else m[None]
                ry, rx = max(1, round(h / m.shape[0])), max(1, round(w / m.shape[1]))
                up = np.kron(normalise(m), np.ones((ry, rx), dtype=np.float32))[:h, :w]
                tile = np.zeros((h, w), dtype=np.float32)
                tile[:up.shape[0], :up.shape[1]] = up
                tiles.append(tile)
        self.shift_view.set_array(mosaic(np.stack(tiles), columns=2, gap=2, per_tile=False))
        lines = [f"{r.name}: moves {abs(self.shift_dy.value()) * r.scale:g}×{abs(self.shift_dx.value()) * r.scale:g} px "
                 f"at this layer's scale 1/{1 / r.scale:g}, mismatch {r.error:.0%}" for r in rows]
        self.shift_label.setText("Rows top to bottom: " + "; ".join(lines))

    # -- drawing ---------------------------------------------------------------------------
    def _on_sample_changed(self, index: int) -> None:
        self._show_sample()
        self.sample_changed.emit(index)

    def _show_sample(self) -> None:
        i = self.sample_spin.value()
        if i >= len(self.samples):
            return
        self.sample_view.set_array(to_display(self.samples[i]))
        label = self.labels[i] if i < len(self.labels) else -1
        name = self.classes[label] if 0 <= label < len(self.classes) else ""
        self.sample_view.set_title(f"sample {i}: {name}")

    def _show_maps(self) -> None:
        if self.node_id is None:
            self.node_label.setText("Select a node on the canvas to see its activation maps.")
            return
        name = self.node_names.get(self.node_id, self.node_id)
        entry = self.maps.get(self.node_id)
        if entry is None:
            self.node_label.setText(f"{name}: waiting for activations (they arrive during training)")
            self.maps_view.set_array(np.ones((1, 1), dtype=np.float32))
            return
        maps, when = entry
        if maps.ndim == 1:  # a vector (after Flatten/Linear): one row of units
            maps = maps[None, None, :]
        self.maps_view.set_array(mosaic(maps))
        shape = "×".join(str(s) for s in maps.shape)
        self.node_label.setText(f"{name}: {maps.shape[0]} maps, {shape} {when}")
        self.maps_view.set_title(f"{name} — {maps.shape[0]} channel(s), each scaled to its own range")

    def grab_png(self, path: str) -> None:
        self.grab().save(path)


class TopProbabilities(Deferred):
    """Horizontal bars of the top-k class probabilities, the most probable on top."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self._bars_given = ([], [])

    def _build(self) -> None:
        self.plot = pg.PlotWidget(background="w", title="top-5 probabilities")
        self.plot.setXRange(0, 1)
        self.plot.getPlotItem().hideButtons()
        self.bars = pg.BarGraphItem(x0=0, y=[], height=0.6, width=[], brush=(66, 133, 244))
        self.plot.addItem(self.bars)
        self.body.addWidget(self.plot)
        self.show_bars(*self._bars_given)

    def show_bars(self, names: list[str], probs: list[float]) -> None:
        self._bars_given = (list(names), list(probs))
        if not self.is_built:
            return
        y = list(range(len(names)))[::-1]
        self.bars.setOpts(x0=0, y=y, height=0.6, width=list(probs))
        self.plot.getAxis("left").setTicks([list(zip(y, names))])
        self.plot.setYRange(-0.5, len(names) - 0.5)


__all__ = ["FeatureMapView", "GREY", "TopProbabilities"]
