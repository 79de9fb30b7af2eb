"""The Explain view: what a trained network responds to (issue 18).

It explains one run folder: the last run when it ends, or any run picked in the Runs table
(Explain there). The design comes from the folder's design.json, the weights and data from the
folder too (engine.explain.load_explainer), all read off the UI thread. The methods are
engine.explain's; this only chooses, runs them off the UI thread (through the controller's
``jobs`` runner) and shows the result with its caption. Cancel sets a flag the method reads
through ``should_stop`` (between optimisation steps or batches); closing the window sets it too.
Progress comes back as a queued signal. 1-D signals are drawn as curves (explain_signals).
"""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from designer import theme as themes
from designer.deferred import np, pg
from designer.plain_text import plain_label

from . import explain_signals as signals
from .images import to_display

HINT = "Train the design first (Run ▸ Train, F5); Explain shows what the trained network responds to."
METHODS = ["Top patches", "Occlusion", "Grad-CAM", "Saliency", "Maximise", "Nearest neighbours", "PCA"]
# Which controls a method uses.
USES = {"Top patches": {"node", "channel"}, "Occlusion": {"class", "sample", "occlusion"},
        "Grad-CAM": {"node", "class", "sample"}, "Saliency": {"class", "sample"},
        "Maximise": {"node", "maximise"}, "Nearest neighbours": {"sample"}, "PCA": set()}
# The settings' defaults are engine.explain's (and `main.py explain`'s); -1 means: the engine
# chooses from the unit's receptive field (jitter and blur).
OCCLUSION_DEFAULTS = {"size": 4, "stride": 2}
MAXIMISE_DEFAULTS = {"steps": 64, "jitter": -1, "l2": 1e-3, "blur_every": -1}
MAX_STEPS = 10000
HEAT = "inferno"
SIGNED = "CET-D1"  # blue–white–red


class _Progress(QObject):
    """Emitted from the worker thread, received (queued) in the UI thread."""
    moved = Signal(float)


