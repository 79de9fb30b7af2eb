"""The `train` command's progress: training events as tqdm bars and one line per epoch.

On a terminal: an epoch bar (epochs done, time elapsed, the trainer's estimate of the time left
for the whole run) over a batch bar for the current epoch (batches, batches a second, tqdm's time
left in the epoch, the loss and accuracy since the previous update, the learning rate, samples a
second), redrawn at the trainer's event rate; epoch summaries, notes and errors print above the
bars and stay. Off a terminal (a log file, a pipe, CI) or with --quiet there are no bars: the
same lines only, one per epoch, nothing rewritten with carriage returns.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..training.events import Error


def is_terminal(stream) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False


class ProgressPrinter:
    """An ``on_event`` for the trainer writing to ``stream``; bars when ``bar`` (default: when
    ``stream`` is a terminal). Keeps the last error (``error``) and whether the run started."""

    def __init__(self, stream, bar: bool | None = None):
        self.stream = stream
        self.bar = is_terminal(stream) if bar is None else bar
        self.epochs = 0
        self.error: Error | None = None  # the last events.Error, for the exit code and the resume hint
        self.started = False  # RunStarted seen: the run folder was written
        self._epoch_bar: Any = None
        self._batch_bar: Any = None
        self._bar_epoch: int | None = None  # the epoch the batch bar counts
        self._eta_text = ""

    def line(self, text: str) -> None:
        """A line that stays (above the bars, if any)."""
        if self._epoch_bar is not None or self._batch_bar is not None:
            from tqdm import tqdm
            tqdm.write(text, file=self.stream)
        else:
            self.stream.write(text + "\n")
        self.stream.flush()

    def __call__(self, event) -> None:
        from ..training import events as ev
        if isinstance(event, ev.BatchProgress):
            if self.bar:
                self._progress(event)
        elif isinstance(event, ev.RunStarted):
            self.started = True
            self.epochs = event.epochs
            resumed = f", resuming at epoch {event.start_epoch + 1}" if event.start_epoch else ""
            self.line(f"device {event.device} ({event.device_note}); {event.train_size:,} training / "
                      f"{event.val_size:,} validation samples; {event.trainable_params:,} trainable parameters"
                      f"{resumed}")
            if self.bar:
                self._open_epoch_bar(event.start_epoch)
        elif isinstance(event, ev.EpochEnd):
            self._close_batch_bar()
            top5 = f"  top-5 {event.val_top5:.1%}" if event.val_top5 is not None else ""
            mark = "  *best" if event.improved else ""
            self.line(f"epoch {event.epoch + 1}/{self.epochs}  train loss {event.train_loss:.4f} "
                      f"acc {event.train_accuracy:.1%}  val loss {event.val_loss:.4f} acc {event.val_accuracy:.1%}"
                      f"{top5}  lr {event.lr:.3g}  {event.seconds:.1f}s{mark}")
            if self._epoch_bar is not None:
                self._epoch_bar.update(event.epoch + 1 - self._epoch_bar.n)
        elif isinstance(event, ev.Warning):
            self.line(f"note: {event.message}")
        elif isinstance(event, ev.HealthDiagnostic):
            self.line(f"health: {event.message}")
        elif isinstance(event, ev.Error):
            self.error = event
            self.line(f"error: {event.message}")
        elif isinstance(event, ev.Finished):
            self.close()
            if event.reason == "error" and self.error is not None and not event.epochs_done:
                return  # the error line says it all
            best = (f"; best val {event.best_value:.4g} at epoch {event.best_epoch}"
                    if event.best_epoch is not None else "")
            self.line(f"{event.reason} after {event.epochs_done} epoch(s) in {clock(event.seconds)}{best}")

    def close(self) -> None:
        """Take the bars off the screen (the lines stay)."""
        self._close_batch_bar()
        bar, self._epoch_bar = self._epoch_bar, None
        if bar is not None:
            bar.close()

    # -- the bars ------------------------------------------------------------------------------
    def _open_epoch_bar(self, start_epoch: int) -> None:
        from tqdm import tqdm
        # tqdm's own estimate for this bar would be "?" until an epoch ends: the trainer's (per
        # step, whole run) is shown instead, in the postfix
        self._epoch_bar = tqdm(total=self.epochs, initial=start_epoch, desc="epochs", unit="epoch",
                               file=self.stream, position=0, leave=False, dynamic_ncols=True,
                               bar_format="{desc} {n_fmt}/{total_fmt} |{bar}| {elapsed} elapsed{postfix}")

    def _progress(self, event) -> None:
        from tqdm import tqdm
        if self._epoch_bar is None:
            self._open_epoch_bar(event.epoch)
        if self._batch_bar is None or self._bar_epoch != event.epoch:
            self._close_batch_bar()
            # redrawn at every event: the trainer sends them at most event_rate (30) times a second
            self._batch_bar = tqdm(total=event.batches, desc=f"epoch {event.epoch + 1}/{self.epochs}",
                                   unit="batch", file=self.stream, position=1, leave=False, dynamic_ncols=True,
                                   mininterval=0, miniters=1)
            self._bar_epoch = event.epoch
        bar = self._batch_bar
        bar.set_postfix_str(f"loss {event.loss:.4f}  acc {event.accuracy:.1%}  lr {event.lr:.3g}  "
                            f"{event.samples_per_second:,.0f} samples/s", refresh=False)
        bar.update(max(0, event.batch - bar.n))
        eta = f"ETA {clock(event.eta)}"
        if eta != self._eta_text:  # redrawn when the estimate's seconds change
            self._eta_text = eta
            self._epoch_bar.set_postfix_str(eta)

    def _close_batch_bar(self) -> None:
        bar, self._batch_bar = self._batch_bar, None
        if bar is not None:
            bar.close()


def clock(seconds: float) -> str:
    seconds = int(max(0, seconds))
    h, rest = divmod(seconds, 3600)
    return f"{h}:{rest // 60:02d}:{rest % 60:02d}" if h else f"{rest // 60}:{rest % 60:02d}"

