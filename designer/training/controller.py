"""Ties the training panel and views to the document and the run: loads datasets, offers the
fixes, starts a :class:`TrainingSession` on a snapshot of the design, turns the trainer's
events into run-history points and view updates, and stops the run when the window closes.

Torch is imported in the background after the window's first frame (:mod:`.torch_runtime`);
until then the panel says so, and a dataset chosen meanwhile loads as soon as torch is there.
Every torch call runs in a background thread; the modules that import torch are reached through
lazy stand-ins, first used after that import.
"""
from __future__ import annotations

import tempfile
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from engine.analysis import analyze
from engine.blocks.lazy import LazyModule
from engine.runs import RunHistory, RunRecord
from engine.training import events as ev

from . import inspection, torch_runtime
from .background import BackgroundTask, LatestOnly
from .dataset_preview import preview_of, with_preview
from .worker import TrainingSession

# These import torch: used only once torch_runtime has imported them off the UI thread.
datasets = LazyModule("engine.data")
probes = LazyModule("designer.training.probes")
engine_adapter = LazyModule("designer.training.engine_adapter")

_NOT_FITTED = object()  # _fitted_for of samples not yet shown for any input shape
MAX_TAPPED_NODES = 24  # feature maps sampled per run; the selected node always among them


class TrainingController(QObject):
    run_finished = Signal(str)  # status

    def __init__(self, document, panel, views, history: RunHistory | None = None, runs_root=None, parent=None):
        super().__init__(parent)
        self.document, self.panel, self.views = document, panel, views
        self.runs_root = Path(runs_root) if runs_root else Path(tempfile.gettempdir()) / "network-designer-runs"
        self.history = history or RunHistory(self.runs_root)
        self.session: TrainingSession | None = None
        self.record: RunRecord | None = None
        self.bundle = self.raw_bundle = None
        self._fitted_for = None
        self._fitting = False  # the samples are being resized to the design's input in the background
        self.started = None  # RunStarted of the current run
        self.trained_state: dict | None = None  # weights of the last finished run (CPU tensors)
        self.trained_design = None
        self.weights_origin = ""  # where trained_state came from, for the Export dialog
        self.initial_weights_path: str | None = None  # imported weights the next run starts from
        self._loading: str | None = None  # the dataset being loaded in the background
        self._start_when_loaded = False
        self._previews: dict[int, tuple] = {}  # id(bundle) → (bundle, DatasetPreview), raw and fitted
        self._closed = False
        self._tasks: list[BackgroundTask] = []  # background loads still running
        self.jobs = LatestOnly(self)  # probes, evaluation, reading weights: off the UI thread
        self._unsubscribe = document.design.subscribe(self._on_design_event)

        panel.dataset_chosen.connect(self.choose_dataset)
        panel.config_changed.connect(self._update_schedule_preview)
        panel.start_clicked.connect(self.start)
        panel.pause_clicked.connect(self.toggle_pause)
        panel.stop_clicked.connect(self.stop)
        panel.fix_requested.connect(self.apply_fix)
        panel.evaluate_clicked.connect(self.evaluate)
        panel.export_clicked.connect(self.open_export_dialog)
        document.design_replaced.connect(self._forget_imported_weights)
        document.selection_changed.connect(self._on_selection_changed)
        document.report_changed.connect(lambda _r: self.recheck())
        fm = views.feature_maps
        fm.shift_changed.connect(lambda _dy, _dx: self.update_equivariance())
        fm.sample_changed.connect(self._on_sample_changed)
        views.runs.selection_changed.connect(self._on_runs_chosen)
        self._update_schedule_preview()  # plain arithmetic: drawn at once
        self.choose_dataset(panel.dataset.currentData())  # waits for torch
        torch_runtime.when_ready(self._on_torch_ready, self._on_torch_failed)

    def _on_torch_ready(self, devices) -> None:
        if self._closed:
            return
        self.panel.set_devices(devices)
        if self._loading is not None:
            self.choose_dataset(self._loading)

    def _on_torch_failed(self, message: str) -> None:
        if self._closed:
            return
        self._loading = None
        self._start_when_loaded = False
        self.panel.show_loading(None)
        self.panel.show_error(f"PyTorch could not be loaded, so training is unavailable: {message}")

    # -- data --------------------------------------------------------------------------------
    def choose_dataset(self, name: str) -> None:
        """Load in a background thread (a download or a big image folder must not freeze the
        window); a later choice supersedes one still loading. The same choice while it is
        loading starts nothing: torch's readiness arriving after a load began used to start a
        second, concurrent load of the same dataset (and the two could hang each other)."""
        if name == self._loading and any(getattr(t, "dataset_name", None) == name and t.is_running()
                                         for t in self._tasks):
            return
        self._loading = name
        if not torch_runtime.is_ready():
            if torch_runtime.error():
                self._on_torch_failed(torch_runtime.error())
            else:
                self.panel.show_loading(name, waiting_for_torch=True)  # _on_torch_ready loads the latest choice
            return
        self.panel.show_loading(name)
        task = BackgroundTask(lambda _progress: with_preview(datasets.load(name)), "dataset", self)
        task.dataset_name = name
        task.done.connect(lambda bundle, n=name, t=task: self._on_dataset_loaded(n, bundle, t))
        task.failed.connect(lambda message, n=name, t=task: self._on_dataset_failed(n, message, t))
        self._tasks.append(task)
        task.start()

    def dataset_loading(self) -> bool:
        return self._loading is not None

    def _task_over(self, task: BackgroundTask) -> None:
        if task in self._tasks:
            self._tasks.remove(task)
        task.deleteLater()

    def _on_dataset_loaded(self, name: str, loaded, task) -> None:
        self._task_over(task)
        if name != self._loading:
            return  # superseded by a later choice
        self._loading = None
        self.panel.show_loading(None)
        bundle, preview = loaded
        self.raw_bundle = self.bundle = bundle
        self._remember_preview(bundle, preview)
        self.panel.show_error("")
        self._fitted_for = _NOT_FITTED  # even a design without an input shape gets the samples shown
        self.recheck()
        self._update_schedule_preview()
        if self._start_when_loaded:
            self._start_when_loaded = False
            self.start()

    def _on_dataset_failed(self, name: str, message: str, task) -> None:
        self._task_over(task)
        if name != self._loading:
            return
        self._loading = None
        self._start_when_loaded = False
        self.raw_bundle = self.bundle = None  # the old samples would not match the chosen name
        self.panel.show_loading(None)
        self.panel.show_error(f"Cannot load {name}: {message}")
        if self.panel.start_button.isEnabled():
            self.panel.status.setText("Choose a dataset that loads.")

    def _show_bundle(self) -> None:
        bundle = self.bundle
        entry = self._previews.get(id(bundle))
        if entry is None or entry[0] is not bundle:  # a bundle set from outside: sample it off-thread
            self.jobs.submit("preview", lambda _p: preview_of(bundle), lambda p: self._on_preview(bundle, p))
            return
        preview = entry[1]
        self.panel.show_dataset(bundle, preview)
        self.views.feature_maps.set_samples(preview.images, preview.labels, bundle.classes)
        if len(preview.images):
            self.views.kernels.set_image(preview.images[0])
        self.update_equivariance()

    def _on_preview(self, bundle, preview) -> None:
        if bundle is self.bundle:
            self._remember_preview(bundle, preview)
            self._show_bundle()

    def _remember_preview(self, bundle, preview) -> None:
        """Keep the previews of the raw and the fitted bundle only."""
        kept = {key: entry for key, entry in self._previews.items()
                if entry[0] is self.raw_bundle or entry[0] is self.bundle}
        kept[id(bundle)] = (bundle, preview)
        self._previews = kept

    def _fit_bundle_to_design(self) -> None:
        """Resize the samples to the design's input when only the size differs (the trainer
        does the same with ``resize``), so the preview shows what the network will see."""
        want = self.document.design.input_shape
        self._fitted_for = want
        raw = self.bundle = self.raw_bundle
        if raw is None or not want or len(want) != len(raw.input_shape) or tuple(want) == tuple(raw.input_shape):
            self._fitting = False
            self._show_bundle()
            return
        self._fitting = True  # until then the raw samples' mismatch is not worth showing
        # Resizing a whole dataset (to 3×224×224 for an ImageNet template: about a gigabyte)
        # takes seconds: do it off the UI thread; a newer shape replaces a pending resize.
        self.jobs.submit("fit", lambda _p: with_preview(datasets.adapt(raw, want)),
                         lambda fitted: self._on_fitted(raw, *fitted), lambda _message: self._on_fitted(raw, raw))

    def _on_fitted(self, raw, fitted, preview=None) -> None:
        # A result for a dataset that has since been replaced would show the wrong samples.
        if fitted is not None and raw is self.raw_bundle:
            self._fitting = False
            self.bundle = fitted
            if preview is not None:
                self._remember_preview(fitted, preview)
            self._show_bundle()
            self.panel.show_problems(datasets.check(self.bundle, self.document.design, loss=self._loss()))

    def recheck(self) -> None:
        """Re-check the data against the design (after every analysed edit); when the design's
        input shape changed, the samples are resized to it first."""
        if getattr(self, "raw_bundle", None) is None:
            return
        if self.document.design.input_shape != self._fitted_for:
            self._fit_bundle_to_design()
        if not self._fitting:  # else the resize's end shows the check
            self.panel.show_problems(datasets.check(self.bundle, self.document.design, loss=self._loss()))

    def _loss(self) -> str:
        """The loss the next run will train with (the data check refuses a single output with it)."""
        try:
            return self.panel.config().loss
        except Exception:  # noqa: BLE001 - a half-typed value: the default loss
            return "cross_entropy"

    def apply_fix(self, code: str) -> None:
        """One-click fixes, through the document so each is one undo step."""
        design = self.document.design
        if code in ("input_shape", "input_channels"):
            inputs = design.input_nodes()
            if inputs:
                self.document.set_params(inputs[0].id, {"shape": list(self.bundle.input_shape)})
        elif code == "num_classes":
            head = last_linear(design)
            if head is not None:
                self.document.set_params(head, {"out_features": self.bundle.num_classes})
            self.document.set_meta(num_classes=self.bundle.num_classes)
        self.document.refresh()
        self.recheck()

    def _update_schedule_preview(self) -> None:
        try:
            config = self.panel.config()
        except Exception:  # noqa: BLE001 - a half-typed value; the preview waits
            return
        n = len(self.bundle.train) if self.bundle is not None else 1000
        self.panel.schedule_preview.show_config(config, max(1, -(-n // config.batch_size)))

    # -- the run -----------------------------------------------------------------------------
    def start(self) -> None:
        if self.session is not None and self.session.is_running():
            return
        if self.dataset_loading():
            self._start_when_loaded = True
            self.panel.status.setText("Starting as soon as the dataset has loaded…")
            return
        if self.bundle is None:
            self.panel.show_error("No dataset is loaded: choose one that loads first.")
            return
        design = self.document.design
        report = analyze(design)
        if not report.valid:
            self.panel.show_error("The design has errors; fix them first:\n" + "\n".join(str(d) for d in report.errors[:3]))
            return
        taps = self._tapped_nodes(design)
        config = self.panel.config().replace(feature_map_nodes=taps)
        if self.initial_weights_path:
            config = config.replace(init_weights=self.initial_weights_path)
        # The panel's loaded dataset goes to the trainer as is: same split, same samples. The
        # trainer takes the run's one snapshot of the design; the record shares it (never edited).
        trainer = engine_adapter.make_trainer(design, config, dataset=self.bundle)
        record = self.history.new_run(trainer.design, config.to_dict())
        self.record = record
        run_dir = str(Path(record.checkpoints_dir).parent)
        trainer.run_dir = Path(run_dir)
        fm = self.views.feature_maps
        if len(fm.samples):
            trainer.inspect(fm.samples[fm.sample_spin.value()])
        self.session = TrainingSession(trainer, self)
        self.session.run_dir = run_dir
        self.session.event.connect(self._on_event)
        self.session.finished.connect(self._on_finished)
        self.views.feature_maps.clear_maps()
        self.views.feature_maps.prepare_confusion(self.bundle.num_classes)
        self.views.feature_maps.set_node_names({n: design.nodes[n].name for n in design.nodes})
        self.views.runs.add_run(record)
        self.views.curves.set_runs(self.views.runs.chosen_runs(), record.run_id)
        self.panel.show_error("")
        self.panel.design_changed.hide()
        self.panel.status.setText("Starting…")
        self.panel.set_state("running")
        self.session.start()

    def _tapped_nodes(self, design) -> list[str]:
        spatial = inspection.spatial_nodes(design)
        selected = [n for n in self.document.selection if n in design.nodes and design.nodes[n].block != "output"]
        chosen = selected + [n for n in spatial if n not in selected]
        return chosen[:MAX_TAPPED_NODES]

    def toggle_pause(self) -> None:
        if self.session is None or not self.session.is_running():
            return
        if self.session.paused:
            self.session.resume()
            self.panel.set_state("running")
        else:
            self.session.pause()
            self.panel.set_state("paused")
            self.panel.status.setText(self.panel.status.text() + " — paused")

    def stop(self) -> None:
        if self.session is not None and self.session.is_running():
            self.session.stop()
            self.panel.set_state("stopping")
            self.panel.status.setText("Stopping after this batch…")

    def shutdown(self) -> None:
        """The window is closing: stop the run and wait for its thread (safe to call twice)."""
        self._closed = True
        self._unsubscribe()
        self._start_when_loaded = False
        if self.session is not None:
            self.session.shutdown()
        for task in list(self._tasks):  # a download cannot be interrupted: wait for it
            task.wait()
        self.jobs.wait_all()

    def _on_event(self, event) -> None:
        self.record.apply(event)
        if isinstance(event, ev.BatchProgress):
            self.views.curves.mark_dirty()
            epochs = self.started.epochs if self.started else self.panel.epochs.value()
            self.panel.show_progress(event.epoch, epochs, event.batch, event.batches, event.samples_per_second,
                                     event.eta)
        elif isinstance(event, ev.EpochEnd):
            if event.confusion is not None:
                self.views.feature_maps.set_confusion(event.confusion)
            self.views.curves.mark_dirty()
        elif isinstance(event, ev.FeatureMaps):
            when = f"(epoch {event.epoch + 1}, step {event.step})"
            for node_id, maps in event.maps.items():
                self.views.feature_maps.add_maps(node_id, maps, when)
            if event.prediction is not None and self.bundle is not None:
                self.views.feature_maps.set_predictions(event.input, inspection.top_k(
                    event.prediction, self.bundle.classes, probabilities=True))
        elif isinstance(event, engine_adapter.FilterWeights):
            self._show_filters(event.node_id, event.weights, event.epoch)
        elif isinstance(event, ev.RunStarted):
            self.started = event
            self.panel.status.setText(f"Training on {event.device_note}; {event.trainable_params:,} trainable parameters")
        elif isinstance(event, ev.Warning):
            self.panel.status.setText(f"⚠ {event.message}")
        elif isinstance(event, ev.Error):
            self.panel.show_error(event.message)

    def _on_finished(self, status: str, message: str, result) -> None:
        record = self.record
        record.finish(status, message)
        if message:
            self.panel.show_error(message)
        self.history.save(record)
        self.panel.status.setText(f"Run {status}; reading its weights…")
        run_dir, design = self.session.run_dir, self.session.design
        # Reading a big model's weights takes a while: in the background; idle once they are in.
        self.jobs.submit("after_run", lambda _p: probes.load_run_weights(run_dir),
                         lambda state: self._after_run(status, state, design, run_dir),
                         lambda _message: self._after_run(status, None, design, run_dir))

    def _after_run(self, status: str, state, design, run_dir) -> None:
        self.trained_state, self.trained_design = state, design
        self.weights_origin = f"the trained weights of run {Path(run_dir).name}"
        self.panel.set_state("idle")
        done = self.record.summary.get("best_val_accuracy")
        self.panel.status.setText(f"Run {status}" + (f" — best validation accuracy {done:.1%}" if done else ""))
        self.views.runs.refresh()
        self.show_weights()
        self.update_equivariance()
        self.run_finished.emit(status)

    # -- looking inside (computed off the UI thread) -------------------------------------------
    def show_weights(self) -> None:
        design, state = (self.trained_design or self.document.design).copy(), self.trained_state
        when = " (final)" if state else " (initial)"

        def shown(found):
            if found:
                node_id, weights = found
                self.views.feature_maps.set_filters(design.nodes[node_id].name + when, weights)
        self.jobs.submit("filters", lambda _p: probes.first_filters(design, state), shown)

    def _show_filters(self, node_id: str, weights, epoch: int) -> None:
        design = self.session.design if self.session is not None else self.document.design
        name = design.nodes[node_id].name if node_id in design.nodes else node_id
        when = "initial" if epoch < 0 else f"after epoch {epoch + 1}"
        self.views.feature_maps.set_filters(f"{name} ({when})", weights)

    def update_equivariance(self) -> None:
        """Convolution is equivariant with any weights, so the probe works before training too
        (on the run's trained weights when there are some)."""
        fm = self.views.feature_maps
        if self.bundle is None or not len(fm.samples):
            return
        import numpy as np  # here: numpy is not needed before there are samples

        design, state = (self.trained_design or self.document.design).copy(), self.trained_state
        x = np.asarray(fm.samples[fm.sample_spin.value()], dtype=np.float32)[None]  # the probe makes it a tensor
        if design.input_shape is None or tuple(x.shape[1:]) != tuple(design.input_shape) or x.ndim != 4:
            return
        dy, dx, size = fm.shift_dy.value(), fm.shift_dx.value(), tuple(x.shape[-2:])
        self.jobs.submit("equivariance", lambda _p: inspection.equivariance_probe(design, state, x, dy, dx),
                         lambda rows: fm.set_equivariance(rows, size),
                         lambda message: fm.shift_label.setText(f"cannot probe this design: {message}"))

    def evaluate(self) -> None:
        """Held-out evaluation of the last run: confusion matrix and accuracy on the validation
        set (the built-in sets have no separate test split)."""
        if self.trained_state is None or self.bundle is None:
            self.panel.status.setText("Train a run first; evaluation uses its final weights.")
            return
        design, state, bundle, record = self.trained_design, self.trained_state, self.bundle, self.record
        config = dict(record.config) if record is not None else {}  # the run's normalisation and loss
        index = self.views.feature_maps.sample_spin.value()
        self.panel.status.setText("Evaluating on the held-out samples…")
        self.jobs.submit("evaluate", lambda _p: probes.evaluate(design, state, bundle, index, config),
                         lambda result: self._show_evaluation(result, record),
                         lambda message: self.panel.show_error(f"Evaluation failed: {message}"))

    def _show_evaluation(self, result, record) -> None:
        self.views.feature_maps.set_confusion(result.matrix)
        if record is not None:
            record.summary["test_accuracy"] = result.accuracy
            self.history.save(record)
            self.views.runs.refresh()
        self.views.feature_maps.set_predictions(result.image, result.top5, result.true_label)
        self.panel.status.setText(f"Held-out accuracy {result.accuracy:.2%} on {result.count:,} samples")

    # -- export and imported weights ---------------------------------------------------------
    def export_source(self):
        """What the panel's Export… exports: the last run's (or imported) model, else the
        current design with freshly initialised weights."""
        from designer.export_dialog import ExportSource
        data = self.bundle.describe() if self.bundle is not None else None
        if self.trained_state is not None and self.trained_design is not None:
            if self.session is not None and self.session.run_dir and self.weights_origin.startswith("the trained"):
                return ExportSource.from_run(self.trained_design, self.trained_state, self.session.run_dir)
            return ExportSource(self.trained_design, self.trained_state, self.weights_origin, data)
        return ExportSource(self.document.design.copy(), None, "freshly initialised weights (no training run yet)",
                            data)

    def open_export_dialog(self):
        if self.session is not None and self.session.is_running():
            self.panel.status.setText("Export after the run: stop it or let it finish first.")
            return None
        from designer.export_dialog import open_export_dialog
        return open_export_dialog(self.panel.window(), self.export_source())

    def adopt_weights(self, design, state: dict | None, source: str) -> None:
        """Imported weights (File ▸ Import…): Export… uses them and the next run starts from them."""
        self.trained_design = design.copy() if state is not None else None
        self.trained_state = state
        self.weights_origin = f"the weights imported from {source}"
        self.initial_weights_path = None
        if state is not None:
            from engine.export import save_safetensors
            folder = self.runs_root / "imported"
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / f"{abs(hash((source, id(state)))):x}.safetensors"
            save_safetensors(state, path, design)
            self.initial_weights_path = str(path)
            self.panel.status.setText(f"The next run starts from the weights imported from {source}.")
            self.show_weights()

    def _forget_imported_weights(self) -> None:
        self.initial_weights_path = None
        self.trained_state = self.trained_design = None
        self.weights_origin = ""

    # -- the document ------------------------------------------------------------------------
    def _on_design_event(self, event) -> None:
        if event.kind == "node_moved":
            return
        if self.session is not None and self.session.is_running():
            self.panel.design_changed.show()

    def _on_selection_changed(self, node_ids: list) -> None:
        self.views.feature_maps.select_node(node_ids[0] if node_ids else None)

    def _on_sample_changed(self, index: int) -> None:
        fm = self.views.feature_maps
        if self.session is not None and self.session.is_running() and index < len(fm.samples):
            self.session.trainer.inspect(fm.samples[index])
        self.update_equivariance()

    def _on_runs_chosen(self) -> None:
        current = self.record.run_id if self.record else None
        self.views.curves.set_runs(self.views.runs.chosen_runs(), current)


def last_linear(design) -> str | None:
    """The classifier head: the last node with ``out_features`` on the way back from the Output."""
    outputs = design.output_nodes()
    frontier = [outputs[0].id] if outputs else []
    seen = set()
    while frontier:
        node_id = frontier.pop(0)
        if node_id in seen:
            continue
        seen.add(node_id)
        if "out_features" in design.nodes[node_id].params:
            return node_id
        frontier += [e.src for e in design.incoming(node_id)]
    return None


__all__ = ["TrainingController", "last_linear"]
