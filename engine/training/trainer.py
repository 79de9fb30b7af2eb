"""The trainer: a design, a config and a dataset in; events out (see ``events``).

``run()`` blocks and never raises: every failure becomes an :class:`events.Error` followed by
:class:`events.Finished`. ``stop()``, ``pause()`` and ``resume()`` may be called from any
thread and take effect before the next batch; so does :meth:`inspect`, which changes the sample whose
feature maps the run reports. Losses and accuracies are summed on the device
and read back only when an event is due, because ``.item()`` on a GPU waits for the queue to
drain; on the CPU reading costs nothing, so a non-finite loss is caught at the very batch.
"""
from __future__ import annotations

import contextlib
import math
import random
import threading
import time
import traceback
from pathlib import Path

import numpy as np
import torch

from .. import data as datasets
from ..compile import compile_design, count_parameters, with_taps
from ..persistence import dumps
from . import events, rng_state, rundir, tensorboard_log
from .collective import Collective, peer_lost
from .config import ConfigError, TrainConfig
from .devices import (
    autocast_dtype,
    configure_determinism,
    device_words,
    free_cached_memory,
    global_flags,
    needs_grad_scaler,
    no_deterministic_version,
    not_deterministic_message,
    out_of_memory,
)
from .evaluate import evaluate
from .health import HealthChecker, HealthProbe
from .initial_weights import load_initial_weights
from .loop import Batcher, Meter, feature_maps, set_train_mode
from .optim import LRSchedule, make_loss, make_optimizer, parameter_groups, resolve_device
from .run_context import RunContext


