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
from ..compile import compile_design, count_parameters
from ..persistence import dumps
from . import events, rundir
from .config import ConfigError, TrainConfig
from .evaluate import evaluate
from .loop import Batcher, Meter, feature_maps, set_train_mode
from .optim import LRSchedule, make_loss, make_optimizer, parameter_groups, resolve_device

_OOM = tuple({getattr(torch, "OutOfMemoryError", RuntimeError), torch.cuda.OutOfMemoryError} - {RuntimeError})


class StopRun(Exception):
    """Ends a run early with a reason (internal)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class Trainer:
    def __init__(self, design, config: TrainConfig | None = None, dataset=None, on_event=None, run_dir=None):
        self.design = design.copy()  # a snapshot: later edits in the app do not reach the run
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
        try:
            reason = self._run()
        except StopRun as s:
            reason = s.reason
        except _OOM:
            bs = self.config.batch_size
            if torch.cuda.is_available():
                torch.cuda.empty_cache()
            self._emit(events.Error(f"the GPU ran out of memory with batch size {bs}; try --batch-size "
                                    f"{max(1, bs // 2)} (or a smaller input or model)", "out_of_memory",
                                    f"batch_size={bs}"))
            reason = "error"
        except rundir.RunDirWriteError as e:
            self._emit(self._write_failed(e))
            reason = "error"
        except (ConfigError, datasets.DatasetError) as e:
            self._emit(events.Error(str(e), "config" if isinstance(e, ConfigError) else "data"))
            reason = "error"
        except Exception as e:  # noqa: BLE001 - a run must never take its process down
            self._emit(events.Error(f"{type(e).__name__}: {e}", "exception", traceback.format_exc()))
            reason = "error"
        finished = events.Finished(reason, self.epochs_done, self.best["epoch"], self.best["value"],
                                   [dict(r) for r in self.history], str(self.run_dir) if self.run_dir else None,
                                   time.perf_counter() - self._t0)
        self._emit(finished)
        return finished

    def _emit(self, event) -> None:
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
        _seed_everything(c.seed, c.deterministic)
        device, device_note = resolve_device(c.device)
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
        batcher = Batcher(train_set, c.batch_size, device, bundle.mean if c.normalize else None,
                          bundle.std if c.normalize else None, channels_last=cuda and c.channels_last and image_input)
        augment = datasets.Augment.from_dict(c.augment) if not c.overfit_batches else datasets.Augment()
        steps_per_epoch = batcher.batches_per_epoch()
        schedule = LRSchedule(optimizer, c, steps_per_epoch)
        scaler = torch.amp.GradScaler("cuda", enabled=cuda and c.mixed_precision)
        start_epoch, start_batch, step, carried = 0, 0, 0, None
        if c.resume:
            start_epoch, start_batch, step, carried = self._resume(model, optimizer, schedule, scaler)
        if self.run_dir:
            rundir.prepare(self.run_dir, self.design, c, bundle.describe())
        trainable, frozen_count = count_parameters(model)
        self._emit(events.RunStarted(str(device), device_note, len(train_set), len(val_set), steps_per_epoch,
                                     c.epochs, start_epoch, trainable, frozen_count,
                                     str(self.run_dir) if self.run_dir else None))
        sample = self._fixed_sample(val_set, batcher) if taps else None
        ctx = _RunContext(model, frozen, optimizer, schedule, scaler, loss_fn, batcher, augment, device, taps,
                          sample, num_outputs, cuda and c.mixed_precision, steps_per_epoch)
        ctx.step, ctx.session_start_step = step, step
        # one pair of limiters for the whole run, so an epoch's first batch does not skip the limit
        ctx.limiter, ctx.maps_limiter = events.RateLimiter(c.event_rate), events.RateLimiter(1 / c.feature_map_interval)
        bad_epochs = 0
        for epoch in range(start_epoch, c.epochs):
            meter = Meter(device, carried)
            carried = None
            self._train_epoch(ctx, epoch, start_batch if epoch == start_epoch else 0, meter)
            train_loss, train_acc = meter.read()
            if not math.isfinite(train_loss):
                self._diverged(ctx, epoch, steps_per_epoch)
            val = evaluate(model, val_set, loss_fn=loss_fn, num_outputs=num_outputs, mean=batcher.mean,
                           std=batcher.std, batch_size=c.batch_size, device=device, autocast=ctx.autocast,
                           taps=bool(taps), channels_last=batcher.channels_last, should_stop=self._stop.is_set)
            set_train_mode(model, frozen)
            if val is None:  # stopped during validation: resuming re-validates this epoch
                self._save_last(ctx, epoch, steps_per_epoch, meter)
                self._finish_weights(model)
                return "stopped"
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
        return compile_design(self.design, taps=taps), taps

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
        """Copy matching tensors from ``init_weights``; returns the node ids that were loaded.
        Nodes listed in ``reinit_nodes`` or whose shapes differ keep their fresh initialisation."""
        try:
            source = rundir.load_weights(self.config.init_weights)
        except (ValueError, OSError) as e:
            raise ConfigError(f"init_weights: {e}") from None
        by_module = {v: k for k, v in model.node_names.items()}
        skip = {model.node_names.get(n) for n in self.config.reinit_nodes}
        state = model.state_dict()
        loaded, mismatched = set(), set()
        for key, value in state.items():
            module = key.split(".")[0]
            if module in skip or key not in source:
                continue
            if source[key].shape != value.shape:
                mismatched.add(by_module.get(module, module))
                continue
            state[key] = source[key]
            loaded.add(by_module.get(module, module))
        model.load_state_dict(state)
        if mismatched:
            self._warn(f"kept fresh weights for {', '.join(sorted(mismatched))}: their shapes differ from "
                       f"{self.config.init_weights}", "init_weights")
        if not loaded:
            self._warn(f"no weights in {self.config.init_weights} match this design", "init_weights")
        return loaded - mismatched

    def _num_outputs(self) -> int:
        from ..analysis import analyze
        out = analyze(self.design).nodes[self.design.output_nodes()[0].id].shape
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
        self.history = list(ck["history"])
        self.best = dict(ck["best"])
        self.epochs_done = ck["epoch"]
        torch.set_rng_state(ck["rng"]["torch"])
        if torch.cuda.is_available() and ck["rng"].get("cuda"):
            torch.cuda.set_rng_state_all(ck["rng"]["cuda"])
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
            if self._stop.is_set():
                self._save_last(ctx, epoch, batch_index, meter)
                self._finish_weights(ctx.model)
                raise StopRun("stopped")
            lr = ctx.schedule.apply(ctx.step)
            loss, out = self._step(ctx, x, y)
            meter.add(loss, out, y, ctx.num_outputs)
            ctx.step += 1
            if ctx.device.type == "cpu" and not math.isfinite(loss.item()):
                self._diverged(ctx, epoch, batch_index + 1)
            done = batch_index + 1
            if limiter.ready() or done == ctx.steps_per_epoch:
                limiter.mark()
                now = time.perf_counter()
                sums = meter.sums()
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
        with torch.autocast(ctx.device.type) if ctx.autocast else contextlib.nullcontext():
            out = ctx.model(x)
            if ctx.taps:
                out = out[0]
            loss = ctx.loss_fn(out.float(), y)
        ctx.optimizer.zero_grad(set_to_none=True)
        ctx.scaler.scale(loss).backward()
        if c.grad_clip:
            ctx.scaler.unscale_(ctx.optimizer)
            torch.nn.utils.clip_grad_norm_(ctx.model.parameters(), c.grad_clip)
        ctx.scaler.step(ctx.optimizer)
        ctx.scaler.update()
        return loss.detach(), out.detach()

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
            rundir.write_metrics(self.run_dir, self.history)
        self._emit(event)
        return improved

    def _checkpoint(self, ctx, epoch, batch, meter) -> dict:
        rng = {"torch": torch.get_rng_state()}
        if ctx.device.type == "cuda":
            rng["cuda"] = torch.cuda.get_rng_state_all()
        return {"format": rundir.CHECKPOINT_FORMAT, "version": 1, "model": rundir.cpu_state(ctx.model),
                "optimizer": ctx.optimizer.state_dict(), "scheduler": ctx.schedule.state_dict(),
                "scaler": ctx.scaler.state_dict() if ctx.scaler.is_enabled() else {},
                "epoch": epoch, "batch": batch, "step": ctx.step, "history": [dict(r) for r in self.history],
                "best": dict(self.best), "config": self.config.to_dict(), "design": dumps(self.design),
                "rng": rng, "meter": meter.state() if meter else None}

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


class _RunContext:
    """What one run's loop needs, in one place."""

    def __init__(self, model, frozen, optimizer, schedule, scaler, loss_fn, batcher, augment, device, taps, sample,
                 num_outputs, autocast, steps_per_epoch):
        self.model, self.frozen, self.optimizer, self.schedule, self.scaler = model, frozen, optimizer, schedule, scaler
        self.loss_fn, self.batcher, self.augment, self.device, self.taps = loss_fn, batcher, augment, device, taps
        self.sample, self.num_outputs, self.autocast, self.steps_per_epoch = sample, num_outputs, autocast, steps_per_epoch
        self.step = self.session_start_step = 0
        self.augmenting = augment.active


def _fmt(shape) -> str:
    return "×".join(str(s) for s in shape)


def _seed_everything(seed: int, deterministic: bool) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    if deterministic:
        torch.backends.cudnn.benchmark = False
        torch.backends.cudnn.deterministic = True
        torch.use_deterministic_algorithms(True, warn_only=True)
