"""Ties the training panel and views to the document and the run: loads datasets, offers the
fixes, starts a :class:`TrainingSession` on a snapshot of the design, turns the trainer's
events into run-history points and view updates, and stops the run when the window closes.

Torch is imported in the background after the window's first frame (:mod:`.torch_runtime`);
until then the panel says so, and a dataset chosen meanwhile loads as soon as torch is there.
Every torch call runs in a background thread; the modules that import torch are reached through
lazy stand-ins, first used after that import.
"""
from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QObject, QStandardPaths, Signal

from engine.blocks.lazy import LazyModule
from engine.runs import RunHistory, RunRecord
from engine.training import events as ev
from engine.training.run_folders import default_runs_dir

from . import inspection, torch_runtime
from .background import LatestOnly
from .dataset_preview import fit_preview, preview_of, with_preview
from .trained_model import TrainedModelActions
from .worker import TrainingSession, collect_run_garbage, release_host_memory

# These import torch: used only once torch_runtime has imported them off the UI thread.
datasets = LazyModule("engine.data")
probes = LazyModule("designer.training.probes")
engine_adapter = LazyModule("designer.training.engine_adapter")

def app_runs_dir() -> Path:
    """The command line's run folder (``$ND_RUNS_DIR``, else ``runs/`` here) when it can be
    written; else (an app started from a folder it may not write, such as ``/``) the user's
    application-data folder, which lasts, unlike the temporary folder used before."""
    folder = default_runs_dir()
    parent = folder.resolve().parent
    if os.access(folder if folder.exists() else parent, os.W_OK):
        return folder.resolve()
    return Path(QStandardPaths.writableLocation(QStandardPaths.AppDataLocation)) / "runs"


_NOT_FITTED = object()  # _samples_for before the samples are shown for any input shape
MAX_TAPPED_NODES = 24  # feature maps sampled per run; the selected node always among them