class StopRun(Exception):
    """Ends a run early with a reason (internal)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class Trainer:
    # how to lower the batch size, for the out-of-memory message: the command line names its flag
    batch_size_advice = "lower the batch size to {half}"
    _event_log: tensorboard_log.TensorBoardLog | None = None  # a run with a folder: its TensorBoard sink

    def __init__(self, design, config: TrainConfig | None = None, dataset=None, on_event=None, run_dir=None,
                 collective: Collective | None = None):
        self.design = design.copy()  # a snapshot: later edits in the app do not reach the run
        # One process of a distributed run (engine.training.distributed): it trains its shard of each
        # batch under DistributedDataParallel; only rank 0 is given a run folder and a listener.
        self.collective = collective
        self.config = config or TrainConfig()
        self.dataset = dataset
        self.on_event = on_event or (lambda event: None)
        self.run_dir = Path(run_dir) if run_dir else None
        self._stop = threading.Event()
        self._running = threading.Event()
        self._running.set()
        self._inspect_lock = threading.Lock()
        self._inspect_next = None  # a sample chosen by inspect(), not yet adopted by the loop
        self.history: list[dict] = []
        self.model = None

    # -- control (thread-safe) -------------------------------------------------------------
    def stop(self) -> None:
        self._stop.set()
        self._running.set()  # wake a paused run so it can stop

    def pause(self) -> None:
        self._running.clear()

    def resume(self) -> None:
        self._running.set()

    @property
    def stop_requested(self) -> bool:
        return self._stop.is_set()

    @property
    def paused(self) -> bool:
        return not self._running.is_set()

    def inspect(self, sample) -> None:
        """Show the feature maps of ``sample`` (one un-normalised input, C×…, array or tensor)
        from now on. Thread-safe: the loop adopts it between batches, so a forward pass never
        sees a half-written input; a sample whose shape is not the dataset's is ignored."""
        with self._inspect_lock:
            self._inspect_next = sample

    def _take_inspected(self, like: torch.Tensor) -> torch.Tensor | None:
        """The sample chosen since the last call as a 1×C×… tensor like ``like``, else None."""
        with self._inspect_lock:
            chosen, self._inspect_next = self._inspect_next, None
        if chosen is None or tuple(np.shape(chosen)) != tuple(like.shape[1:]):
            return None
        return torch.as_tensor(np.asarray(chosen), dtype=like.dtype)[None].clone()

    # -- the run ---------------------------------------------------------------------------
    def run(self) -> events.Finished:
        self._t0 = time.perf_counter()
        self.epochs_done, self.best = 0, {"epoch": None, "value": None}
        self.device: torch.device | None = None
        self._batchers: list[Batcher] = []
        ran_out = None
        try:
            with global_flags():  # determinism and cuDNN flags are global: put them back after the run
                reason = self._run()
        except StopRun as s:
            reason = s.reason
        except Exception as e:  # noqa: BLE001 - a run must never take its process down
            reason = "error"
            ran_out = self._failed(e)
        finally:
            for batcher in self._batchers:
                batcher.close()
        if ran_out is not None:  # after the except block, whose traceback kept the failed step's tensors alive
            self._out_of_memory(ran_out)
        finished = events.Finished(reason, self.epochs_done, self.best["epoch"], self.best["value"],
                                   [dict(r) for r in self.history], str(self.run_dir) if self.run_dir else None,
                                   time.perf_counter() - self._t0)
        self._emit(finished)
        return finished

    def _failed(self, e: Exception) -> str | None:
        """Report the exception that ended the run; for out-of-memory only return its text: the
        report waits until the except block, whose traceback holds the activations, is left."""
        if out_of_memory(e):
            return str(e).splitlines()[0][:300] if str(e) else type(e).__name__
        if isinstance(e, rundir.RunDirWriteError):
            self._emit(self._write_failed(e))
        elif self.collective is not None and isinstance(e, RuntimeError) and peer_lost(e):
            self._emit(events.Error("another process of this distributed run stopped answering (it crashed or was "
                                    f"killed): {str(e).splitlines()[0][:200]}", "peer_lost", traceback.format_exc()))
        elif isinstance(e, (ConfigError, datasets.DatasetError)):
            self._emit(events.Error(str(e), "config" if isinstance(e, ConfigError) else "data"))
        elif no_deterministic_version(e):
            self._emit(events.Error(not_deterministic_message(e, self.device), "config", traceback.format_exc()))
        else:
            self._emit(events.Error(f"{type(e).__name__}: {e}", "exception", traceback.format_exc()))
        return None

    def _out_of_memory(self, error_text: str) -> None:
        device = self.device or torch.device("cpu")
        free_cached_memory(device)
        bs = self.config.batch_size
        advice = self.batch_size_advice.format(half=max(1, bs // 2))
        self._emit(events.Error(f"{device_words(device)} ran out of memory with batch size "
                                f"{bs}; {advice} (or use a smaller input or model)", "out_of_memory",
                                f"batch_size={bs}; {error_text}"))

    def _emit(self, event) -> None:
        if self._event_log is not None:
            self._event_log(event)  # never raises; closes itself at Finished
        try:
            self.on_event(event)
        except Exception:  # noqa: BLE001 - a broken listener must not kill training
            traceback.print_exc()

    def _write_failed(self, e) -> events.Error:
        """A file of the run folder could not be written (disk full, not writable): the run ends;
        atomic saves keep the previous checkpoint, and the message says which one to resume from."""
        if self.run_dir is None or e.path == self.run_dir:  # the folder itself could not be made
            return events.Error(str(e), "run_dir", e.details)
        last = self.run_dir / "checkpoints" / "last.pt"
        if last.is_file():
            kept = f"the last good checkpoint {last} is kept; free space or choose another --out, then resume from it"
        else:
            kept = "no checkpoint was written yet; free space or choose another --out and start again"
        return events.Error(f"{e}; {kept}", "write_failed", e.details)

    def _warn(self, message: str, code: str = "") -> None:
        self._emit(events.Warning(message, code))

    def _run(self) -> str:
        c = self.config
        if c.num_threads:
            torch.set_num_threads(c.num_threads)
        device, device_note = resolve_device(c.device)
        self.device = device
        configure_determinism(c.deterministic, device)
        _seed_everything(c.seed)
        bundle = self._dataset()
        model, taps = self._model()
        frozen = self._freeze(model)
        pretrained = self._load_initial_weights(model) if c.init_weights else set()
        model.to(device)
        cuda = device.type == "cuda"
        image_input = len(bundle.input_shape) == 3
        if cuda and c.channels_last and image_input:
            model.to(memory_format=torch.channels_last)
        self.model = model
        num_outputs = self._num_outputs()
        loss_fn = make_loss(c, num_outputs)
        groups = parameter_groups(model, model.node_names, pretrained, c)
        if not groups:
            raise ConfigError("every parameter is frozen: nothing to train (unfreeze at least the last layer)")
        optimizer = make_optimizer(groups, c)
        train_set, val_set = bundle.train, bundle.val
        if c.overfit_batches:
            n = min(len(train_set), c.overfit_batches * c.batch_size)
            train_set = val_set = (train_set.subset(range(n)) if isinstance(train_set, datasets.TensorSet)
                                   else torch.utils.data.Subset(train_set, list(range(n))))
        share = self.collective.rank_batch_size(c.batch_size) if self.collective else c.batch_size
        batcher = Batcher(train_set, share, device, bundle.mean if c.normalize else None,
                          bundle.std if c.normalize else None, channels_last=cuda and c.channels_last and image_input)
        batcher.collective = self.collective
        val_batcher = Batcher(val_set, c.batch_size, device, bundle.mean if c.normalize else None,
                              bundle.std if c.normalize else None, channels_last=batcher.channels_last)
        self._batchers += [batcher, val_batcher]
        # no gradients, so twice the training batch fits; halved when the device runs out of memory
        self._val_batch = 2 * c.batch_size
        augment = datasets.Augment.from_dict(c.augment) if not c.overfit_batches else datasets.Augment()
        steps_per_epoch = batcher.batches_per_epoch()
        schedule = LRSchedule(optimizer, c, steps_per_epoch)
        amp_dtype = autocast_dtype(device) if cuda and c.mixed_precision else None
        scaler = torch.amp.GradScaler("cuda", enabled=needs_grad_scaler(device, amp_dtype))  # bf16 needs none
        start_epoch, start_batch, step, carried = 0, 0, 0, None
        if c.resume:
            start_epoch, start_batch, step, carried = self._resume(model, optimizer, schedule, scaler)
        if self.run_dir:
            rundir.prepare(self.run_dir, self.design, c, bundle.describe())
            # TensorBoard event files beside the others when the extra is installed; it sees every event
            self._event_log = tensorboard_log.open_log(self.run_dir, model, self.design, c, lambda: val_batcher.normalize(
                datasets.fetch(val_set, torch.tensor([0]))[0].to(device)))
        trainable, frozen_count = count_parameters(model)
        self._emit(events.RunStarted(str(device), device_note, len(train_set), len(val_set), steps_per_epoch,
                                     c.epochs, start_epoch, trainable, frozen_count,
                                     str(self.run_dir) if self.run_dir else None))
        if self.collective is not None and not self.collective.is_main:
            taps = []  # feature maps and health are rank 0's to sample
        sample = self._fixed_sample(val_set, batcher) if taps else None
        # Training and validation run the plain model; only feature-map samples run the tapped view
        # of it, which shares its parameters (a tapped forward keeps every tapped activation alive).
        # One pair of limiters for the whole run, so an epoch's first batch does not skip the limit.
        ctx = RunContext(model=model, frozen=frozen, optimizer=optimizer, schedule=schedule, scaler=scaler,
                          loss_fn=loss_fn, batcher=batcher, augment=augment, device=device, taps=taps, sample=sample,
                          num_outputs=num_outputs, amp_dtype=amp_dtype, steps_per_epoch=steps_per_epoch,
                          tapped=with_taps(model, taps) if taps else None, step=step, session_start_step=step,
                          limiter=events.RateLimiter(c.event_rate),
                          maps_limiter=events.RateLimiter(1 / c.feature_map_interval),
                          health=HealthProbe(model, c.health_interval) if c.health_interval and self._main else None,
                          health_checker=HealthChecker({n.id: n.label for n in self.design.nodes.values()}),
                          forward_model=self.collective.wrap(model, device) if self.collective else model,
                          control_every=max(1, steps_per_epoch // 20) if self.collective is not None else 0)
        bad_epochs = 0
        for epoch in range(start_epoch, c.epochs):
            meter = Meter(device, carried)
            carried = None
            self._train_epoch(ctx, epoch, start_batch if epoch == start_epoch else 0, meter)
            self._warn_decoding_fallback(batcher, val_batcher)
            # the epoch's figures over every process's samples
            train_loss, train_acc = self.collective.means(meter.sums()) if self.collective else meter.read()
            if not math.isfinite(train_loss):
                self._diverged(ctx, epoch, steps_per_epoch)
            val = self._validate(model, val_set, loss_fn, num_outputs, val_batcher, ctx)
            set_train_mode(model, frozen)
            if val is None:  # stopped during validation: resuming re-validates this epoch
                self._save_last(ctx, epoch, steps_per_epoch, meter)
                self._finish_weights(model)
                return "stopped"
            self._val_batch = val.batch_size  # what fitted: the next epochs start there
            improved = self._epoch_done(ctx, epoch, train_loss, train_acc, val, meter.seconds)
            self._report_decode_failures(train_set, val_set)
            bad_epochs = 0 if improved else bad_epochs + 1
            if c.early_stopping_patience and bad_epochs >= c.early_stopping_patience:
                self._warn(f"early stopping: no improvement of {c.monitor} for {bad_epochs} epochs", "early_stopping")
                self._finish_weights(model)
                return "early_stopping"
        if c.overfit_batches and self.history:
            acc = self.history[-1]["train_accuracy"]
            verdict = "the pipeline can learn" if acc >= 0.99 else ("it could not: check the learning rate, the "
                                                                     "loss and the labels")
            self._warn(f"overfit check: {len(train_set)} samples, train accuracy {acc:.1%} — {verdict}",
                       "overfit_result")
        self._finish_weights(model)
        return "completed"

    # -- pieces of the run -----------------------------------------------------------------
    def _dataset(self):
        c = self.config
        want = self.design.input_shape
        bundle = self.dataset
        if bundle is None:
            bundle = datasets.load(c.dataset, want if c.resize else None, c.val_fraction, c.seed, c.dataset_options)
            if bundle.adapted_from and tuple(bundle.adapted_from) != tuple(bundle.input_shape):
                what = ("samples are" if isinstance(bundle.train, datasets.TensorSet)
                        else "images are (the first one, at least)")
                self._warn(f"the {what} {_fmt(bundle.adapted_from)}; resized to the design's input "
                           f"{_fmt(bundle.input_shape)}", "resized")
        for problem in datasets.check(bundle, self.design, loss=c.loss):
            if problem.code == "input_shape" and c.resize:
                bundle = datasets.adapt(bundle, want)
                self._warn(f"{problem.message}: resized the samples to fit", "resized")
            elif problem.severity == "error" or problem.code == "input_shape":
                raise datasets.DatasetError(f"{problem.message} — {problem.fix}")
            else:
                self._warn(f"{problem.message} — {problem.fix}" if problem.fix else problem.message, problem.code)
        self.bundle = bundle
        return bundle

    def _model(self):
        wanted = list(dict.fromkeys(self.config.feature_map_nodes))
        upstream = self.design.ancestors([n.id for n in self.design.output_nodes()])
        taps = [n for n in wanted if n in upstream and self.design.nodes[n].block not in ("input", "output")]
        for n in set(wanted) - set(taps):
            self._warn(f"no feature maps for {n!r}: not a layer that feeds the output", "feature_maps")
        return compile_design(self.design), taps  # tapped only where maps are sampled (_run: with_taps)

    def _warn_decoding_fallback(self, batcher, val_batcher) -> None:
        if batcher.fallback and not getattr(self, "_fallback_warned", False):
            self._fallback_warned = True
            val_batcher.workers = 0  # they would not start for validation either
            self._warn(f"images are decoded in the training thread (slower): the DataLoader worker processes did not "
                       f"start ({batcher.fallback}); in a script, call the trainer under "
                       "`if __name__ == \"__main__\":`", "decode_workers")

    def _smaller_validation_batch(self, size: int) -> None:
        self._warn(f"validation ran out of device memory; it continues with batches of {size}", "validation_batch")

    def _freeze(self, model) -> set[str]:
        names = model.node_names
        frozen = {names[n.id] for n in self.design.nodes.values() if n.frozen and n.id in names}
        for node_id in self.config.freeze_nodes:
            if node_id not in names:
                self._warn(f"cannot freeze {node_id!r}: no such layer in the design", "freeze")
                continue
            getattr(model, names[node_id]).requires_grad_(False)
            frozen.add(names[node_id])
        frozen = {m for m in frozen if hasattr(model, m)}
        set_train_mode(model, frozen)
        return frozen

    def _load_initial_weights(self, model) -> set[str]:
        loaded, notes = load_initial_weights(model, self.design, self.config)
        for note in notes:
            self._warn(note, "init_weights")
        return loaded

    def _num_outputs(self) -> int:
        from ..analysis import analyze
        out = analyze(self.design).nodes[self.design.output_nodes()[0].id].shape
        if out is None:  # checked before: a design with errors does not reach training
            raise ConfigError("the design has errors; fix them before training")
        return int(out[-1])

    def _resume(self, model, optimizer, schedule, scaler):
        try:
            ck = rundir.load_checkpoint(self.config.resume)
        except ValueError as e:
            raise ConfigError(f"resume: {e}") from None
        path = self.config.resume
        trained = ck.get("config") if isinstance(ck.get("config"), dict) else {}
        keep_weights = f"or start a new run with --init-weights {path} to keep only the weights"
        was = trained.get("optimizer")
        if was and was != self.config.optimizer:
            raise ConfigError(f"resume: the checkpoint was trained with {was}; resume with --optimizer {was}, "
                              f"{keep_weights}")
        try:
            model.load_state_dict(ck["model"])
        except RuntimeError as e:
            raise ConfigError(f"resume: the checkpoint does not fit this design ({e})") from None
        try:
            optimizer.load_state_dict(ck["optimizer"])
            schedule.load_state_dict(ck["scheduler"])
            if ck.get("scaler"):
                scaler.load_state_dict(ck["scaler"])
        except (KeyError, ValueError, TypeError, RuntimeError) as e:
            differs = [k for k in ("freeze_nodes", "init_weights", "pretrained_lr_multiplier")
                       if k in trained and trained[k] != getattr(self.config, k)]
            hint = f" (these settings differ from the run's: {', '.join(differs)})" if differs else ""
            raise ConfigError(f"resume: the optimizer state in the checkpoint does not fit this run's optimizer"
                              f"{hint}: {type(e).__name__}: {e}; resume with the options the run was started "
                              f"with, {keep_weights}") from None
        self.history, missing = rundir.history_from_checkpoint(ck, path)  # earlier rows: from its metrics file
        if missing:
            self._warn(f"resume: {missing}", "resume_history")
        self.best = dict(ck["best"])
        self.epochs_done = ck["epoch"]
        device = next((t.device for t in model.parameters()), torch.device("cpu"))  # the model is on it already
        for note in rng_state.restore(ck.get("rng") or {}, device):
            self._warn(f"resume: {note}", "resume_rng")
        return ck["epoch"], ck["batch"], ck["step"], ck.get("meter")

    def _fixed_sample(self, val_set, batcher):
        """The first validation sample, or the one chosen with inspect() before the run began."""
        x, _ = datasets.fetch(val_set, torch.tensor([0]))
        chosen = self._take_inspected(x)
        return x if chosen is None else chosen

    def _train_epoch(self, ctx, epoch, first_batch, meter) -> None:
        c = self.config
        limiter, maps_limiter = ctx.limiter, ctx.maps_limiter
        # the window since the previous event is a difference of the epoch's running sums: no second meter
        last_emit, last_sums = time.perf_counter(), meter.sums()
        order = None if c.overfit_batches else torch.randperm(
            len(ctx.batcher.dataset), generator=torch.Generator().manual_seed(c.seed * 1_000_003 + epoch))
        for batch_index, (x, y) in ctx.batcher.batches(order, first_batch):
            self._wait_if_paused(ctx)
            if ctx.stop_agreed if self.collective is not None else self._stop.is_set():
                self._save_last(ctx, epoch, batch_index, meter)
                self._finish_weights(ctx.model)
                raise StopRun("stopped")
            lr = ctx.schedule.apply(ctx.step)
            loss, out = self._step(ctx, x, y)
            meter.add(loss, out, y, ctx.num_outputs)
            ctx.step += 1
            if ctx.health is not None:
                self._emit_health(ctx, epoch)
            if ctx.device.type == "cpu" and self.collective is None and not math.isfinite(loss.item()):
                self._diverged(ctx, epoch, batch_index + 1)
            done = batch_index + 1
            # alone: as often as the event rate allows; distributed: at steps every rank agrees on
            due = limiter.ready() if not ctx.control_every else done % ctx.control_every == 0
            if due or done == ctx.steps_per_epoch:
                limiter.mark()
                now = time.perf_counter()
                sums = meter.sums()
                if self.collective is not None:  # the global batch's window, and rank 0's stop for every rank
                    sums, stop = self.collective.control_point(sums, self._main and self._stop.is_set())
                    ctx.stop_agreed = ctx.stop_agreed or stop
                seen = max(1, sums[2] - last_sums[2])
                w_loss, w_acc = (sums[0] - last_sums[0]) / seen, (sums[1] - last_sums[1]) / seen
                if not math.isfinite(w_loss):
                    self._diverged(ctx, epoch, done)
                session_steps = ctx.step - ctx.session_start_step
                remaining = ctx.steps_per_epoch * c.epochs - ctx.step
                eta = (now - self._t0) / max(1, session_steps) * remaining
                self._emit(events.BatchProgress(epoch, done, ctx.steps_per_epoch, ctx.step, w_loss, w_acc, lr,
                                                seen / max(now - last_emit, 1e-9), now - self._t0, eta))
                last_emit, last_sums = now, sums
                if ctx.taps and maps_limiter.ready():
                    maps_limiter.mark()
                    chosen = self._take_inspected(ctx.sample)
                    if chosen is not None:
                        ctx.sample = chosen
                    self._emit(feature_maps(ctx, epoch, c.max_feature_channels))
                    set_train_mode(ctx.model, ctx.frozen)

    def _wait_if_paused(self, ctx) -> None:
        if self._running.is_set():
            return
        self._emit(events.Paused(ctx.step))
        self._running.wait()
        if not self._stop.is_set():
            self._emit(events.Resumed(ctx.step))

    def _step(self, ctx, x, y):
        c = self.config
        if ctx.augmenting:
            x = ctx.augment(x)
        x = ctx.batcher.normalize(x)
        watching = ctx.health.watching(ctx.step) if ctx.health is not None else contextlib.nullcontext()
        with torch.autocast(ctx.device.type, dtype=ctx.amp_dtype) if ctx.autocast else contextlib.nullcontext():
            with watching:
                out = ctx.forward_model(x)
            loss = ctx.loss_fn(out.float(), y)
        ctx.optimizer.zero_grad(set_to_none=True)
        ctx.scaler.scale(loss).backward()
        if ctx.health is not None and ctx.health.due(ctx.step):  # raw gradients: before clipping
            ctx.health.read_gradients(ctx.step, ctx.scaler.get_scale() if ctx.scaler.is_enabled() else 1.0)
        if c.grad_clip:
            ctx.scaler.unscale_(ctx.optimizer)
            torch.nn.utils.clip_grad_norm_(ctx.model.parameters(), c.grad_clip)
        ctx.scaler.step(ctx.optimizer)
        ctx.scaler.update()
        return loss.detach(), out.detach()

    # -- a distributed run's share (engine.training.collective) ------------------------------
    @property
    def _main(self) -> bool:
        return self.collective is None or self.collective.is_main

    def _validate(self, model, val_set, loss_fn, num_outputs, val_batcher, ctx):
        """Validation of the epoch. Distributed: rank 0 validates the model it checkpoints (its
        own batch-norm statistics) on the whole set and gives every rank the result, so early
        stopping and the plateau schedule decide the same everywhere; no stop in between."""
        if not self._main:
            return self.collective.from_main(None)
        val = evaluate(model, val_set, loss_fn=loss_fn, num_outputs=num_outputs, batcher=val_batcher,
                       batch_size=self._val_batch, autocast=ctx.autocast,
                       should_stop=self._stop.is_set if self.collective is None else None,
                       on_smaller_batch=self._smaller_validation_batch)
        return val if self.collective is None else self.collective.from_main(val)

    def _emit_health(self, ctx, epoch) -> None:
        sample = ctx.health.take(epoch)
        if sample is None:
            return
        self._emit(sample)
        for diagnostic in ctx.health_checker.check(sample):
            self._emit(diagnostic)

    def _diverged(self, ctx, epoch, batch):
        lr = ctx.optimizer.param_groups[0]["lr"]
        kept = (f"the last good checkpoint ({self.run_dir / 'checkpoints' / 'last.pt'}, epoch {self.epochs_done}) "
                "is kept" if self.run_dir and self.epochs_done else "no checkpoint was written")
        self._emit(events.Error(
            f"the loss became infinite or NaN at epoch {epoch + 1}, batch {batch} (learning rate {lr:.3g}). "
            f"The learning rate is likely too high: try {lr / 10:.3g}, add warm-up or gradient clipping, "
            f"and check the data for NaN values; {kept}.", "non_finite", f"lr={lr}"))
        if self.run_dir and self.epochs_done:
            last = rundir.load_checkpoint(self.run_dir / "checkpoints" / "last.pt")
            rundir.write_weights(self.run_dir / "weights.safetensors", last["model"], dumps(self.design))
        raise StopRun("non_finite")

    def _epoch_done(self, ctx, epoch, train_loss, train_acc, val, seconds) -> bool:
        c = self.config
        value = val.accuracy if c.monitor == "val_accuracy" else val.loss
        higher = c.monitor == "val_accuracy"
        best = self.best["value"]
        improved = best is None or (value > best if higher else value < best)
        lr = ctx.optimizer.param_groups[0]["lr"]
        event = events.EpochEnd(epoch, train_loss, train_acc, val.loss, val.accuracy, val.top5, lr, seconds,
                                improved, val.confusion)
        row = event.as_row()
        if self.history:
            self.history[-1].pop("confusion", None)  # only the latest matrix is kept (best.pt holds the best's)
        row["confusion"] = val.confusion.tolist()
        self.history.append(row)
        self.epochs_done = epoch + 1
        if improved:
            self.best = {"epoch": epoch + 1, "value": value}
        ctx.schedule.epoch_end(value, higher)
        if self.run_dir:
            checkpoint = self._checkpoint(ctx, epoch + 1, 0, None)
            rundir.save_checkpoint(self.run_dir / "checkpoints" / "last.pt", checkpoint)
            if improved:
                rundir.save_checkpoint(self.run_dir / "checkpoints" / "best.pt", checkpoint)
            self._metrics_log().write(self.history)
        self._emit(event)
        return improved

    def _checkpoint(self, ctx, epoch, batch, meter) -> dict:
        rng = rng_state.capture(ctx.device)  # the training device's generator only, not every visible GPU's
        # version 2: the history is bounded (its last row and confusion matrix); resume reads the rest
        # back from the run folder's metrics file, so a checkpoint's size does not grow with the epochs
        return {"format": rundir.CHECKPOINT_FORMAT, "version": 2, "model": rundir.cpu_state(ctx.model),
                "optimizer": ctx.optimizer.state_dict(), "scheduler": ctx.schedule.state_dict(),
                "scaler": ctx.scaler.state_dict() if ctx.scaler.is_enabled() else {},
                "epoch": epoch, "batch": batch, "step": ctx.step, **rundir.bounded_history(self.history),
                "best": dict(self.best), "config": self.config.to_dict(), "design": dumps(self.design),
                "rng": rng, "meter": meter.state() if meter else None}

    def _metrics_log(self) -> rundir.MetricsLog:
        """The run folder's metrics files, appended one row an epoch (written whole on first use)."""
        log = getattr(self, "_metrics", None)
        if log is None or log.run_dir != self.run_dir:
            log = self._metrics = rundir.MetricsLog(self.run_dir)
        return log

    def _save_last(self, ctx, epoch, batch, meter) -> None:
        if self.run_dir:
            rundir.save_checkpoint(self.run_dir / "checkpoints" / "last.pt", self._checkpoint(ctx, epoch, batch, meter))

    def _report_decode_failures(self, *sets) -> None:
        """Files that passed the load-time check but failed to decode later are skipped; say so once."""
        underlying = {id(base): base for base in (getattr(d, "dataset", d) for d in sets)}  # split sets share one
        failed = sum(len(getattr(base, "failed", ())) for base in underlying.values())
        if failed > getattr(self, "_failures_reported", 0):
            self._failures_reported = failed
            self._warn(f"{failed} image file(s) failed to decode during training and were skipped", "undecodable")

    def _finish_weights(self, model) -> None:
        if self.run_dir:
            rundir.write_weights(self.run_dir / "weights.safetensors", rundir.cpu_state(model), dumps(self.design))


def _fmt(shape) -> str:
    return "×".join(str(s) for s in shape)


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
