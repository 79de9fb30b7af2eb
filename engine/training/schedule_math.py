"""The learning rate of every step of a run, in closed form and plain Python (no torch).

The trainer's :class:`engine.training.optim.LRSchedule` sets ``base × factor(step)`` before
each optimizer step, with ``factor`` from here; the app draws its schedule preview from the
same function without importing torch. The factor is ``warm-up × schedule``:

- warm-up (every schedule but one-cycle): linear, ``(step + 1) / warmup_steps`` for the first
  ``round(warmup_epochs × steps_per_epoch)`` steps — torch's ``LinearLR(start_factor=1/W,
  total_iters=W - 1)``;
- ``step``: ``gamma ** ⌊epoch / step_size⌋`` — ``StepLR`` stepped per batch with a step size of
  ``step_size × steps_per_epoch``;
- ``multistep``: ``gamma`` per milestone passed — ``MultiStepLR`` on milestones in batches;
- ``cosine``: from 1 down to ``min_lr / lr`` over the steps after the warm-up —
  ``CosineAnnealingLR(T_max=total - warmup, eta_min=min_lr)`` started when the warm-up ends;
- ``onecycle``: cosine up from ``lr/25`` to ``lr`` in ``warmup_steps`` steps (30 % of the run when
  there is no warm-up) and down to ``lr/(25·10⁴)`` at the last step — ``OneCycleLR`` with
  ``pct_start = (rise + 1) / total``;
- ``plateau`` and ``none``: 1 (reduce-on-plateau then divides by 1/gamma as validation stalls,
  which no formula can know in advance).

``tests/engine/test_schedule_math.py`` checks these against ``torch.optim.lr_scheduler``.
"""
from __future__ import annotations

import math

ONE_CYCLE_DIV = 25.0  # torch's OneCycleLR defaults
ONE_CYCLE_FINAL_DIV = 1e4


def total_steps(config, steps_per_epoch: int) -> int:
    return max(1, steps_per_epoch) * config.epochs


def warmup_steps(config, steps_per_epoch: int) -> int:
    return round(config.warmup_epochs * max(1, steps_per_epoch))


def lr_factor(config, step: int, steps_per_epoch: int) -> float:
    """The learning rate of optimizer step ``step`` (0-based) divided by ``config.lr``, before
    any reduce-on-plateau reduction. ``config`` is a :class:`TrainConfig`."""
    steps_per_epoch = max(1, steps_per_epoch)
    total = total_steps(config, steps_per_epoch)
    warmup = warmup_steps(config, steps_per_epoch)
    schedule = config.schedule
    warm = min(1.0, (step + 1) / warmup) if warmup and schedule != "onecycle" else 1.0
    epoch = step / steps_per_epoch
    if schedule == "step":
        f = config.gamma ** int(epoch // max(1, config.step_size))
    elif schedule == "multistep":
        f = config.gamma ** sum(1 for m in config.milestones if epoch >= m)
    elif schedule == "cosine":
        span = max(1, total - warmup)
        t = min(1.0, max(0, step - warmup) / span)
        floor = config.min_lr / config.lr
        f = floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * t))
    elif schedule == "onecycle":
        f = one_cycle(step, total, warmup or round(0.3 * total))
    else:
        f = 1.0
    return warm * f


def one_cycle(step: int, total: int, rise: int, div: float = ONE_CYCLE_DIV,
              final_div: float = ONE_CYCLE_FINAL_DIV) -> float:
    """Leslie Smith's one-cycle policy as torch's OneCycleLR (cosine, two phases): from 1/div up
    to 1 at step ``rise``, then down to 1/(div·final_div) at the last step, ``total - 1``."""
    rise = max(1, min(rise, total - 1))
    start, end = 1 / div, 1 / (div * final_div)
    if step <= rise:
        return _cosine_between(start, 1.0, step / rise)
    return _cosine_between(1.0, end, min(1.0, (step - rise) / max(1, total - 1 - rise)))


def _cosine_between(a: float, b: float, t: float) -> float:
    """From a (t = 0) to b (t = 1) along half a cosine."""
    return b + (a - b) / 2 * (math.cos(math.pi * t) + 1)


def lr_curve(config, steps_per_epoch: int, max_points: int = 400) -> tuple[list[float], list[float]]:
    """(epoch, learning rate) at up to ``max_points`` steps spread over the whole run, first and
    last step included: what the schedule preview draws."""
    steps_per_epoch = max(1, steps_per_epoch)
    total = total_steps(config, steps_per_epoch)
    n = max(1, min(total, max_points))
    steps = sorted({round(i * (total - 1) / (n - 1)) for i in range(n)} if n > 1 else {0})
    return ([s / steps_per_epoch for s in steps],
            [config.lr * lr_factor(config, s, steps_per_epoch) for s in steps])


__all__ = ["lr_factor", "lr_curve", "one_cycle", "total_steps", "warmup_steps"]
