"""The training panel: what to train on, how, on which device; Start, Pause/Resume, Stop; the
progress of the run. A form only: :mod:`designer.training.controller` does the work.

One screen at 1440×900: the samples and the class balance share a row, the common settings sit
in a two-column grid and the rarely changed ones (warm-up, seed, augmentation, the schedule's
curve) fold into *Advanced*, so Start and the live status show without scrolling in the dock's
first-start size (tests/training_ui/test_panel_fits.py).

It is built before torch is imported: the device list and the dataset preview fill in when the
controller passes them (:meth:`TrainingPanel.set_devices`, :meth:`TrainingPanel.show_dataset`).
"""
from __future__ import annotations

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from designer import theme as themes
from designer.plain_text import plain_html, plain_label
from engine import dataset_names
from engine.training.config import OPTIMIZERS, SCHEDULES, TrainConfig

from .dataset_chooser import DatasetChooser
from .dataset_preview import DatasetPreview
from .dataset_view import ClassBalance, DatasetView
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


PROGRESS_HZ = 5


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
    fix_requested = Signal(str)  # diagnostic code: "input_shape", "input_channels", "input_features", "num_classes"

    def __init__(self, parent=None):
        super().__init__(parent)
        inner = QWidget()
        column = QVBoxLayout(inner)
        column.setContentsMargins(6, 4, 6, 4)
        column.setSpacing(4)
        column.addWidget(self._build_data_group())
        column.addWidget(self._build_settings_group())
        column.addWidget(self._build_run_group())
        column.addStretch(1)
        scroll = self.scroll = QScrollArea()
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
        self._progress = None  # the latest progress not yet shown
        self._progress_timer = QTimer(self)
        self._progress_timer.setSingleShot(True)
        self._progress_timer.setInterval(1000 // PROGRESS_HZ)
        self._progress_timer.timeout.connect(self._show_progress_later)
        self.set_state("idle")

    # -- construction ----------------------------------------------------------------------
    def _build_data_group(self) -> QGroupBox:
        box = QGroupBox("Data")
        self.dataset = DatasetChooser()
        self.dataset.chosen.connect(self.dataset_chosen)
        self.dataset_info = plain_label()  # names of folders and classes: text, never markup
        self.dataset_info.setWordWrap(True)
        self.loading = QProgressBar()  # busy while a dataset loads; a download's bytes when it reports them
        self.loading.setRange(0, 0)
        self.loading.setTextVisible(True)
        self.loading.setObjectName("dataset_loading")
        self.loading.hide()
        self.view = DatasetView()
        self.preview, self.balance = self.view.samples, self.view.balance
        self.problems = QVBoxLayout()
        self._problems_shown = None  # (theme, problems) the rows show now
        self.problems.setSpacing(2)
        form = QVBoxLayout(box)
        form.setSpacing(4)
        form.addWidget(self.dataset)
        form.addWidget(self.loading)
        form.addWidget(self.dataset_info)
        form.addWidget(self.view)
        form.addLayout(self.problems)
        return box

    def use_settings(self, settings) -> None:
        """The window's settings: recent datasets are remembered there."""
        self.dataset.use_settings(settings)

    def _build_settings_group(self) -> QGroupBox:
        box = QGroupBox("Training")
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
        self.processes = QSpinBox()
        self.processes.setRange(1, 64)
        self.processes.setToolTip("Train with this many processes through torchrun (one per GPU; on the CPU they "
                                  "share the cores). The batch size stays the whole step's: each process trains "
                                  "its share of it.")
        self.augment = {name: QCheckBox(name) for name in AUGMENTATIONS}
        self._augmentable: frozenset[str] | None = None  # None: all (images); engine.data.augment.supported
        grid = QGridLayout(box)
        grid.setHorizontalSpacing(8)
        grid.setVerticalSpacing(1)
        _field(grid, 0, 0, "Device", self.device, span=2)
        _field(grid, 2, 0, "Optimizer", self.optimizer)
        _field(grid, 2, 1, "Learning rate", self.lr)
        _field(grid, 4, 0, "Batch size", self.batch_size)
        _field(grid, 4, 1, "Epochs", self.epochs)
        _field(grid, 6, 0, "Schedule", self.schedule)
        self.advanced_button = QToolButton()
        self.advanced_button.setObjectName("advanced_toggle")
        self.advanced_button.setText("Advanced")
        self.advanced_button.setToolTip("Warm-up, seed, augmentation and the learning-rate curve")
        self.advanced_button.setCheckable(True)
        self.advanced_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.advanced_button.setArrowType(Qt.ArrowType.RightArrow)
        self.advanced_button.setAutoRaise(True)
        grid.addWidget(self.advanced_button, 7, 1, Qt.AlignmentFlag.AlignBottom | Qt.AlignmentFlag.AlignRight)
        self.advanced = QWidget()
        self.advanced.setObjectName("advanced_settings")
        more = QGridLayout(self.advanced)
        more.setContentsMargins(0, 4, 0, 0)
        more.setHorizontalSpacing(8)
        more.setVerticalSpacing(1)
        _field(more, 0, 0, "Warm-up (epochs)", self.warmup)
        _field(more, 0, 1, "Seed", self.seed)
        more.addWidget(self.schedule_preview, 2, 0, 1, 2)
        self.augment_caption = QLabel("Augmentation")
        more.addWidget(self.augment_caption, 3, 0, 1, 2)
        for i, check in enumerate(self.augment.values()):
            more.addWidget(check, 4 + i // 2, i % 2)
        _field(more, 5 + len(self.augment) // 2, 0, "Processes", self.processes)
        self.advanced.hide()
        grid.addWidget(self.advanced, 8, 0, 1, 2)
        grid.setColumnStretch(0, 1)
        grid.setColumnStretch(1, 1)
        self.advanced_button.toggled.connect(self._show_advanced)
        self.set_config(TrainConfig(optimizer="adam", lr=1e-3, batch_size=64, epochs=10))
        for w in (self.optimizer, self.schedule, self.device):
            w.currentIndexChanged.connect(lambda _i: self.config_changed.emit())
        for w in (self.lr, self.warmup, self.batch_size, self.epochs, self.seed):
            w.valueChanged.connect(lambda _v: self.config_changed.emit())
        for check in self.augment.values():
            check.toggled.connect(lambda _on: self.config_changed.emit())
        return box

    def _show_advanced(self, shown: bool) -> None:
        self.advanced.setVisible(shown)
        self.advanced_button.setArrowType(Qt.ArrowType.DownArrow if shown else Qt.ArrowType.RightArrow)

    def _build_run_group(self) -> QGroupBox:
        box = QGroupBox("Run")
        self.start_button = QPushButton("Start")
        self.pause_button = QPushButton("Pause")
        self.stop_button = QPushButton("Stop")
        self.evaluate_button = QPushButton("Evaluate")
        self.evaluate_button.setToolTip("Evaluate the last run's best weights on the validation set")
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
        # Its text changes a few times a second during a run: its width must not move the panel's
        # layout (each move repainted the plots in it), and two lines are kept for it from the start.
        self.status.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Minimum)
        self.status.setMinimumHeight(2 * self.status.fontMetrics().lineSpacing() + 4)
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
            if check.isChecked() and self._augmentation_applies(name):
                augment.update(AUGMENTATIONS[name])
        return TrainConfig(dataset=self.dataset.currentData() or "digits", optimizer=self.optimizer.currentText(),
                           lr=self.lr.value(), schedule=self.schedule.currentText(),
                           warmup_epochs=self.warmup.value(), batch_size=self.batch_size.value(),
                           epochs=self.epochs.value(), seed=self.seed.value(), augment=augment,
                           device=self.device.currentData() or "cpu",
                           momentum=0.9, nesterov=self.optimizer.currentText() == "sgd")

    # -- showing ---------------------------------------------------------------------------
    def _augmentation_applies(self, name: str) -> bool:
        return self._augmentable is None or set(AUGMENTATIONS[name]) <= self._augmentable

    def _offer_augmentations(self, input_shape) -> None:
        """Only the augmentations the engine applies to these samples (a table takes none, a
        volume the flips): the others are greyed out and left out of the config."""
        from engine.data.augment import supported  # torch is loaded once a dataset is
        self._augmentable = supported(input_shape)
        running = not self.start_button.isEnabled()
        for name, check in self.augment.items():
            applies = self._augmentation_applies(name)
            check.setEnabled(applies and not running)
            check.setToolTip("" if applies else "not for this dataset's samples")
        offered = [name for name in self.augment if self._augmentation_applies(name)]
        self.augment_caption.setText("Augmentation" if len(offered) == len(self.augment) else
                                     "Augmentation (none for these samples)" if not offered else
                                     f"Augmentation ({len(offered)} of {len(self.augment)} apply to these samples)")
        self.config_changed.emit()

    def show_dataset(self, bundle, preview: DatasetPreview) -> None:
        """The dataset's samples (or first rows) and class balance, as sampled off the UI thread."""
        self.view.show_preview(bundle, preview)
        self._offer_augmentations(bundle.input_shape)
        shape = "×".join(str(x) for x in bundle.input_shape)
        kind = f"{len(bundle.feature_names)} features" if getattr(bundle, "feature_names", None) else shape
        self.dataset_info.setText(f"{len(bundle.train):,} training and {len(bundle.val):,} validation samples · "
                                  f"{kind} · {bundle.num_classes} classes")
        self.dataset_info.setToolTip(f"{bundle.name}: {dataset_names.describe(bundle.name)}")

    def show_loading(self, name: str | None, waiting_for_torch: bool = False) -> None:
        """A busy bar while ``name`` loads (None: done); the old preview stays until then.
        ``waiting_for_torch``: the load starts once PyTorch, loading in the background, is there."""
        self.loading.setVisible(name is not None)
        self.loading.setRange(0, 0)
        if name is None:
            return
        shown = dataset_names.short_name(name)
        if waiting_for_torch:
            self.loading.setFormat("starting PyTorch…")
            self.dataset_info.setText(f"PyTorch is loading in the background; {shown} loads as soon as it is "
                                      "there. The designer is ready to use meanwhile.")
        else:
            self.loading.setFormat(f"loading {shown}…")
            self.dataset_info.setText(f"Loading {shown} (downloads and big folders take a while; "
                                      "the app stays usable)…")

    def show_load_progress(self, fraction: float, message: str) -> None:
        """A download's progress (from the loading thread, through a queued signal)."""
        if not self.loading.isVisible():
            return
        self.loading.setRange(0, 1000)
        self.loading.setValue(int(1000 * max(0.0, min(1.0, fraction))))
        self.loading.setFormat(message)

    def show_problems(self, problems) -> None:
        """The dataset-vs-design check (engine.data.check), each problem with a one-click fix
        where there is one. The same problems in the same theme leave the rows alone: this runs
        after every edit, and remaking them (styled labels, buttons) was a tenth of an edit's
        cost on a big design."""
        shown = (themes.active().name, tuple((p.severity, p.message, p.fix, p.code) for p in problems))
        if shown == self._problems_shown:
            return
        self._problems_shown = shown
        while self.problems.count():
            item = self.problems.takeAt(0)
            if item.widget():
                item.widget().deleteLater()
            elif item.layout():
                _clear(item.layout())
        theme = themes.active()
        if not problems:
            ok = QLabel("✓ the dataset fits the design")
            ok.setObjectName("dataset_fits")
            ok.setStyleSheet(f"color: {theme.port_ok}")
            self.problems.addWidget(ok)
            return
        for p in problems:
            row = QHBoxLayout()
            text = plain_label(f"{'⚠' if p.severity == 'warning' else '✗'} {p.message}")
            text.setWordWrap(True)
            text.setToolTip(plain_html(p.fix))
            text.setStyleSheet(f"color: {theme.warning if p.severity == 'warning' else theme.bad_text}")
            text.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
            row.addWidget(text, 1)
            label = _fix_label(p)
            if label:
                fix = QPushButton(label)
                fix.setToolTip(plain_html(p.fix))
                fix.setObjectName(f"fix_{p.code}")
                fix.clicked.connect(lambda _=False, code=p.code: self.fix_requested.emit(code))
                row.addWidget(fix)
            else:
                text.setText(f"{text.text()} — {p.fix}" if p.fix else text.text())
            self.problems.addLayout(row)

    def set_state(self, state: str) -> None:
        """idle | running | paused | stopping: which buttons make sense now."""
        running = state in ("running", "paused", "stopping")
        self.start_button.setEnabled(not running)
        self.pause_button.setEnabled(state in ("running", "paused"))
        self.pause_button.setText("Resume" if state == "paused" else "Pause")
        self.stop_button.setEnabled(state in ("running", "paused"))
        for w in (self.dataset, self.device, self.optimizer, self.lr, self.schedule, self.warmup, self.batch_size,
                  self.epochs, self.seed):
            w.setEnabled(not running)
        self.device.setEnabled(not running and self._devices_known)
        for name, check in self.augment.items():
            check.setEnabled(not running and self._augmentation_applies(name))

    def show_progress(self, epoch: int, epochs: int, batch: int, batches: int, samples_per_second: float,
                      eta: float) -> None:
        """The run's progress, shown at most ``PROGRESS_HZ`` times a second (the latest values):
        batch events come at up to 30 Hz, and each new status text re-lays out the panel, on
        the UI thread that shares the GIL with the trainer."""
        self._progress = (epoch, epochs, batch, batches, samples_per_second, eta)
        if not self._progress_timer.isActive():
            self._show_progress_now()
            self._progress_timer.start()

    def flush_progress(self) -> None:
        """Show the latest progress now and nothing after it (a status message follows)."""
        self._progress_timer.stop()
        if self._progress is not None:
            self._show_progress_now()

    def _show_progress_later(self) -> None:
        if self._progress is not None:
            self._show_progress_now()
            self._progress_timer.start()

    def _show_progress_now(self) -> None:
        epoch, epochs, batch, batches, samples_per_second, eta = self._progress
        self._progress = None
        done = (epoch + batch / max(1, batches)) / max(1, epochs)
        self.progress.setValue(int(1000 * done))
        self.progress.setFormat(f"epoch {epoch + 1}/{epochs} · batch {batch}/{batches}")
        self.status.setText(f"epoch {epoch + 1}/{epochs} · batch {batch}/{batches} · "
                            f"{samples_per_second:,.0f} samples/s · ETA {format_seconds(eta)}")

    def show_error(self, message: str) -> None:
        self.error.setText(message)
        self.error.setVisible(bool(message))


def _field(grid: QGridLayout, row: int, column: int, label: str, widget: QWidget, span: int = 1) -> None:
    """A small label above its field: two fields side by side fit the dock's width."""
    caption = QLabel(label)
    caption.setBuddy(widget)
    grid.addWidget(caption, row, column, 1, span)
    grid.addWidget(widget, row + 1, column, 1, span)


def _fix_label(problem) -> str:
    """The one-click fix's button text, or "" when the fix is not one click (or would be wrong:
    a table's (F,) for a Conv1d's (1, F) is reshaped by the run, not fixed in the design)."""
    if problem.code == "num_classes":
        return "Set class count"
    if problem.code in ("input_channels", "input_features"):
        return "Set input shape"
    if problem.code == "input_shape":
        want, have = problem.expected, problem.received
        same_rank = want is None or have is None or len(tuple(want)) == len(tuple(have))
        return "Set input shape" if same_rank else ""
    return ""


def _clear(layout) -> None:
    while layout.count():
        item = layout.takeAt(0)
        if item.widget():
            item.widget().deleteLater()


__all__ = ["TrainingPanel", "ClassBalance", "AUGMENTATIONS", "format_seconds"]