class TrainingController(TrainedModelActions, QObject):
    run_finished = Signal(str)  # status
    health_diagnostic = Signal(str, str)  # node id, message: a problem the run's health showed (Problems list)
    health_reset = Signal()  # a new run: the previous run's health diagnostics no longer apply
    load_progress = Signal(float, str)  # a download's progress, emitted by the loading thread

    def __init__(self, document, panel, views, history: RunHistory | None = None, runs_root=None, parent=None):
        super().__init__(parent)
        self.document, self.panel, self.views = document, panel, views
        self.runs_root = Path(runs_root) if runs_root else app_runs_dir()
        self.history = history or RunHistory(self.runs_root)
        self.session: TrainingSession | None = None
        self.record: RunRecord | None = None
        self.bundle = self.raw_bundle = None  # the dataset as loaded (raw_bundle: the same; older name)
        self._preview = None  # (bundle, DatasetPreview) of the loaded dataset
        self._samples_for = _NOT_FITTED  # the input shape the views' samples were shown for
        self._prepared = None  # (dataset, input shape, that dataset resized to it by a run)
        self.started = None  # RunStarted of the current run
        self.trained_state: dict | None = None  # weights of the last finished run (CPU tensors)
        self.trained_design = None
        self.weights_origin = ""  # where trained_state came from, for the Export dialog
        self.initial_weights_path: str | None = None  # imported weights the next run starts from
        self._loading: str | None = None  # the dataset being loaded in the background
        self._start_when_loaded = False
        self._closed = False
        self.jobs = LatestOnly(self)  # dataset loads, probes, evaluation, reading weights: off the UI thread
        self._unsubscribe = document.design.subscribe(self._on_design_event)

        panel.dataset_chosen.connect(self.choose_dataset)
        self.load_progress.connect(panel.show_load_progress)  # queued: emitted off the UI thread
        panel.config_changed.connect(self._update_schedule_preview)
        panel.start_clicked.connect(self.start)
        panel.pause_clicked.connect(self.toggle_pause)
        panel.stop_clicked.connect(self.stop)
        panel.fix_requested.connect(self.apply_fix)
        panel.evaluate_clicked.connect(self.evaluate)
        panel.export_clicked.connect(self.open_export_dialog)
        document.design_replaced.connect(self._forget_imported_weights)
        document.selection_changed.connect(self._on_selection_changed)
        document.report_changed.connect(self.recheck)
        fm = views.feature_maps
        fm.shift_changed.connect(lambda _dy, _dx: self.update_equivariance())
        fm.shift_shown.connect(self._on_shift_shown)
        self._equivariance_stale = True  # the probe's inputs changed while its page was not shown
        fm.sample_changed.connect(self._on_sample_changed)
        views.runs.selection_changed.connect(self._on_runs_chosen)
        views.explain.attach(self)  # explains the last trained run, or the one picked in Runs
        views.runs.watch(self.history, self.jobs)  # lists the run folders, the command line's too
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
        window). Loads go through the ``jobs`` runner one at a time: a choice made while one
        loads waits (replacing any choice already waiting) and only the latest choice's result
        is applied; choosing again what is loading starts nothing. (Two concurrent dataset
        threads once hung each other in CI.)"""
        self._loading = name
        if not torch_runtime.is_ready():
            if torch_runtime.error():
                self._on_torch_failed(torch_runtime.error())
            else:
                self.panel.show_loading(name, waiting_for_torch=True)  # _on_torch_ready loads the latest choice
            return
        self.panel.show_loading(name)
        if self.jobs.running_tag("dataset") == name:
            self.jobs.cancel_waiting("dataset")  # what is loading is what is wanted
            return
        self.jobs.submit("dataset", lambda _progress: with_preview(datasets.load(name, progress=self.load_progress.emit)),
                         lambda loaded: self._on_dataset_loaded(name, loaded),
                         lambda message: self._on_dataset_failed(name, message), tag=name)

    def dataset_loading(self) -> bool:
        return self._loading is not None

    def _on_dataset_loaded(self, name: str, loaded) -> None:
        if name != self._loading:
            return  # superseded by a later choice
        self._loading = None
        self.panel.show_loading(None)
        bundle, preview = loaded
        self.panel.show_error("")
        self._use_bundle(bundle, preview)
        self._update_schedule_preview()
        if self._start_when_loaded:
            self._start_when_loaded = False
            self.start()

    def _on_dataset_failed(self, name: str, message: str) -> None:
        if name != self._loading:
            return
        self._loading = None
        self._start_when_loaded = False
        self.raw_bundle = self.bundle = None  # the old samples would not match the chosen name
        self._preview = self._prepared = None
        self.panel.show_loading(None)
        self.panel.show_error(f"Cannot load {name}: {message}")
        if self.panel.start_button.isEnabled():
            self.panel.status.setText("Choose a dataset that loads.")

    def set_bundle(self, bundle) -> None:
        """Use this dataset (loaded elsewhere: a benchmark, a test); its preview is sampled off
        the UI thread."""
        self._use_bundle(bundle, None)

    def _use_bundle(self, bundle, preview) -> None:
        self.raw_bundle = self.bundle = bundle
        self._preview = (bundle, preview) if preview is not None else None
        self._prepared = None
        self._samples_for = _NOT_FITTED  # even a design without an input shape gets the samples shown
        self.recheck()

    def recheck(self, report=None) -> None:
        """Re-check the data against the design (after every analysed edit). A size the
        trainer's resize can fix is a warning: the run resizes the samples when it starts, in
        its own thread; nothing here resizes the dataset (3×224×224 for an ImageNet design is
        seconds and a gigabyte that nobody asked for until they train). Only the preview's few
        samples are resized, for the views that feed them through the design."""
        if self.bundle is None:
            return
        # The document's analysis of the design, not a second one (a second at 20,000 nodes).
        report = report if report is not None else self.document.report
        self.panel.show_problems(datasets.check(self.bundle, self.document.design, loss=self._loss(), report=report))
        want = self.document.design.input_shape
        want = tuple(want) if want else None
        if want != self._samples_for:
            self._show_samples(want)

    def _show_samples(self, want) -> None:
        bundle = self.bundle
        if self._preview is None or self._preview[0] is not bundle:  # sample it off-thread first
            self.jobs.submit("preview", lambda _p: preview_of(bundle), lambda p: self._on_preview(bundle, p))
            return
        preview = self._preview[1]
        self._samples_for = want
        self.panel.show_dataset(bundle, preview)
        have = tuple(bundle.input_shape)
        if want is None or len(want) != len(have) or want == have:
            self._show_sample_images(preview)
            return
        self.jobs.submit("fit_samples", lambda _p: fit_preview(preview, want),
                         lambda fitted: self._on_samples_fitted(bundle, want, fitted),
                         lambda _message: self._on_samples_fitted(bundle, want, preview))

    def _on_preview(self, bundle, preview) -> None:
        if bundle is self.bundle:
            self._preview = (bundle, preview)
            self._samples_for = _NOT_FITTED
            self.recheck()

    def _on_samples_fitted(self, bundle, want, preview) -> None:
        if bundle is self.bundle and want == self._samples_for:  # else a newer shape or dataset
            self._show_sample_images(preview)

    def _show_sample_images(self, preview) -> None:
        self.views.feature_maps.set_samples(preview.images, preview.labels, self.bundle.classes)
        if len(preview.images):
            self.views.kernels.set_image(preview.images[0])
        self.update_equivariance()

    def _dataset_for(self, input_shape):
        """The dataset a run or an evaluation of a design with this input uses: a copy resized
        to it by an earlier run, if there is one, else the loaded dataset (resized then, in the
        background, by whoever needs it)."""
        prepared = self._prepared
        if prepared is not None and prepared[0] is self.bundle and input_shape and \
                prepared[1] == tuple(input_shape):
            return prepared[2]
        return self.bundle

    def describe_data(self, input_shape) -> dict | None:
        """What a run of a design with this input would record as its data (``data.json``, for
        exports): the loaded dataset as resized to that input. Without resizing it: the shape
        and source say the new size, the per-channel statistics follow a channel change
        (repeated for grey → colour, averaged for colour → grey, close to what the resized
        samples give; a run's own data.json has the exact ones)."""
        if self.bundle is None:
            return None
        bundle = self._dataset_for(input_shape)
        described = bundle.describe()
        have = tuple(bundle.input_shape)
        if not input_shape or len(input_shape) != len(have) or tuple(input_shape) == have:
            return described
        want = [int(s) for s in input_shape]
        return {**described, "input_shape": want, "mean": _per_channel(described["mean"], want[0]),
                "std": _per_channel(described["std"], want[0]), "adapted_from": list(have),
                "source": {**described.get("source", {}), "input_shape": want}}

    def _keep_prepared(self, source, prepared) -> None:
        """A run resized ``source`` to its design's input: keep that one copy for the next run
        or evaluation at that size (replacing any other)."""
        if prepared is not None and source is self.bundle and prepared is not source:
            self._prepared = (source, tuple(prepared.input_shape), prepared)

    def _loss(self) -> str:
        """The loss the next run will train with (the data check refuses a single output with it)."""
        try:
            return self.panel.config().loss
        except Exception:  # noqa: BLE001 - a half-typed value: the default loss
            return "cross_entropy"

    def apply_fix(self, code: str) -> None:
        """One-click fixes, through the document so each is one undo step."""
        design = self.document.design
        if code in ("input_shape", "input_channels", "input_features"):
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
        report = self.document.report  # the document's analysis of this design
        if not report.valid:
            self.panel.show_error("The design has errors; fix them first:\n" + "\n".join(str(d) for d in report.errors[:3]))
            return
        taps = self._tapped_nodes(design)
        config = self.panel.config().replace(feature_map_nodes=taps)
        if self.initial_weights_path:
            config = config.replace(init_weights=self.initial_weights_path)
        # The panel's loaded dataset goes to the trainer as is: same split, same samples. The
        # trainer takes the run's one snapshot of the design; the record shares it (never edited).
        dataset = self._dataset_for(design.input_shape)  # the trainer resizes it, if it must, in its thread
        processes = self.panel.processes.value()
        if processes > 1 and config.batch_size % processes:
            self.panel.show_error(f"Batch size {config.batch_size} cannot be shared by {processes} processes: choose a "
                                  f"multiple of {processes}.")
            return
        trainer = engine_adapter.make_trainer(design, config, dataset=dataset, processes=processes)
        record = self.history.new_run(trainer.design, config.to_dict())
        self.record = record
        run_dir = str(Path(record.checkpoints_dir).parent)
        trainer.run_dir = Path(run_dir)
        fm = self.views.feature_maps
        if len(fm.samples):
            trainer.inspect(fm.samples[fm.sample_spin.value()])
        # No Qt parent: the controller holds the latest session only, so an older one (already
        # released: no thread, worker or trainer) is freed when the next run starts.
        self.session = TrainingSession(trainer)
        self.session.run_dir = run_dir
        self.session.source_dataset = dataset
        self.session.trainer_event.connect(self._on_event)
        self.session.finished.connect(self._on_finished)
        self.views.feature_maps.clear_maps()
        self.views.feature_maps.prepare_confusion(self.bundle.num_classes)
        self.views.feature_maps.set_node_names({n: design.nodes[n].name for n in design.nodes})
        self.views.health.reset({n: design.nodes[n].name for n in design.nodes})
        self.views.mark_health(False)
        self.health_reset.emit()
        self.views.runs.add_run(record)
        self.views.curves.set_runs(self.views.runs.chosen_runs(), record.run_id)
        self.panel.show_error("")
        self.panel.design_changed.hide()
        want = design.input_shape
        if want and tuple(want) != tuple(dataset.input_shape):
            self.panel.status.setText(f"Starting: the samples are resized to {'×'.join(map(str, want))} first…")
        else:
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
            self.panel.flush_progress()
            self.panel.set_state("paused")
            self.panel.status.setText(self.panel.status.text() + " — paused")

    def stop(self) -> None:
        if self.session is not None and self.session.is_running():
            self.session.stop()
            self.panel.flush_progress()
            self.panel.set_state("stopping")
            self.panel.status.setText("Stopping after this batch…")

    def shutdown(self) -> None:
        """The window is closing: stop the run and wait for its thread (safe to call twice)."""
        self._closed = True
        self._unsubscribe()
        self._start_when_loaded = False
        if self.session is not None:
            self.session.shutdown()
        self.views.explain.cancel()  # a long explanation stops at its next step, not after 30 s
        self.views.runs.timer.stop()
        self.jobs.wait_all()  # a download cannot be interrupted: wait for it

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
        elif isinstance(event, ev.Health):
            self.views.health.add(event)
        elif isinstance(event, ev.HealthDiagnostic):
            self.panel.flush_progress()
            self.panel.status.setText(f"⚠ {event.message}")
            self.views.mark_health(True)
            self.health_diagnostic.emit(event.node_id, event.message)
        elif isinstance(event, ev.Warning):
            self.panel.flush_progress()
            self.panel.status.setText(f"⚠ {event.message}")
        elif isinstance(event, ev.Error):
            self.panel.show_error(event.message)

    def _on_finished(self, status: str, message: str, result) -> None:
        record = self.record
        record.finish(status, message)
        self.panel.flush_progress()
        self.views.curves.catch_up()
        if message:
            self.panel.show_error(message)
        self._save(record)
        self.panel.status.setText(f"Run {status}; reading its weights…")
        run_dir, design = self.session.run_dir, self.session.design
        self._keep_prepared(self.session.source_dataset, self.session.dataset)
        self.session.source_dataset = self.session.dataset = None
        collect_run_garbage()
        self.jobs.submit("release memory", lambda _p: release_host_memory(), lambda _none: None)
        # Reading a big model's weights takes a while: in the background; idle once they are in.
        self.jobs.submit("after_run", lambda _p: probes.load_run_weights(run_dir),
                         lambda state: self._after_run(status, state, design, run_dir),
                         lambda _message: self._after_run(status, None, design, run_dir))

    def _save(self, record) -> None:
        """Save the record off the UI thread (the JSON of a long run's curves takes a while); its
        data are taken here, in the thread that changes it."""
        data = record.to_dict()
        self.jobs.submit(f"save {record.run_id}", lambda _p: self.history.write(record.run_id, data), lambda _path: None,
                         lambda message: self.panel.show_error(f"The run could not be saved: {message}"))

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
            self.session.inspect(fm.samples[index])
        self.update_equivariance()

    def _on_runs_chosen(self) -> None:
        current = self.record.run_id if self.record else None
        self.views.curves.set_runs(self.views.runs.chosen_runs(), current)


def _per_channel(values: list, channels: int) -> list:
    values = [float(v) for v in values]
    if len(values) == channels or not values:
        return values
    if len(values) == 1:
        return values * channels
    if channels == 1:
        return [sum(values) / len(values)]
    return values


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