def _grid(images, columns: int | None = None) -> np.ndarray:
    """N un-normalised samples (N×C×…) → one grey/RGB mosaic, white gaps."""
    tiles = [to_display(s) for s in images]
    if not tiles:
        return np.ones((1, 1), np.float32)
    h = max(t.shape[0] for t in tiles)
    w = max(t.shape[1] for t in tiles)
    rgb = tiles[0].ndim == 3
    n = len(tiles)
    columns = columns or n
    rows = -(-n // columns)
    shape = (rows * (h + 1) - 1, columns * (w + 1) - 1) + ((3,) if rgb else ())
    out = np.ones(shape, np.float32)
    for i, t in enumerate(tiles):
        r, c = divmod(i, columns)
        out[r * (h + 1):r * (h + 1) + t.shape[0], c * (w + 1):c * (w + 1) + t.shape[1]] = t
    return out


SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def bar_scale(levels, label: str) -> tuple[tuple[float, float], str]:
    """A colour bar's (values, label) with tick labels that fit beside it: values below 0.01 or
    from 10 000 up are shown as multiples of a power of ten named in the label (the bar's axis
    drops a label as wide as 0.0002)."""
    lo, hi = (float(v) for v in levels)
    top = max(abs(lo), abs(hi))
    if top == 0 or 0.01 <= top < 1e4:
        return (lo, hi), label
    exponent = int(np.floor(np.log10(top)))
    scale = 10.0 ** -exponent
    return (lo * scale, hi * scale), f"{label} (×10{str(exponent).translate(SUPERSCRIPT)})"


def _overlay(sample: np.ndarray, heat: np.ndarray, levels, cmap: str = HEAT) -> np.ndarray:
    """The sample in grey with the heat map's colours blended over it (H×W×3)."""
    base = to_display(sample)
    if base.ndim == 2:
        base = np.repeat(base[..., None], 3, axis=2)
    heat = np.atleast_2d(np.asarray(heat, np.float32))
    lo, hi = levels
    scaled = np.clip((heat - lo) / (hi - lo), 0, 1) if hi > lo else np.zeros_like(heat)
    colours = pg.colormap.get(cmap).map(scaled.ravel(), mode="float")[:, :3].reshape(heat.shape + (3,))
    return 0.45 * base + 0.55 * colours


class ExplainView(QWidget):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.controller = None
        self.run_dir: str | None = None
        self.loading: str | None = None  # the run folder whose design is being read
        self.design = None  # the design of run_dir
        self._cache = None  # (run_dir, Explainer, bundle)
        self._stop = None  # the running job's cancel flag (a one-item list)
        self._channels: dict = {}  # node id → channel count
        self.result = None  # the last result shown
        self._shown = None  # (method, result, explainer) of the picture, to draw it again in a new theme
        self._progress = _Progress(self)
        self._progress.moved.connect(self._on_progress)

        self.method = QComboBox()
        self.method.addItems(METHODS)
        self.method.setCurrentText("Grad-CAM")
        self.node = QComboBox()
        # Wide enough for most layer names; a longer one shows in full in the open list. (Adjusting
        # to the contents made the whole Training views dock 960 px wide at its narrowest.)
        self.node.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.node.setMinimumContentsLength(18)
        self.channel = QSpinBox()
        self.channel.setPrefix("channel ")
        self.klass = QSpinBox()
        self.klass.setRange(-1, 999)
        self.klass.setSpecialValueText("class: the predicted one")
        self.klass.setPrefix("class ")
        self.klass.setValue(-1)
        self.sample = QSpinBox()
        self.sample.setRange(0, 99999)
        self.sample.setPrefix("validation sample ")
        self.run_button = QPushButton("Run")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.bar = QProgressBar()
        self.bar.setRange(0, 1000)
        self.bar.setFormat("%p%")
        self.bar.setMaximumWidth(120)

        # Two rows: what to explain, then which unit and the run controls; one row would set the
        # narrowest width of every training view (the tabs share one dock).
        what = QHBoxLayout()
        for label, w in (("Method", self.method), ("Layer", self.node)):
            what.addWidget(QLabel(label))
            what.addWidget(w)
        what.addStretch(1)
        which = QHBoxLayout()
        for w in (self.channel, self.klass, self.sample, self.run_button, self.cancel_button, self.bar):
            which.addWidget(w)
        which.addStretch(1)
        controls = QVBoxLayout()
        controls.addLayout(what)
        controls.addLayout(which)
        controls.addWidget(self._make_settings())

        self.message = plain_label(HINT)
        self.message.setWordWrap(True)
        self.caption = plain_label("")
        self.caption.setWordWrap(True)
        self.caption.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.picture = QWidget()  # the graphics, made on the first result
        self._picture_layout = QGridLayout(self.picture)
        self._picture_layout.setContentsMargins(0, 0, 0, 0)
        self.graphics = None

        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(controls)
        layout.addWidget(self.message)
        layout.addWidget(self.picture, 1)
        layout.addWidget(self.caption)

        self.method.currentTextChanged.connect(self._update_controls)
        self.node.currentIndexChanged.connect(self._update_controls)
        self.run_button.clicked.connect(self.run)
        self.cancel_button.clicked.connect(self.cancel)
        self._update_controls()

    def _make_settings(self) -> QWidget:
        """The occlusion patch and the maximisation's regularisers, shown for their method."""
        def spin(prefix, lo, hi, value, tip, suffix="", auto=None):
            box = QSpinBox()
            box.setRange(lo, hi)
            box.setValue(value)
            box.setPrefix(prefix)
            box.setSuffix(suffix)
            box.setToolTip(tip)
            if auto:
                box.setSpecialValueText(auto)
            return box

        self.patch = spin("patch ", 1, 64, OCCLUSION_DEFAULTS["size"], "Side of the square hidden at each place, "
                          "in input pixels (samples for a signal)", " px")
        self.stride = spin("stride ", 1, 32, OCCLUSION_DEFAULTS["stride"], "Pixels between two placements of the "
                           "patch: smaller is finer and slower", " px")
        self.steps = spin("steps ", 1, MAX_STEPS, MAXIMISE_DEFAULTS["steps"], "Gradient-ascent steps: more makes "
                          "the pattern stronger, and takes longer")
        self.jitter = spin("jitter ", -1, 8, MAXIMISE_DEFAULTS["jitter"], "Random shift of the input at each step "
                           "(keeps the picture from depending on exact pixels); auto: from the unit's receptive "
                           "field", " px", auto="jitter: auto")
        self.blur = spin("blur every ", -1, 64, MAXIMISE_DEFAULTS["blur_every"], "Blur the input every N steps "
                         "(removes pixel-level stripes); 0: never; auto: from the unit's receptive field",
                         " steps", auto="blur: auto")
        self.l2 = QDoubleSpinBox()
        self.l2.setPrefix("L2 ")
        self.l2.setDecimals(4)
        self.l2.setRange(0.0, 1.0)
        self.l2.setSingleStep(0.001)
        self.l2.setValue(MAXIMISE_DEFAULTS["l2"])
        self.l2.setToolTip("Penalty on large input values: higher keeps the picture faint and plain")
        box = QWidget()
        row = QHBoxLayout(box)
        row.setContentsMargins(0, 0, 0, 0)
        self.occlusion_settings = [self.patch, self.stride]
        self.maximise_settings = [self.steps, self.jitter, self.l2, self.blur]
        for w in self.occlusion_settings + self.maximise_settings:
            row.addWidget(w)
        row.addStretch(1)
        return box

    # -- wiring -----------------------------------------------------------------------------
    def attach(self, controller) -> None:
        """Explain the runs this controller trains (their weights are read from the run folder),
        and the run the user picks in the Runs table."""
        self.controller = controller
        controller.run_finished.connect(self._on_run_finished)
        controller.views.runs.explain_requested.connect(self._on_explain_requested)
        controller.views.runs.folders_deleted.connect(self._on_folders_deleted)

    def _on_folders_deleted(self, folders: list) -> None:
        """The run explained was deleted in the Runs table: nothing left to explain."""
        if self.run_dir is not None and self.run_dir in folders:
            self.cancel()
            self.run_dir = self.design = self._cache = None
            self.message.setText("That run was deleted. To explain another run, select it in Runs and press Explain.")
            self._update_controls()

    def _on_run_finished(self, _status: str) -> None:
        c = self.controller
        if c.trained_design is None or c.record is None:
            return
        self.explain_run(c.record.folder or str(Path(c.record.checkpoints_dir).parent))

    def _on_explain_requested(self, folder: str) -> None:
        self.explain_run(folder)
        self.controller.views.setCurrentWidget(self)

    def explain_run(self, folder: str) -> None:
        """Explain the run in ``folder`` from now on: its design is read (off the UI thread) for
        the list of layers; its weights and data when a method first runs."""
        if self.controller is None:
            return
        folder = str(folder)
        self.loading = folder
        self.message.setText(f"Reading run {Path(folder).name}…")
        self._update_controls()

        def read(_progress):  # background thread
            from engine.analysis import analyze
            from engine.explain.common import ExplainError
            from engine.explain.loading import weights_file
            from engine.persistence import load

            weights_file(folder)  # a clear message now if the run left no weights
            if not (Path(folder) / "design.json").is_file():
                raise ExplainError(f"{folder} holds no design.json: it is not a run folder")
            design = load(Path(folder) / "design.json")
            return folder, design, analyze(design)

        self.controller.jobs.submit("explain run", read, self._on_run_read, self._on_run_unreadable)

    def _on_run_unreadable(self, message: str) -> None:
        self.loading = None
        self.message.setText(f"Could not explain that run: {message}")
        self._update_controls()

    def _on_run_read(self, value) -> None:
        folder, design, report = value
        self.loading = None
        if self.run_dir != folder:
            self._cache = None
        self.run_dir, self.design = folder, design
        self.klass.setMaximum(max(0, design.num_classes - 1))
        keep = self.node.currentData()
        self.node.blockSignals(True)
        self.node.clear()
        last_conv = None
        for n in report.order:
            shape = report.nodes[n].shape
            if design.nodes[n].block not in ("input", "output") and shape is not None and len(shape) >= 2:
                self.node.addItem(f"{design.nodes[n].name} ({design.nodes[n].block}, {shape[0]} channels)", n)
                if design.nodes[n].block.startswith("conv"):
                    last_conv = self.node.count() - 1
        self._channels = {n: report.nodes[n].shape[0] for n in report.order if report.nodes[n].shape}
        i = self.node.findData(keep)
        self.node.setCurrentIndex(i if i >= 0 else (last_conv if last_conv is not None else self.node.count() - 1))
        self.node.blockSignals(False)
        self.message.setText(f"Explaining run {Path(self.run_dir).name} ({design.name}): choose a method and press "
                             "Run. To explain another run, select it in Runs and press Explain.")
        self._update_controls()

    def _update_controls(self, *_args) -> None:
        uses = USES[self.method.currentText()]
        self.node.setEnabled("node" in uses)
        self.channel.setVisible("channel" in uses)
        self.klass.setVisible("class" in uses)
        self.sample.setVisible("sample" in uses)
        for w in self.occlusion_settings:
            w.setVisible("occlusion" in uses)
        for w in self.maximise_settings:
            w.setVisible("maximise" in uses)
        self.channel.setRange(0, max(0, self._channels.get(self.node.currentData(), 1) - 1))
        running = self._stop is not None
        self.run_button.setEnabled(self.run_dir is not None and not running and self.loading is None)
        self.cancel_button.setEnabled(running)

    def settings(self) -> dict:
        """The method settings as engine.explain takes them (None: the engine chooses)."""
        return {"size": self.patch.value(), "stride": self.stride.value(), "steps": self.steps.value(),
                "jitter": None if self.jitter.value() < 0 else self.jitter.value(), "l2": self.l2.value(),
                "blur_every": None if self.blur.value() < 0 else self.blur.value()}

    def is_running(self) -> bool:
        return self._stop is not None

    # -- running ----------------------------------------------------------------------------
    def run(self) -> None:
        if self.run_dir is None or self.controller is None or self._stop is not None:
            return
        method, node = self.method.currentText(), self.node.currentData()
        channel, klass, sample = self.channel.value(), self.klass.value(), self.sample.value()
        klass = None if klass < 0 else klass
        settings = self.settings()
        run_dir, design, cache = self.run_dir, self.design.copy(), self._cache
        stop = [False]
        self._stop = stop
        emit = self._progress.moved.emit

        def compute(_progress):  # background thread: only computes and emits
            from engine import explain as ex

            if cache is not None and cache[0] == run_dir:
                explainer, bundle = cache[1], cache[2]
            else:
                explainer, bundle = ex.load_explainer(design, run_dir)
            kw = {"progress": emit, "should_stop": lambda: stop[0]}
            val = bundle.val
            i = min(sample, len(val) - 1)
            if method == "Top patches":
                [out] = ex.top_patches(explainer, val, node, channels=[channel], k=9, **kw)
            elif method == "Occlusion":
                out = ex.occlusion(explainer, val[i][0], klass, size=settings["size"], stride=settings["stride"], **kw)
            elif method == "Grad-CAM":
                out = ex.gradcam(explainer, val[i][0], node, klass, **kw)
            elif method == "Saliency":
                out = ex.saliency(explainer, val[i][0], klass, **kw)
            elif method == "Maximise":
                out = ex.maximise(explainer, node, steps=settings["steps"], jitter=settings["jitter"],
                                  l2=settings["l2"], blur_every=settings["blur_every"], **kw)
            elif method == "PCA":
                out = ex.projection(explainer, val, **kw)
            else:
                out = ex.nearest_neighbours(explainer, val, i, k=8, **kw)
            return (run_dir, explainer, bundle), method, out

        self.bar.setValue(0)
        self.message.setText(f"Computing {method}…")
        self._update_controls()
        self.controller.jobs.submit("explain", compute, self._on_done, self._on_failed)

    def cancel(self) -> None:
        if self._stop is not None:
            self._stop[0] = True
            self.message.setText("Stopping…")

    def _on_progress(self, fraction: float) -> None:
        if self._stop is not None:
            self.bar.setValue(int(fraction * 1000))

    def _on_done(self, value) -> None:
        self._stop = None
        cache, method, out = value
        if cache[0] == self.run_dir:
            self._cache = cache
        self.bar.setValue(1000)
        note = self.show_result(method, out, cache[1])
        self.message.setText(f"{method} for run {Path(cache[0]).name}" + (f" ({note})" if note else "") + ":")
        self._update_controls()

    def _on_failed(self, message: str) -> None:
        stopped = self._stop is not None and self._stop[0]
        self._stop = None
        self.bar.setValue(0)
        self.message.setText("Stopped; press Run to start again." if stopped else f"Could not explain: {message}")
        self._update_controls()

    # -- showing ----------------------------------------------------------------------------
    def _clear(self):
        if self.graphics is None:
            self.graphics = pg.GraphicsLayoutWidget()
            self._picture_layout.addWidget(self.graphics)
            self.graphics.show()  # now, not at the layout's queued show (a test saw it hidden)
            themes.on_plot_theme(self._on_theme)
        self.graphics.clear()
        self.graphics.setBackground(themes.plot_background())
        return self.graphics

    def _on_theme(self, _theme) -> None:
        """The picture follows the theme: drawn again (curves, titles, labels take its colours)."""
        if self.graphics is not None and self._shown is not None:
            self.show_result(*self._shown)

    def _label(self, row: int, col: int, text: str, colspan: int = 1) -> None:
        self.graphics.addLabel(text, row=row, col=col, colspan=colspan, color=themes.plot_foreground(), size="9pt")

    def _image(self, row: int, col: int, title: str, array: np.ndarray, colormap: str | None = None, levels=(0, 1)):
        g = self.graphics
        self._label(row, col, title)
        view = g.addViewBox(row=row + 1, col=col, lockAspect=True, invertY=True, enableMenu=False)
        view.setMouseEnabled(False, False)
        item = pg.ImageItem(axisOrder="row-major")
        if colormap is not None and array.ndim == 2:
            item.setColorMap(pg.colormap.get(colormap))
        item.setImage(np.asarray(array, np.float32), levels=levels)
        view.addItem(item)
        view.autoRange(padding=0.02)
        return view

    def _outline(self, view, samples, bounds, columns: int) -> None:
        """Red boxes on a :func:`_grid` of ``samples``: each sample's receptive-field crop."""
        h, w = (samples.shape[2], samples.shape[3]) if samples.ndim == 4 else (1, samples.shape[-1])
        pen = pg.mkPen((230, 30, 30), width=2)
        for i, b in enumerate(bounds):
            r, c = divmod(i, columns)
            (y0, y1), (x0, x1) = b if len(b) == 2 else ((0, 1), b[0])
            x0, x1, y0, y1 = c * (w + 1) + x0, c * (w + 1) + x1, r * (h + 1) + y0, r * (h + 1) + y1
            view.addItem(pg.PlotCurveItem([x0, x1, x1, x0, x0], [y0, y0, y1, y1, y0], pen=pen))

    def _colour_bar(self, row: int, col: int, levels, label: str, cmap: str = HEAT) -> None:
        values, label = bar_scale(levels, label)
        bar = pg.ColorBarItem(values=values, colorMap=pg.colormap.get(cmap), interactive=False, label=label)
        self.graphics.addItem(bar, row=row + 1, col=col)

    def show_result(self, method: str, out, explainer) -> str:
        """Draw ``out`` (a volume's result as one depth slice); returns a note on what is drawn."""
        self.result = out
        self._shown = (method, out, explainer)
        note = ""
        if len(explainer.input_shape) == 4:  # C×D×H×W: a volume, shown one depth slice at a time
            from engine.explain.slices import depth_slice  # torch is in: a result exists
            out, note = depth_slice(out)
        self._clear()
        # C×L: a 1-D signal, drawn as curves; (F,): a table's row, its features as one curve or bars
        signal = len(explainer.input_shape) in (1, 2)
        features = len(explainer.input_shape) == 1
        if method in ("Occlusion", "Grad-CAM", "Saliency"):
            heat = np.asarray(out.map, np.float32)
            lo, hi = float(np.nanmin(heat)), float(np.nanmax(heat))
            cmap = HEAT
            if method == "Occlusion" and lo < 0:  # signed: blue where hiding raises the score
                cmap, m = SIGNED, max(abs(lo), abs(hi))
                lo, hi = -m, m
            if hi <= lo:
                hi = lo + 1e-6
            sample = np.asarray(out.sample)
            what = {"Occlusion": "score drop when covered", "Grad-CAM": "Grad-CAM importance",
                    "Saliency": "gradient size"}[method]
            title = f"{what} for class {explainer.class_name(out.target)}"
            if features:
                self._label(0, 0, f"{title} (predicted: {explainer.class_name(out.predicted)})")
                signals.bar_plot(self.graphics, 1, 0, heat, (lo, hi), pg.colormap.get(cmap))
                self._colour_bar(0, 1, (lo, hi), what, cmap)
            elif signal:
                self._label(0, 0, f"input (predicted: {explainer.class_name(out.predicted)}); background: {title}")
                signals.heat_plot(self.graphics, 1, 0, sample, heat, (lo, hi), pg.colormap.get(cmap))
                self._colour_bar(0, 1, (lo, hi), what, cmap)
            else:
                self._image(0, 0, f"input (predicted: {explainer.class_name(out.predicted)})", to_display(sample))
                self._image(0, 1, title, _overlay(sample, heat, (lo, hi), cmap))
                self._colour_bar(0, 2, (lo, hi), what, cmap)
        elif method == "Top patches":
            samples = np.asarray(out.samples)
            names = [explainer.class_name(int(c)) for c in out.labels]
            # The classes are in the caption (a title cannot wrap: nine class names ran off the picture).
            title = (f"the {len(samples)} validation samples that excite channel {out.channel} most, strongest "
                     "first; red: the part its strongest unit sees")
            if signal:
                self._label(0, 0, title)
                signals.stacked_plot(self.graphics, 1, 0, samples, [f"{i + 1}. {n}" for i, n in enumerate(names)],
                                     highlights=[b[0] for b in out.bounds])
            else:
                view = self._image(0, 0, title, _grid(samples, 3))
                self._outline(view, samples, out.bounds, 3)
        elif method == "Maximise":
            images = np.asarray(out.images)
            title = ("inputs optimised to excite each channel (channel 0 " +
                     ("at the top" if signal else "top left, row by row") + "; each scaled to its own range)")
            if signal:
                self._label(0, 0, title)
                signals.stacked_plot(self.graphics, 1, 0, images, [f"ch {u}" for u in out.units])
            else:
                self._image(0, 0, title, _grid(images, int(np.ceil(np.sqrt(len(images))))))
        elif method == "PCA":
            self._label(0, 0, f"validation samples at {out.node_id} on its two main directions (colour: true class)")
            signals.projection_plot(self.graphics, 1, 0, out, explainer.classes)
        else:
            self._show_neighbours(out, explainer, signal)
        themes.style_plot_view(self.graphics)
        self.caption.setText(out.caption)
        return note

    def _show_neighbours(self, out, explainer, signal: bool) -> None:
        def cls(i):
            return explainer.class_name(int(out.labels.get(int(i), -1)))

        by_features = "the sample itself, then its nearest in the last hidden layer (what the network finds similar)"
        by_pixels = "the sample itself, then its nearest in raw values"
        if not signal:  # a signal's rows are labelled with their classes
            by_features += ": " + ", ".join(cls(i) for i in out.feature_indices)
            by_pixels += ": " + ", ".join(cls(i) for i in out.pixel_indices)
        if signal:
            self._label(0, 0, by_features)
            signals.stacked_plot(self.graphics, 1, 0, np.asarray(out.feature_samples),
                                 [cls(i) for i in out.feature_indices])
            self._label(2, 0, by_pixels)
            signals.stacked_plot(self.graphics, 3, 0, np.asarray(out.pixel_samples),
                                 [cls(i) for i in out.pixel_indices])
            return
        self._image(0, 0, f"chosen sample ({cls(out.query)})", to_display(np.asarray(out.samples)))
        self._image(2, 0, by_features, _grid(np.asarray(out.feature_samples)))
        self._image(4, 0, by_pixels, _grid(np.asarray(out.pixel_samples)))


__all__ = ["ExplainView", "HINT", "MAXIMISE_DEFAULTS", "OCCLUSION_DEFAULTS"]
