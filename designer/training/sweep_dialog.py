"""Run ▸ Sweep…: train the current design under several settings and compare the runs.

The dialog is a form over :mod:`engine.sweep`, which does the work: the grid is typed and checked
by :func:`engine.sweep.parse_grid` (its message shown at the row), the plan is
:func:`engine.sweep.plan_points`, and :class:`engine.sweep.Sweep` runs each point as
``main.py train`` in its own process into a normal run folder under the sweep's folder. The base
of every run is the training panel's configuration when Start is pressed; the design is a copy
taken then, so editing it meanwhile does not change the sweep.

``Sweep.run`` blocks, so it runs in a :class:`~designer.training.background.BackgroundTask`; its
``on_change`` is called from the sweep's worker threads and only emits :attr:`SweepDialog.point_changed`
(queued to the UI thread) with a copy of the result. Closing the dialog during a sweep asks and
stops it; closing the app stops it and waits at most :data:`SHUTDOWN_WAIT_MS` before killing the
runs still going (:meth:`engine.sweep.Sweep.kill`).

*Use the best settings* puts the best run's training settings into the panel. When the best run
trained a design variant (another template, a width multiplier), it also offers to open that
variant as a new, untitled design; declined, it says that only the training settings were applied.

The settings editor is in :mod:`.sweep_settings`, the results table's model and the curves in
:mod:`.sweep_results`.
"""
from __future__ import annotations

import dataclasses
import time
from pathlib import Path

from PySide6.QtCore import QEvent, QObject, QSortFilterProxyModel, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QDialog,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QPushButton,
    QSpinBox,
    QSplitter,
    QTableView,
    QVBoxLayout,
)

from engine.sweep import (
    DESIGN_SETTINGS,
    PointResult,
    Sweep,
    SweepError,
    make_variant,
    plan_points,
    point_label,
)
from engine.training.rundir import read_metrics

from .background import BackgroundTask
from .parallel_coordinates import ParallelCoordinates
from .sweep_results import SORT_ROLE, SweepCurves, SweepTableModel
from .sweep_settings import SettingsEditor, setting_names

SHUTDOWN_WAIT_MS = 10_000  # the app closing: runs get this long to stop after their batch, then are killed
CURVE_REFRESH_MS = 2000  # the running runs' curves are re-read from their folders this often


