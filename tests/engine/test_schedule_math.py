"""The closed-form learning-rate schedule (engine.training.schedule_math) is what the trainer sets
and what torch.optim.lr_scheduler computes, for random settings: the app's preview draws it
without torch, so it must show what training will do."""
from __future__ import annotations

import math
import warnings

import torch
from hypothesis import given, settings, strategies as st

from engine.training.config import SCHEDULES, TrainConfig
from engine.training.optim import LRSchedule
from engine.training.schedule_math import lr_curve, lr_factor, total_steps, warmup_steps

MAX_STEPS = 480  # keeps a few dozen examples well under a second each


@st.composite
def configs(draw):
    schedule = draw(st.sampled_from(SCHEDULES))
    epochs = draw(st.integers(1, 12))
    steps_per_epoch = draw(st.integers(1, MAX_STEPS // epochs))
    if schedule == "onecycle" and epochs * steps_per_epoch < 2:
        steps_per_epoch = 2  # a one-step cycle has no peak (torch refuses it too)
    lr = draw(st.floats(1e-4, 1.0))
    config = TrainConfig(
        schedule=schedule, epochs=epochs, lr=lr,
        warmup_epochs=draw(st.one_of(st.just(0.0), st.floats(0.0, 3.0), st.sampled_from([0.5, 1.0, 2.0]))),
        gamma=draw(st.floats(0.05, 0.95)), step_size=draw(st.integers(1, 5)),
        milestones=draw(st.lists(st.integers(1, 12), max_size=4)),
        min_lr=draw(st.one_of(st.just(0.0), st.floats(0.0, 0.5).map(lambda f: f * lr))))
    return config, steps_per_epoch


def torch_lrs(scheduler, lr: float, steps: int) -> list[float]:
    """The learning rate of each of ``steps`` steps under ``scheduler(optimizer)``, stepped once
    per batch as a training loop does."""
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=lr)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "lr_scheduler.step() before optimizer.step()": no training here
        sched = scheduler(optimizer)
        out = [optimizer.param_groups[0]["lr"]]
        for _ in range(steps - 1):  # OneCycleLR refuses a step past its last
            optimizer.step()
            sched.step()
            out.append(optimizer.param_groups[0]["lr"])
    return out


def torch_reference(config: TrainConfig, steps_per_epoch: int) -> list[float]:
    """torch's schedulers, combined as the trainer combines them: warm-up × schedule."""
    sched = torch.optim.lr_scheduler
    total, warm = total_steps(config, steps_per_epoch), warmup_steps(config, steps_per_epoch)
    lr = config.lr
    if config.schedule == "onecycle":
        rise = max(1, min(warm or round(0.3 * total), total - 1))
        return torch_lrs(lambda o: sched.OneCycleLR(o, max_lr=lr, total_steps=total, pct_start=(rise + 1) / total,
                                                    anneal_strategy="cos", cycle_momentum=False, div_factor=25.0,
                                                    final_div_factor=1e4), lr, total)
    warm_up = [1.0] * total
    if warm:
        factors = torch_lrs(lambda o: sched.LinearLR(o, start_factor=1 / warm, end_factor=1.0,
                                                     total_iters=warm - 1), 1.0, total)
        warm_up = factors
    if config.schedule == "step":
        f = torch_lrs(lambda o: sched.StepLR(o, config.step_size * steps_per_epoch, config.gamma), 1.0, total)
    elif config.schedule == "multistep":
        milestones = [m * steps_per_epoch for m in config.milestones]
        f = torch_lrs(lambda o: sched.MultiStepLR(o, milestones, config.gamma), 1.0, total)
    elif config.schedule == "cosine":
        span = max(1, total - warm)  # the cosine starts when the warm-up ends
        cosine = torch_lrs(lambda o: sched.CosineAnnealingLR(o, T_max=span, eta_min=config.min_lr), lr, span)
        f = [cosine[max(0, s - warm)] / lr if s >= warm else 1.0 for s in range(total)]
    else:  # none, plateau (before any reduction)
        f = [1.0] * total
    return [lr * w * g for w, g in zip(warm_up, f)]


@settings(max_examples=40, deadline=None)
@given(configs())
def test_closed_form_schedule_matches_torch_and_the_trainer(case):
    config, steps_per_epoch = case
    total = total_steps(config, steps_per_epoch)
    ours = [config.lr * lr_factor(config, s, steps_per_epoch) for s in range(total)]
    reference = torch_reference(config, steps_per_epoch)
    for step, (mine, theirs) in enumerate(zip(ours, reference)):
        assert math.isclose(mine, theirs, rel_tol=1e-6, abs_tol=1e-9 * config.lr), (step, mine, theirs)
    # The trainer sets exactly these values on its optimizer (one group per base learning rate).
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=config.lr)
    trainer_schedule = LRSchedule(optimizer, config, steps_per_epoch)
    assert [trainer_schedule.apply(s) for s in range(total)] == ours
    # The preview's points are the same values at a subset of the steps, first and last included.
    x, y = lr_curve(config, steps_per_epoch, max_points=50)
    steps = [round(e * steps_per_epoch) for e in x]
    assert steps[0] == 0 and steps[-1] == total - 1 and len(steps) <= 50
    assert y == [ours[s] for s in steps]


def test_plateau_reduction_multiplies_the_closed_form():
    config = TrainConfig(lr=0.5, schedule="plateau", warmup_epochs=1, plateau_patience=0, gamma=0.1, epochs=3)
    schedule = LRSchedule(torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.5), config, 4)
    schedule.epoch_end(1.0, higher_is_better=False)
    schedule.epoch_end(2.0, higher_is_better=False)  # worse: reduced once
    assert schedule.apply(2) == 0.5 * lr_factor(config, 2, 4) * 0.1
