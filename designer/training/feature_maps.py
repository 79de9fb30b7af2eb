"""Seeing inside (catalog §6): the selected node's activation maps for a chosen sample, the
first layer's filters, the confusion matrix, top-5 predictions, and the translation probe.

The view only draws what it is given (maps from the trainer's feature-map events, results of
:mod:`designer.training.inspection` computed off the UI thread); it computes nothing itself.
It draws a page only while that page is in front: what arrives for a hidden page is kept (the
latest of each kind) and drawn when the page is shown. During a run the UI thread shares the
GIL with the trainer, and the confusion matrix's hundred count labels alone took ~60 ms an
epoch when nobody was looking at them (issue 13).
"""
from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QScrollArea,
    QSpinBox,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from designer import theme as themes
from designer.deferred import Deferred, np, pg
from designer.plain_text import plain_label

from .images import DIVERGING, GREY, ImagePane, mosaic, normalise, to_display


class FeatureMapView(QWidget):
    sample_changed = Signal(int)  # index into the preview samples
    shift_changed = Signal(int, int)  # dy, dx of the translation probe
    shift_shown = Signal()  # the translation probe's page came to the front

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
        self.tabs.addTab(self._build_confusion_tab(), "Confusion")
        self.tabs.addTab(self._build_predictions_tab(), "Predictions")
        self.tabs.addTab(self._build_shift_tab(), "Shift")
        self._pending: dict[str, tuple] = {}  # kind → (page, draw): waits until its page is in front
        self.tabs.currentChanged.connect(lambda _i: self._on_page_shown())
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(self.tabs)

    # -- drawing only what is in front -----------------------------------------------------
    def _when_shown(self, kind: str, page: QWidget, draw) -> None:
        """Draw now if ``page`` is in front, else when it comes to the front (the latest of a kind)."""
        self._pending[kind] = (page, draw)
        self._draw_pending()

    def _draw_pending(self) -> None:
        if not self._pending or not self.isVisible():
            return
        current = self.tabs.currentWidget()
        for kind, (page, draw) in list(self._pending.items()):
            if page is current:
                del self._pending[kind]
                draw()

    def showEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().showEvent(event)
        self._on_page_shown()

    def _on_page_shown(self) -> None:
        self._draw_pending()
        if self.shift_in_front():
            self.shift_shown.emit()

    def shift_in_front(self) -> bool:
        """Is the translation probe on screen (the probe is computed only for someone looking)?"""
        return self.isVisible() and self.tabs.currentWidget() is self.shift_page

    # -- construction ----------------------------------------------------------------------
    def _build_maps_tab(self) -> QWidget:
        page = self.maps_page = QWidget()
        self.node_label = plain_label("Select a node on the canvas to see its activation maps.")
        self.node_label.setWordWrap(True)
        self.sample_spin = QSpinBox()
        self.sample_spin.setToolTip("Which sample is fed through the network")
        self.sample_spin.valueChanged.connect(self._on_sample_changed)
        self.sample_view = ImagePane("sample", colorbar=False)
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

    def _build_confusion_tab(self) -> QWidget:
        page = self.confusion_page = QWidget()
        self.confusion = ImagePane("confusion matrix", colormap="CET-L12")
        self._confusion_text: list = []  # pg.TextItem per cell
        self._confusion_matrix = None  # the last counts given
        self.confusion_normalised = QCheckBox("Share of each true class (rows add up to 100%)")
        self.confusion_normalised.setToolTip("Off: how many validation samples of each true class (row) were "
                                             "predicted as each class (column). On: the same as a share of the row.")
        self.confusion_normalised.toggled.connect(lambda _on: self._redraw_confusion())
        layout = QVBoxLayout(page)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.confusion_normalised)
        layout.addWidget(self.confusion, 1)
        return page

    def _build_predictions_tab(self) -> QWidget:
        page = self.predictions_page = QWidget()
        self.prediction_image = ImagePane("input", colorbar=False)
        self.prediction_plot = TopProbabilities()
        self.prediction_label = plain_label()
        layout = QGridLayout(page)
        layout.addWidget(self.prediction_image, 0, 0)
        layout.addWidget(self.prediction_plot, 0, 1)
        layout.addWidget(self.prediction_label, 1, 0, 1, 2)
        layout.setColumnStretch(0, 1)
        layout.setColumnStretch(1, 2)
        return page

    def _build_shift_tab(self) -> QWidget:
        page = self.shift_page = QWidget()
        self.shift_dy = QSpinBox()
        self.shift_dx = QSpinBox()
        for spin in (self.shift_dy, self.shift_dx):
            spin.setRange(-8, 8)
            spin.valueChanged.connect(lambda _=0: self.shift_changed.emit(self.shift_dy.value(), self.shift_dx.value()))
        self.shift_dx.setValue(2)
        self.shift_view = ImagePane("each layer's mean map", colorbar=True)
        self.shift_scroll = QScrollArea()
        self.shift_scroll.setWidgetResizable(True)
        self.shift_scroll.setWidget(self.shift_view)
        self.shift_label = plain_label("Shift the input and watch each layer's maps move with it: convolution is "
                                  "equivariant to translation; pooling and strides add a little invariance.")
        self.shift_label.setWordWrap(True)
        self.shift_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.shift_label.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        controls = QHBoxLayout()
        controls.addWidget(QLabel("Shift down"))
        controls.addWidget(self.shift_dy)
        controls.addWidget(QLabel("right"))
        controls.addWidget(self.shift_dx)
        controls.addStretch(1)
        label_scroll = QScrollArea()
        label_scroll.setWidgetResizable(True)
        label_scroll.setWidget(self.shift_label)
        label_scroll.setMinimumWidth(230)
        body = QHBoxLayout()
        body.addWidget(self.shift_scroll, 3)
        body.addWidget(label_scroll, 2)
        layout = QVBoxLayout(page)
        layout.addLayout(controls)
        layout.addLayout(body, 1)
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
        self._when_shown("filters", self.filters, lambda: self._draw_filters(node_name, weights))

    def _draw_filters(self, node_name: str, weights: np.ndarray) -> None:
        w = np.asarray(weights, dtype=np.float32)
        tiles = w.mean(axis=1) if w.ndim == 4 else w.reshape(w.shape[0], 1, -1).mean(axis=1)[:, None, :]
        if w.ndim == 3:  # 1-D kernels K×C×k: one row each
            tiles = w.mean(axis=1)[:, None, :]
        m = float(np.abs(tiles).max()) if tiles.size else 0.0
        self.filters.set_array(mosaic(tiles, symmetric=True, per_tile=False),
                               scale=(-m, m) if m > 0 else None, scale_label="weight (mean over input channels)")
        k = "×".join(str(s) for s in w.shape[2:])
        self.filters.set_title(f"{node_name}: {w.shape[0]} filters of {k}; blue negative, red positive, "
                               "one scale for all")

    def set_confusion(self, matrix: np.ndarray) -> None:
        """A classes×classes matrix of validation counts, rows the true class."""
        self._when_shown("confusion", self.confusion_page, lambda: self._draw_confusion(matrix))

    def _redraw_confusion(self) -> None:
        if self._confusion_matrix is not None:
            self._draw_confusion(self._confusion_matrix)

    def _draw_confusion(self, matrix: np.ndarray) -> None:
        m = np.asarray(matrix, dtype=np.float64)
        self._confusion_matrix = m
        rows = m.sum(axis=1, keepdims=True)
        share = np.divide(m, rows, out=np.zeros_like(m), where=rows > 0)
        if self.confusion_normalised.isChecked():
            positions, texts = share, [f"{v:.0%}" for v in share.ravel()]
            self.confusion.set_array(positions, scale=(0.0, 1.0), scale_label="share of the true class")
        else:
            top = float(m.max()) if m.size and m.max() > 0 else 1.0
            positions, texts = m / top, [str(int(v)) for v in m.ravel()]
            self.confusion.set_array(positions, scale=(0.0, top), scale_label="validation samples")
        self.prepare_confusion(m.shape[0])
        names = self._class_names(m.shape[0])
        step = -(-len(names) // 20)  # at most 20 names a side stay readable (CIFAR-100: every 5th)
        shown = list(enumerate(names))[::step]
        self.confusion.set_ticks(left=[(i + 0.5, _elide(n, 14)) for i, n in shown],
                                 bottom=[(i + 0.5, _elide(n, 5 if len(shown) > 6 else 10)) for i, n in shown],
                                 left_title="true class", bottom_title="predicted class")
        colors = self.confusion.text_colors(positions) if self._confusion_text else []
        for text, shown in zip(self._confusion_text, zip(texts, colors)):
            if getattr(text, "_shown", None) != shown:  # most cells keep their count from epoch to epoch
                text._shown = shown
                text.setText(*shown)
        acc = np.trace(m) / max(m.sum(), 1)
        self.confusion.set_title(f"confusion matrix on the validation set ({int(m.sum()):,} samples) — "
                                 f"accuracy {acc:.1%}")

    def _class_names(self, count: int) -> list[str]:
        """The dataset's class names, or numbers when it has fewer names than the matrix has rows."""
        return list(self.classes) if len(self.classes) == count else [str(i) for i in range(count)]

    def confusion_texts(self) -> list[str]:
        return [getattr(t, "_shown", ("", ""))[0] for t in self._confusion_text]

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
        self._when_shown("predictions", self.predictions_page, lambda: self._draw_predictions(image, top5, true_label))

    def _draw_predictions(self, image: np.ndarray, top5: list[tuple[str, float]], true_label: str = "") -> None:
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
        if rows:
            self._when_shown("equivariance", self.shift_page, lambda: self._draw_equivariance(rows, input_size))

    def _draw_equivariance(self, rows, input_size: tuple[int, int]) -> None:
        """One row per layer, its name beside it: the layer's mean map for the input and for the
        shifted input, each blown up to the input's size (nearest neighbour) so a move of one of
        the layer's pixels shows as a move of its jump in input pixels."""
        h, w = input_size
        tiles = []
        for row in rows:
            for m in (row.original, row.shifted):
                m = m if m.ndim == 2 else m[None]
                rows_at = np.arange(h) * m.shape[0] // h  # nearest neighbour onto the input's grid
                cols_at = np.arange(w) * m.shape[1] // w
                tiles.append(normalise(m)[np.ix_(rows_at, cols_at)])
        gap = max(2, h // 8)
        self.shift_view.set_array(mosaic(np.stack(tiles), columns=2, gap=gap, per_tile=False),
                                  scale_label="relative")
        self.shift_view.set_ticks(left=[(i * (h + gap) + h / 2, row.name) for i, row in enumerate(rows)],
                                  bottom=[(w / 2, "input"), (w + gap + w / 2, "shifted input")])
        self.shift_view.setMinimumHeight(110 * len(rows) + 60)
        dy, dx = self.shift_dy.value(), self.shift_dx.value()
        # a 1-D input moves along its length by the "down" amount (engine.training.inspect.shift)
        moved = f"{dy:g} along its length" if all(np.ndim(r.original) == 1 for r in rows) else _move(dy, dx)
        lines = [f"Input shifted {moved}. A layer whose receptive-field jump is J (its cumulative stride, "
                 "from the analysis) should see its map move by the shift / J of its own pixels.", ""]
        lines += [_equivariance_line(r) for r in rows]
        self.shift_label.setText("\n".join(lines))

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
        self._when_shown("maps", self.maps_page, self._draw_maps)

    def _draw_maps(self) -> None:
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
        # The title says each map is scaled to its own range; a longer bar label did not fit beside
        # the bar (the docs' screenshot showed "…lative (each map: its min → its n").
        self.maps_view.set_array(mosaic(maps), scale_label="relative: min → max")
        shape = "×".join(str(s) for s in maps.shape)
        self.node_label.setText(f"{name}: {maps.shape[0]} maps, {shape} {when}")
        self.maps_view.set_title(f"{name} — {maps.shape[0]} channel(s), each scaled to its own range")

    def grab_png(self, path: str) -> None:
        self.grab().save(path)


def _elide(name: str, chars: int) -> str:
    return name if len(name) <= chars else name[:chars - 1] + "…"


def _move(dy: float, dx: float) -> str:
    """'2 down, 1.5 right' (negative: up, left); 'not at all' for no move."""
    parts = [f"{abs(v):g} {(neg if v < 0 else pos)}" for v, pos, neg in ((dy, "down", "up"), (dx, "right", "left"))
             if v]
    return ", ".join(parts) or "not at all"


def _equivariance_line(row) -> str:
    """What one layer of the shift probe did: expected and measured move, in its own pixels."""
    jump = "×".join(str(j) for j in row.jump)
    size = "×".join(str(n) for n in np.shape(row.original))
    if np.size(row.original) <= 1:
        return f"{row.name} (jump {jump}, map {size}): too small to show a move"
    expected, measured = _move(*row.expected), _move(*row.measured)
    whole = all(float(e).is_integer() for e in row.expected)
    verdict = "✓" if whole and tuple(row.measured) == tuple(int(e) for e in row.expected) else \
        "✗" if whole else "≈ (a fraction of a pixel: pooling and strides blur it)"
    return (f"{row.name} (jump {jump}, map {size}): expected {expected}, measured {measured} {verdict}; "
            f"mismatch {row.error:.0%}")


class TopProbabilities(Deferred):
    """Horizontal bars of the top-k class probabilities, the most probable on top, each with its
    percentage written at its end."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self._bars_given = ([], [])
        self._value_items: list = []

    def _build(self) -> None:
        self.plot = pg.PlotWidget(background=themes.plot_background(), title="top-5 probabilities")
        self.plot.setXRange(0, 1.15)
        self.plot.getPlotItem().hideButtons()
        self.plot.setMenuEnabled(False)
        self.bars = pg.BarGraphItem(x0=0, y=[], height=0.6, width=[], brush=(66, 133, 244))
        self.plot.addItem(self.bars)
        themes.style_plot_view(self.plot)
        themes.on_plot_theme(self._on_theme)
        self.body.addWidget(self.plot)
        self.show_bars(*self._bars_given)

    def _on_theme(self, theme) -> None:
        for item in self._value_items:
            item.setColor(themes.plot_foreground(theme))

    def show_bars(self, names: list[str], probs: list[float]) -> None:
        self._bars_given = (list(names), list(probs))
        if not self.is_built:
            return
        y = list(range(len(names)))[::-1]
        self.bars.setOpts(x0=0, y=y, height=0.6, width=list(probs))
        self.plot.getAxis("left").setTicks([list(zip(y, names))])
        self.plot.setYRange(-0.5, len(names) - 0.5)
        for item in self._value_items:
            self.plot.removeItem(item)
        self._value_items = []
        for row, p in zip(y, probs):
            text = pg.TextItem(f"{p:.1%}", color=themes.plot_foreground(), anchor=(0.0, 0.5))
            text.setPos(p, row)
            self.plot.addItem(text)
            self._value_items.append(text)

    def value_texts(self) -> list[str]:
        return [item.textItem.toPlainText() for item in self._value_items]


__all__ = ["FeatureMapView", "GREY", "TopProbabilities"]