# -- the dialog --------------------------------------------------------------------------------
class SweepDialog(QDialog):
    point_changed = Signal(object)  # a copy of a PointResult, emitted from the sweep's threads
    sweep_finished = Signal()

    def __init__(self, controller, window=None, parent=None):
        super().__init__(parent)
        self.setWindowTitle("Sweep")
        self.setModal(False)
        self.controller, self.window = controller, window
        self.sweep: Sweep | None = None
        self.task: BackgroundTask | None = None
        self._running_since: dict[int, float] = {}
        self.setting_order: list[str] = []
        self.ask_to_stop = self._ask_to_stop  # replaced in tests
        self._build()
        self.point_changed.connect(self._on_point_changed)
        controller.panel.config_changed.connect(self.update_plan)  # the plan names its epochs and dataset
        self._curve_timer = QTimer(self)
        self._curve_timer.setInterval(CURVE_REFRESH_MS)
        self._curve_timer.timeout.connect(self._refresh_running_curves)
        self.update_plan()
        self.resize(1180, 820)

    # -- construction ----------------------------------------------------------------------
    def _build(self) -> None:
        self.editor = SettingsEditor()
        self.editor.changed.connect(self.update_plan)
        self.random_count = QSpinBox()
        self.random_count.setRange(0, 10_000)
        self.random_count.setSpecialValueText("all combinations")
        self.random_count.setToolTip("run this many combinations drawn at random (the seed is the panel's)")
        self.random_count.valueChanged.connect(lambda _v: self.update_plan())
        self.parallel = QSpinBox()
        self.parallel.setRange(1, 64)
        self.parallel.setValue(1)
        self.parallel.setToolTip("runs at the same time; on the CPU they share its cores")
        self.parallel.valueChanged.connect(lambda _v: self.update_plan())
        self.device_boxes: dict[str, QCheckBox] = {}
        self.devices_row = QHBoxLayout()
        self.devices_row.setSpacing(8)
        self._fill_devices()
        self.plan = QLabel()
        self.plan.setWordWrap(True)
        self.plan.setTextFormat(Qt.TextFormat.PlainText)

        settings_box = QGroupBox("Settings to vary (the rest are the Training panel's)")
        box_layout = QVBoxLayout(settings_box)
        box_layout.addWidget(self.editor)
        options = QHBoxLayout()
        options.addWidget(QLabel("Random:"))
        options.addWidget(self.random_count)
        options.addSpacing(12)
        options.addWidget(QLabel("Parallel runs:"))
        options.addWidget(self.parallel)
        options.addSpacing(12)
        options.addWidget(QLabel("Devices:"))
        options.addLayout(self.devices_row)
        options.addStretch(1)
        box_layout.addLayout(options)
        box_layout.addWidget(self.plan)

        self.start_button = QPushButton("Start")
        self.start_button.setDefault(True)
        self.stop_button = QPushButton("Stop")
        self.best_button = QPushButton("Use the best settings")
        self.best_button.setToolTip("put the best run's training settings into the Training panel")
        self.status = QLabel("")
        self.status.setTextFormat(Qt.TextFormat.PlainText)
        self.status.setWordWrap(True)
        self.start_button.clicked.connect(self.start)
        self.stop_button.clicked.connect(self.stop)
        self.best_button.clicked.connect(self.use_best)
        buttons = QHBoxLayout()
        buttons.addWidget(self.start_button)
        buttons.addWidget(self.stop_button)
        buttons.addWidget(self.status, 1)
        buttons.addWidget(self.best_button)

        self.model = SweepTableModel(self)
        self.proxy = QSortFilterProxyModel(self)
        self.proxy.setSourceModel(self.model)
        self.proxy.setSortRole(SORT_ROLE)
        self.table = QTableView()
        self.table.setModel(self.proxy)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(0, Qt.SortOrder.AscendingOrder)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.setAlternatingRowColors(True)
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.selectionModel().selectionChanged.connect(lambda *_: self._on_table_selection())

        self.curves = SweepCurves()
        self.coordinates = ParallelCoordinates()
        self.coordinates.point_clicked.connect(self.select_point)
        # Hover in step: a line under the pointer tints its row; a row under the pointer thickens its line.
        self.coordinates.point_hovered.connect(self.model.set_hovered)
        self.table.setMouseTracking(True)
        self.table.entered.connect(lambda index: self.coordinates.set_hovered(
            self.model.results[self.proxy.mapToSource(index).row()].index))
        self.table.viewport().installEventFilter(self)
        plots = QSplitter(Qt.Orientation.Horizontal)
        plots.addWidget(self.curves)
        plots.addWidget(self.coordinates)
        plots.setSizes([560, 560])
        body = QSplitter(Qt.Orientation.Vertical)
        body.addWidget(self.table)
        body.addWidget(plots)
        body.setSizes([260, 360])

        layout = QVBoxLayout(self)
        layout.addWidget(settings_box)
        layout.addLayout(buttons)
        layout.addWidget(body, 1)
        self._set_running(False)

    def _fill_devices(self) -> None:
        """The panel's device list (filled once torch is imported); the panel's device ticked."""
        combo = self.controller.panel.device
        wanted = combo.currentData() or "cpu"
        keys = [combo.itemData(i) for i in range(combo.count()) if combo.itemData(i)] or ["cpu"]
        for key in keys:
            box = QCheckBox(key)
            box.setChecked(key == wanted)
            box.setToolTip(combo.itemText(combo.findData(key)) if combo.findData(key) >= 0 else key)
            box.toggled.connect(lambda _on: self.update_plan())
            self.device_boxes[key] = box
            self.devices_row.addWidget(box)
        if len(keys) == 1:
            self.device_boxes[keys[0]].setEnabled(False)  # nothing to choose

    def devices(self) -> list[str]:
        return [key for key, box in self.device_boxes.items() if box.isChecked()]

    # -- the plan --------------------------------------------------------------------------
    def points(self) -> list[dict]:
        grid = self.editor.grid
        if grid is None:
            return []
        return plan_points(grid, self.random_count.value(), seed=self.controller.panel.seed.value())

    def update_plan(self) -> None:
        if self.is_running():
            return
        points = self.points()
        if self.editor.grid is None:
            self.plan.setText("Fix the settings above to see the plan.")
        elif not self.devices():
            self.plan.setText("Tick at least one device.")
        else:
            config = self.controller.panel.config()
            n = len(points)
            parallel = min(self.parallel.value(), n)
            where = ", ".join(self.devices())
            self.plan.setText(f"{n} run{'s' * (n != 1)} of {self.controller.document.design.name} on "
                              f"{config.dataset}, {config.epochs} epoch{'s' * (config.epochs != 1)} each, "
                              f"{parallel} at a time on {where}.")
        self.start_button.setEnabled(bool(points) and bool(self.devices()))

    # -- running ---------------------------------------------------------------------------
    def is_running(self) -> bool:
        return self.task is not None and self.task.is_running()

    def start(self) -> None:
        if self.is_running():
            return
        points = self.points()
        if not points:
            return
        document = self.controller.document
        if not document.report.valid:
            errors = "\n".join(str(d) for d in document.report.errors[:3])
            self.status.setText(f"The design has errors; fix them first:\n{errors}")
            return
        base = self.controller.panel.config()
        design = document.design.copy()  # the design as it is now: later edits do not change the sweep
        stamp = time.strftime("%Y%m%d-%H%M%S")
        name = "".join(ch if ch.isalnum() or ch in "-_" else "-" for ch in design.name).strip("-")[:40] or "design"
        folder = Path(self.controller.runs_root) / f"sweep-{name}-{stamp}"
        devices = self.devices()
        self.sweep = Sweep(design, base, points, folder, devices=devices, on_change=self._emit_change)
        self.setting_order = list(self.editor.grid or {})
        self.model.reset(self.setting_order, [dataclasses.replace(r) for r in self.sweep.results], base.epochs)
        self._running_since: dict[int, float] = {}
        self.coordinates.set_results(self.setting_order, self.model.results)
        self.curves.show_runs([])
        sweep, parallel = self.sweep, self.parallel.value()
        if self.task is not None:
            self.task.deleteLater()  # the last sweep's task: its thread has ended
        self.task = BackgroundTask(lambda _progress: sweep.run(parallel), "sweep", self)
        self.task.done.connect(self._on_sweep_done)
        self.task.failed.connect(self._on_sweep_failed)
        self._set_running(True)
        self.status.setText(f"Running {len(points)} runs into {folder}")
        self._curve_timer.start()
        self.task.start()

    def _emit_change(self, result: PointResult) -> None:
        """In a sweep thread: a copy crosses to the UI thread, never the live object."""
        self.point_changed.emit(dataclasses.replace(result, settings=dict(result.settings)))

    def _on_point_changed(self, result: PointResult) -> None:
        self.model.update(result)
        if result.status == "running":
            self._running_since[result.index] = time.monotonic()
            self.model.set_progress(result.index, 0, 0.0)
        if result.status != "running":
            self.coordinates.set_results(self.setting_order, self.model.results)
            self.coordinates.set_selected(self.selected_indices())
            self._show_curves()
        counts = self._counts()
        if self.is_running():
            self.status.setText(f"{counts['done']} of {len(self.model.results)} runs done"
                                + (f", {counts['running']} running" if counts["running"] else ""))

    def _counts(self) -> dict:
        results = self.model.results
        return {"done": sum(r.status not in ("queued", "running") for r in results),
                "running": sum(r.status == "running" for r in results)}

    def _on_sweep_done(self, results) -> None:
        self._curve_timer.stop()
        self.model.reset(self.setting_order, [dataclasses.replace(r) for r in results])
        self.coordinates.set_results(self.setting_order, self.model.results)
        self._show_curves()
        self._set_running(False)
        finished = sum(r.status == "completed" for r in results)
        best = self.sweep.best() if self.sweep is not None else None
        text = f"Finished: {finished} of {len(results)} runs completed"
        if best is not None:
            text += f"; best {point_label(best.settings)} at {best.best_val_accuracy:.2%}"
        self.status.setText(text + f". Folder: {self.sweep.folder if self.sweep else ''}")
        self.sweep_finished.emit()

    def _on_sweep_failed(self, message: str) -> None:
        self._curve_timer.stop()
        self._set_running(False)
        self.status.setText(f"The sweep stopped with an error: {message}")
        self.sweep_finished.emit()

    def stop(self) -> None:
        if self.is_running() and self.sweep is not None:
            self.sweep.stop()
            self.stop_button.setEnabled(False)
            self.status.setText("Stopping: running runs end after their batch, the others are skipped…")

    def shutdown(self, timeout_ms: int = SHUTDOWN_WAIT_MS) -> None:
        """The app is closing: stop the sweep and wait for it, killing its runs if they take too
        long, so closing never hangs (safe to call twice)."""
        self._curve_timer.stop()
        if self.task is None or not self.task.is_running() or self.sweep is None:
            return
        self.sweep.stop()
        if not self.task.wait(timeout_ms):
            self.sweep.kill()
            self.task.wait(5000)

    def close_quietly(self) -> None:
        """The app's window is gone: stop without asking, and hide."""
        self.shutdown()
        self.hide()

    def _set_running(self, running: bool) -> None:
        self.start_button.setEnabled(not running and bool(self.points()))
        self.stop_button.setEnabled(running)
        self.editor.setEnabled(not running)
        for w in (self.random_count, self.parallel, *self.device_boxes.values()):
            w.setEnabled(not running and (len(self.device_boxes) > 1 or w not in self.device_boxes.values()))
        self.best_button.setEnabled(not running and self.model.best_index is not None)
        if not running:
            self.update_plan()

    def eventFilter(self, watched, event) -> bool:  # noqa: N802 - Qt's name
        if watched is self.table.viewport() and event.type() == QEvent.Type.Leave:
            self.coordinates.set_hovered(-1)
        return False

    def closeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        if self.is_running():
            if not self.ask_to_stop():
                event.ignore()
                return
            self.stop()
        event.accept()

    def _ask_to_stop(self) -> bool:
        counts = self._counts()
        answer = QMessageBox.question(
            self, "Stop the sweep?",
            f"The sweep is running ({counts['done']} of {len(self.model.results)} runs done). "
            "Stop it and close? Finished runs are kept.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, QMessageBox.StandardButton.No)
        return answer == QMessageBox.StandardButton.Yes

    # -- table, curves and plot in step ------------------------------------------------------
    def selected_indices(self) -> list[int]:
        rows = {self.proxy.mapToSource(i).row() for i in self.table.selectionModel().selectedRows()}
        return sorted(self.model.results[r].index for r in rows if 0 <= r < len(self.model.results))

    def select_point(self, index: int) -> None:
        """A line clicked in the parallel-coordinates plot: its row selected and shown."""
        if not 0 <= index < len(self.model.results):
            return
        proxy_index = self.proxy.mapFromSource(self.model.index(index, 0))
        self.table.selectRow(proxy_index.row())
        self.table.scrollTo(proxy_index)

    def _on_table_selection(self) -> None:
        self.coordinates.set_selected(self.selected_indices())
        self._show_curves()

    def _show_curves(self) -> None:
        """The selected runs' curves; with none selected, every run that has any."""
        chosen = set(self.selected_indices())
        results = [r for r in self.model.results
                   if (r.index in chosen if chosen else r.status not in ("queued", "invalid"))]
        self.curves.show_runs(results)

    def _refresh_running_curves(self) -> None:
        """The running runs' epochs so far (their folders' metrics) and their curves."""
        running = [r for r in self.model.results if r.status == "running"]
        for r in running:
            since = self._running_since.get(r.index, time.monotonic())
            self.model.set_progress(r.index, len(read_metrics(r.run_dir)), time.monotonic() - since)
        if running:
            self._show_curves()

    # -- the best run ------------------------------------------------------------------------
    def use_best(self) -> str:
        """Put the best run's training settings into the panel; returns what was said."""
        best = self.sweep.best() if self.sweep is not None else None
        if best is None:
            return ""
        panel = self.controller.panel
        training = {k: v for k, v in best.settings.items() if k not in DESIGN_SETTINGS}
        variant = {k: v for k, v in best.settings.items() if k in DESIGN_SETTINGS}
        panel.set_config(panel.config().replace(**training))
        shown = panel.config().to_dict()
        missing = {k: v for k, v in training.items() if shown.get(k) != v}
        text = f"The Training panel now has {point_label(training) if training else 'its own settings'}"
        if missing:
            text += f" (the panel has no field for {point_label(missing)}: set it in a configuration file)"
        text += "."
        if variant:
            text = self._offer_variant(variant, text)
        self.status.setText(text)
        return text

    def _offer_variant(self, variant: dict, text: str) -> str:
        label = point_label(variant)
        files = getattr(self.window, "files", None)
        if files is not None and self.ask_open_variant(label):
            try:
                design = make_variant(self.sweep.design, variant)
            except SweepError as e:
                return text + f" The variant {label} could not be built: {e}"
            if files.maybe_discard():
                self.controller.document.replace_design(design)
                return text + f" The variant {label} is open as a new, unsaved design."
        return text + f" Only the training settings were applied: the best run trained the variant {label}, " \
                      "whose design is in its run folder (sweep-design.json)."

    def ask_open_variant(self, label: str) -> bool:
        answer = QMessageBox.question(
            self, "Open the variant?",
            f"The best run trained a variant of the design ({label}). Open it as a new design in "
            "place of the current one?", QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No)
        return answer == QMessageBox.StandardButton.Yes


class _WindowCloseWatcher(QObject):
    """The main window closed (and stayed closed: it may refuse, with unsaved changes): the
    sweep stops before the window, and the dialog with it, can be deleted."""

    def __init__(self, window, dialog):
        super().__init__(dialog)
        self._window, self._dialog = window, dialog
        window.installEventFilter(self)

    def eventFilter(self, obj, event) -> bool:  # noqa: N802 - Qt's name
        if event.type() == QEvent.Type.Close:
            QTimer.singleShot(0, self, self._after_close)
        return False

    def _after_close(self) -> None:
        if not self._window.isVisible():
            self._dialog.close_quietly()


def open_sweep_dialog(window) -> SweepDialog | None:
    """Run ▸ Sweep…: the window's one sweep dialog, made on first use, stopped when the app quits."""
    controller = getattr(window, "training", None)
    if controller is None:
        return None
    dialog = getattr(window, "sweep_dialog", None)
    if dialog is None:
        dialog = SweepDialog(controller, window, parent=window)
        dialog.setWindowFlag(Qt.WindowType.Window, True)
        window.sweep_dialog = dialog
        from PySide6.QtWidgets import QApplication

        app = QApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(dialog.shutdown)
        dialog._close_watcher = _WindowCloseWatcher(window, dialog)
    dialog.show()
    dialog.raise_()
    dialog.activateWindow()
    return dialog


__all__ = ["SettingsEditor", "SweepDialog", "SweepTableModel", "open_sweep_dialog", "setting_names"]
