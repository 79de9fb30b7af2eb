"""The controller's background jobs that look inside a run: the engine's evaluation and probes
(:mod:`engine.training.inspect`), imported off the UI thread once torch is loaded. Evaluate is
the trainer's own validation, so it reports the run's validation accuracy for the same weights."""
from __future__ import annotations

from engine.training.inspect import RunEvaluation as Evaluation, evaluate_run, first_filters, load_run_weights


def evaluate(design, state: dict, bundle, sample_index: int, config: dict | None = None,
             batch: int = 256) -> Evaluation:
    """Evaluation on the validation set: confusion matrix and accuracy (with the run's
    normalisation and loss from ``config``), and the top-5 prediction for one sample."""
    return evaluate_run(design, state, bundle, sample_index, config, batch)


__all__ = ["Evaluation", "evaluate", "first_filters", "load_run_weights"]
