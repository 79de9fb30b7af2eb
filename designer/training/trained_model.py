"""What the training controller does with the last trained (or imported) model: shows its first
filters, runs the equivariance probe and the evaluation on it (off the UI thread), exports it,
and adopts imported weights for the next run. A mixin of :class:`TrainingController`, which
holds the state these use (``trained_state``, ``trained_design``, ``jobs``, ``views``, …).
"""
from __future__ import annotations

from engine.blocks.lazy import LazyModule

from . import inspection

# These import torch: used only once torch_runtime has imported them off the UI thread.
datasets = LazyModule("engine.data")
probes = LazyModule("designer.training.probes")


class TrainedModelActions:
    """The controller's filters, equivariance, evaluation, export and imported weights."""

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

    def _on_shift_shown(self) -> None:
        if self._equivariance_stale:
            self.update_equivariance()

    def update_equivariance(self) -> None:
        """Convolution is equivariant with any weights, so the probe works before training too
        (on the run's trained weights when there are some). Computed only while its page is on
        screen (it snapshots the design: seconds for a 20,000-node one); else when it is shown."""
        fm = self.views.feature_maps
        if not fm.shift_in_front():
            self._equivariance_stale = True
            return
        self._equivariance_stale = False
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
        """Evaluation of the last run on the validation set: confusion matrix and accuracy (the
        built-in sets have no separate test split, so this is not a test accuracy)."""
        if self.trained_state is None or self.bundle is None:
            self.panel.status.setText("Train a run first; evaluation uses its final weights.")
            return
        design, state, record = self.trained_design, self.trained_state, self.record
        source = self.bundle
        bundle = self._dataset_for(design.input_shape)
        want = design.input_shape
        config = dict(record.config) if record is not None else {}  # the run's normalisation and loss
        index = self.views.feature_maps.sample_spin.value()
        self.panel.status.setText("Evaluating on the validation set…")

        def evaluate(_progress):  # background thread: resizes the samples first if no run has
            fitted = datasets.adapt(bundle, want) if want and tuple(want) != tuple(bundle.input_shape) else bundle
            return probes.evaluate(design, state, fitted, index, config), fitted

        def done(outcome):
            result, fitted = outcome
            self._keep_prepared(source, fitted)
            self._show_evaluation(result, record)
        self.jobs.submit("evaluate", evaluate, done, lambda message: self.panel.show_error(f"Evaluation failed: {message}"))

    def _show_evaluation(self, result, record) -> None:
        self.views.feature_maps.set_confusion(result.matrix)
        if record is not None:
            record.summary["evaluated_val_accuracy"] = result.accuracy  # Evaluate scores the validation set
            self._save(record)
            self.views.runs.refresh()
        self.views.feature_maps.set_predictions(result.image, result.top5, result.true_label)
        self.panel.status.setText(f"Validation accuracy {result.accuracy:.2%} on {result.count:,} samples "
                                  "(the validation set; the built-in datasets have no separate test set)")

    # -- export and imported weights ---------------------------------------------------------
    def export_source(self):
        """What the panel's Export… exports: the last run's (or imported) model, else the
        current design with freshly initialised weights."""
        from designer.export_dialog import ExportSource
        data = self.describe_data(self.document.design.input_shape)
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
