"""The training panel: what to train on, how, on which device; Start, Pause/Resume, Stop; the
progress of the run. A form only: :mod:`designer.training.controller` does the work.

It is built before torch is imported: the device list and the dataset preview fill in when the
controller passes them (:meth:`TrainingPanel.set_devices`, :meth:`TrainingPanel.show_dataset`).
"""
from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from designer.deferred import Deferred, np, pg
from designer.plain_text import plain_html, plain_label
from engine import dataset_names
from engine.training.config import OPTIMIZERS, SCHEDULES, TrainConfig

from .dataset_preview import DatasetPreview
from .images import ImagePane, mosaic, to_display
from .schedule_preview import SchedulePreview

# Checkbox label → augmentation settings (engine.data.Augment); modest strengths that help on
# small images without destroying them.
AUGMENTATIONS = {
    "horizontal flip": {"hflip": 0.5},
    "random crop": {"crop_padding": 2},
    "rotation ±10°": {"rotation": 10.0},
    "translation ±10%": {"translate": 0.1},
    "colour jitter": {"brightness": 0.2, "contrast": 0.2},
}


def format_seconds(seconds: float) -> str:
    seconds = max(0, int(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


class TrainingPanel(QWidget):
    dataset_chosen = Signal(str)
    config_changed = Signal()
    start_clicked = Signal()
    pause_clicked = Signal()
    stop_clicked = Signal()
    evaluate_clicked = Signal()
    export_clicked = Signal()
    fix_requested = Signal(str)  # diagnostic code: "input_shape", "input_channels", "num_classes"

    def __init__(self, parent=None):
        super().__init__(parent)
        inner = QWidget()
        column = QVBoxLayout(inner)
        column.addWidget(self._build_data_group())
        column.addWidget(self._build_settings_group())
        column.addWidget(self._build_run_group())
        column.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        self.setMinimumWidth(340)
        scroll.setWidget(inner)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(scroll)
        # Long device names must not widen the panel past its dock (the form would be cut off).
        for combo in inner.findChildren(QComboBox):
            combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
            combo.setMinimumContentsLength(10)
            # Qt's minimumSizeHint of such a combo still counts the longest item (222 px for
            # the CPU entry): an explicit minimum lets the layout shrink it.
            combo.setMinimumWidth(90)
        self.set_state("idle")

    # -- construction ----------------------------------------------------------------------
    def _build_data_group(self) -> QGroupBox:
        box = QGroupBox("Data")
        self.dataset = QComboBox()
        for name in dataset_names.names():
            self.dataset.addItem(name, name)
            self.dataset.setItemData(self.dataset.count() - 1, dataset_names.describe(name), 0x0003)  # ToolTipRole
        self.dataset.currentIndexChanged.connect(lambda _i: self.dataset_chosen.emit(self.dataset.currentData()))
        self.dataset_info = plain_label()  # names of folders and classes: text, never markup
        self.dataset_info.setWordWrap(True)
        self.loading = QProgressBar()  # busy indicator while a dataset loads in the background
        self.loading.setRange(0, 0)
        self.loading.setTextVisible(True)
        self.loading.setObjectName("dataset_loading")
        self.loading.hide()
        self.preview = ImagePane("samples")
        self.preview.setFixedHeight(190)
        self.balance = ClassBalance()
        self.balance.setFixedHeight(120)
        self.problems = QVBoxLayout()
        form = QVBoxLayout(box)
        form.addWidget(self.dataset)
        form.addWidget(self.loading)
        form.addWidget(self.dataset_info)
        form.addWidget(self.preview)
        form.addWidget(self.balance)
        form.addLayout(self.problems)
        return box

    def _build_settings_group(self) -> QGroupBox:
        box = QGroupBox("Training")
        form = QFormLayout(box)
        form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)  # a narrow dock: fields go under labels
        self.device = QComboBox()
        self.device.addItem("detecting devices…", None)  # until set_devices (torch is loading)
        self._devices_known = False
        self._wanted_device = "auto"
        self.optimizer = QComboBox()
        self.optimizer.addItems(OPTIMIZERS)
        self.lr = QDoubleSpinBox()
        self.lr.setDecimals(5)
        self.lr.setRange(1e-5, 10.0)
        self.lr.setSingleStep(0.0005)
        self.schedule = QComboBox()
        self.schedule.addItems(SCHEDULES)
        self.warmup = QDoubleSpinBox()
        self.warmup.setRange(0, 100)
        self.warmup.setSingleStep(0.5)
        self.schedule_preview = SchedulePreview()
        self.batch_size = QSpinBox()
        self.batch_size.setRange(1, 4096)
        self.epochs = QSpinBox()
        self.epochs.setRange(1, 10000)
        self.seed = QSpinBox()
        self.seed.setRange(0, 2 ** 31 - 1)
        self.augment = {name: QCheckBox(name) for name in AUGMENTATIONS}
        augment_box = QVBoxLayout()
        for check in self.augment.values():
            augment_box.addWidget(check)
        form.addRow("Device", self.device)
        form.addRow("Optimizer", self.optimizer)
        form.addRow("Learning rate", self.lr)
        form.addRow("Schedule", self.schedule)
        form.addRow("Warm-up (epochs)", self.warmup)
        form.addRow(self.schedule_preview)
        form.addRow("Batch size", self.batch_size)
        form.addRow("Epochs", self.epochs)
        form.addRow("Augmentation", augment_box)
        form.addRow("Seed", self.seed)
        self.set_config(TrainConfig(optimizer="adam", lr=1e-3, batch_size=64, epochs=10))
        for w in (self.optimizer, self.schedule, self.device):
            w.currentIndexChanged.connect(lambda _i: self.config_changed.emit())
        for w in (self.lr, self.warmup, self.batch_size, self.epochs, self.seed):
            w.valueChanged.connect(lambda _v: self.config_changed.emit())
        for check in self.augment.values():
            check.toggled.connect(lambda _on: self.config_changed.emit())
        return box

    def _build_run_group(self) -> QGroupBox:
        box = QGroupBox("Run")
        self.start_button = QPushButton("Start")
        self.pause_button = QPushButton("Pause")
        self.stop_button = QPushButton("Stop")
        self.evaluate_button = QPushButton("Evaluate")
        self.evaluate_button.setToolTip("Evaluate the last run's best weights on the held-out validation set")
        self.export_button = QPushButton("Export…")
        self.start_button.clicked.connect(self.start_clicked)
        self.pause_button.clicked.connect(self.pause_clicked)
        self.stop_button.clicked.connect(self.stop_clicked)
        self.evaluate_button.clicked.connect(self.evaluate_clicked)
        self.export_button.clicked.connect(self.export_clicked)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setTextVisible(True)
        self.progress.setFormat("")
        self.status = plain_label("Ready.")
        self.status.setWordWrap(True)
        self.design_changed = QLabel("The design has changed since this run started; the run trains its own copy.")
        self.design_changed.setWordWrap(True)
        self.design_changed.setStyleSheet("color: #b9770e")
        self.design_changed.hide()
        self.error = QLabel()
        self.error.setWordWrap(True)
        self.error.setStyleSheet("color: #c0392b")
        self.error.hide()
        buttons = QHBoxLayout()
        for b in (self.start_button, self.pause_button, self.stop_button):
            buttons.addWidget(b)
        after = QHBoxLayout()
        after.addWidget(self.evaluate_button)
        after.addWidget(self.export_button)
        layout = QVBoxLayout(box)
        layout.addLayout(buttons)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        layout.addWidget(self.design_changed)
        layout.addWidget(self.error)
        layout.addLayout(after)
        return box

    # -- config ----------------------------------------------------------------------------
    def set_config(self, config: TrainConfig) -> None:
        self.optimizer.setCurrentText(config.optimizer)
        self.lr.setValue(config.lr)
        self.schedule.setCurrentText(config.schedule)
        self.warmup.setValue(config.warmup_epochs)
        self.batch_size.setValue(config.batch_size)
        self.epochs.setValue(config.epochs)
        self.seed.setValue(config.seed)
        self._wanted_device = config.device
        index = self.device.findData(config.device)
        if index >= 0:
            self.device.setCurrentIndex(index)

    def set_devices(self, choices) -> None:
        """The machine's devices (:func:`designer.training.devices.available_devices`), found once
        torch is imported; the device a config asked for meanwhile is selected if present."""
        self.device.blockSignals(True)
        self.device.clear()
        for choice in choices:
            self.device.addItem(choice.label, choice.key)
            # the full name as a tooltip: a narrow dock cuts the label off
            self.device.setItemData(self.device.count() - 1, choice.label, Qt.ItemDataRole.ToolTipRole)
        index = self.device.findData(self._wanted_device)
        self.device.setCurrentIndex(max(0, index))
        self.device.blockSignals(False)
        self._devices_known = True
        self.device.setEnabled(self.start_button.isEnabled())
        self.config_changed.emit()

    def config(self) -> TrainConfig:
        augment = {}
        for name, check in self.augment.items():
            if check.isChecked():
                augment.update(AUGMENTATIONS[name])
        return TrainConfig(dataset=self.dataset.currentData() or "digits", optimizer=self.optimizer.currentText(),
                           lr=self.lr.value(), schedule=self.schedule.currentText(),
                           warmup_epochs=self.warmup.value(), batch_size=self.batch_size.value(),
                           epochs=self.epochs.value(), seed=self.seed.value(), augment=augment,
                           device=self.device.currentData() or "cpu",
                           momentum=0.9, nesterov=self.optimizer.currentText() == "sgd")

    # -- showing ---------------------------------------------------------------------------
    def show_dataset(self, bundle, preview: DatasetPreview) -> None:
        """The dataset's samples and class balance, as sampled off the UI thread."""
        images, labels = preview.images, preview.labels
        tiles = np.stack([to_display(im) if np.asarray(im).ndim != 3 or im.shape[0] != 3 else
                          to_display(im).mean(axis=-1) for im in images]) if len(images) else np.zeros((1, 1, 1))
        self.preview.set_array(mosaic(tiles, gap=1, per_tile=False))
        self.preview.set_title(f"{len(labels)} validation samples")
        self.balance.show_counts(preview.class_counts, bundle.classes)
        shape = "×".join(str(s) for s in bundle.input_shape)
        self.dataset_info.setText(f"{dataset_names.describe(bundle.name)} — {len(bundle.train):,} training and "
                                  f"{len(bundle.val):,} validation samples of {shape}, {bundle.num_classes} classes")

    def show_loading(self, name: str | None, waiting_for_torch: bool = False) -> None:
        """A busy bar while ``name`` loads (None: done); the old preview stays until then.
        ``waiting_for_torch``: the load starts once PyTorch, loading in the background, is there."""
        self.loading.setVisible(name is not None)
        if name is None:
            return
        if waiting_for_torch:
            self.loading.setFormat("starting PyTorch…")
            self.dataset_info.setText(f"PyTorch is loading in the background; {name} loads as soon as it is "
                                      "there. The designer is ready to use meanwhile.")
        else:
            self.loading.setFormat(f"loading {name}…")
            self.dataset_info.setText(f"Loading {name} (downloads and big folders take a while; "
                                      "the app stays usable)…")

    def show_problems(self, problems) -> None:
        """The dataset-vs-design check, each problem with a one-click fix where there is one."""
        while self.problems.count():
            item = self.problems.takeAt(0)
            if item.widget():
                item.widget().deleteLater()
            elif item.layout():
                _clear(item.layout())
        if not problems:
            ok = QLabel("✓ the dataset fits the design")
            ok.setStyleSheet("color: #1e8449")
            self.problems.addWidget(ok)
            return
        for p in problems:
            row = QHBoxLayout()
            text = plain_label(f"{'⚠' if p.severity == 'warning' else '✗'} {p.message}")
            text.setWordWrap(True)
            text.setToolTip(plain_html(p.fix))
            text.setStyleSheet("color: #b9770e" if p.severity == "warning" else "color: #c0392b")
            row.addWidget(text, 1)
            if p.code in ("input_shape", "input_channels", "num_classes"):
                label = {"input_shape": "Set input shape", "input_channels": "Set input shape",
                         "num_classes": "Set class count"}[p.code]
                fix = QPushButton(label)
                fix.setToolTip(plain_html(p.fix))
                fix.setObjectName(f"fix_{p.code}")
                fix.clicked.connect(lambda _=False, code=p.code: self.fix_requested.emit(code))
                row.addWidget(fix)
            self.problems.addLayout(row)

    def set_state(self, state: str) -> None:
        """idle | running | paused | stopping: which buttons make sense now."""
        running = state in ("running", "paused", "stopping")
        self.start_button.setEnabled(not running)
        self.pause_button.setEnabled(state in ("running", "paused"))
        self.pause_button.setText("Resume" if state == "paused" else "Pause")
        self.stop_button.setEnabled(state in ("running", "paused"))
        for w in (self.dataset, self.device, self.optimizer, self.lr, self.schedule, self.warmup, self.batch_size,
                  self.epochs, self.seed, *self.augment.values()):
            w.setEnabled(not running)
        self.device.setEnabled(not running and self._devices_known)

    def show_progress(self, epoch: int, epochs: int, batch: int, batches: int, samples_per_second: float,
                      eta: float) -> None:
        done = (epoch + batch / max(1, batches)) / max(1, epochs)
        self.progress.setValue(int(1000 * done))
        self.progress.setFormat(f"epoch {epoch + 1}/{epochs} · batch {batch}/{batches}")
        self.status.setText(f"epoch {epoch + 1}/{epochs} · batch {batch}/{batches} · "
                            f"{samples_per_second:,.0f} samples/s · ETA {format_seconds(eta)}")

    def show_error(self, message: str) -> None:
        self.error.setText(message)
        self.error.setVisible(bool(message))


class ClassBalance(Deferred):
    """Training samples per class as bars (a pyqtgraph plot, made when first painted)."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self._counts = ([], [])

    def _build(self) -> None:
        self.plot = pg.PlotWidget(background="w", title="class balance (training set)")
        self.plot.getPlotItem().hideButtons()
        self.plot.setMouseEnabled(x=False, y=False)
        self.bars = pg.BarGraphItem(x=[], height=[], width=0.7, brush=(66, 133, 244))
        self.plot.addItem(self.bars)
        self.body.addWidget(self.plot)
        self.show_counts(*self._counts)

    def show_counts(self, counts, classes: list[str]) -> None:
        self._counts = (np.asarray(counts), list(classes))
        if self.is_built and len(self._counts[0]):
            self.bars.setOpts(x=np.arange(len(counts)), height=self._counts[0], width=0.7)
            self.plot.getAxis("bottom").setTicks([[(i, c[:6]) for i, c in enumerate(classes)]])


def _clear(layout) -> None:
    while layout.count():
        item = layout.takeAt(0)
        if item.widget():
            item.widget().deleteLater()
