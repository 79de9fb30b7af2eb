"""Training health (issue 19, item 4): per-node gradient norms and dead ReLU units, sampled every N
steps, checked against torch computed independently, and the diagnostics they raise."""
from __future__ import annotations

import math

import pytest
import torch

from engine import Design, compile_design, data
from engine.training import events
from engine.training.health import DEAD_SAMPLES, HealthChecker, HealthProbe

from .test_training import config, of, run, tiny_cnn

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def shapes16():
    return data.load("shapes", input_shape=(1, 16, 16), options={"n": 320})


def dead_half_design() -> Design:
    """conv1's channels 0-1 pass the input, channels 2-3 have a bias of -100: dead for any input in [0, 1]."""
    d = Design("half-dead", num_classes=4)
    d.chain(("input", {"shape": [1, 16, 16]}), ("conv2d", {"out_channels": 4, "kernel": 1}), "relu",
            "flatten", ("linear", {"out_features": 4}), "output")
    return d


def _set_half_dead(model):
    conv = next(m for m in model.modules() if isinstance(m, torch.nn.Conv2d))
    with torch.no_grad():
        conv.weight.fill_(1.0)
        conv.bias.copy_(torch.tensor([0.5, 0.5, -100.0, -100.0]))


def test_probe_reads_each_nodes_gradient_norm_and_dead_units_as_torch_does():
    torch.manual_seed(0)
    design = tiny_cnn(batch_norm=True)
    model = compile_design(design)
    probe = HealthProbe(model, interval=5)
    x, y = torch.rand(8, 1, 16, 16), torch.randint(0, 4, (8,))
    with probe.watching(step=10):
        out = model(x)
    torch.nn.functional.cross_entropy(out, y).backward()
    probe.read_gradients(step=10, scale=2.0)
    sample = probe.take(epoch=1)
    assert sample.step == 10 and sample.epoch == 1
    # torch, independently: group the gradients by the node's submodule name
    expected = {}
    for node, module in model.node_names.items():
        grads = [p.grad for name, p in model.named_parameters() if name.split(".")[0] == module]
        if grads:
            expected[node] = math.sqrt(sum(float(g.pow(2).sum()) for g in grads)) / 2.0
    assert sample.grad_norms.keys() == expected.keys() and len(expected) == 3  # conv, batch norm, linear
    for node, value in expected.items():
        assert sample.grad_norms[node] == pytest.approx(value, rel=1e-5)
    # dead units: the ReLU's output recomputed, a unit dead when zero for all 8 samples
    relu_node = next(n.id for n in design.nodes.values() if n.block == "relu")
    with torch.no_grad():
        act = model.get_submodule(model.node_names[relu_node])(
            model.get_submodule(model.node_names[next(n.id for n in design.nodes.values() if n.block == "batchnorm2d")])(
                model.get_submodule(model.node_names[next(n.id for n in design.nodes.values() if n.block == "conv2d")])(x)))
    dead = float((act <= 0).flatten(1).all(dim=0).float().mean())
    assert sample.dead_fraction == {relu_node: pytest.approx(dead)}
    assert probe.take(epoch=1) is None  # taken once


def test_probe_does_nothing_between_samples():
    model = compile_design(dead_half_design())
    probe = HealthProbe(model, interval=50)
    hooks_before = sum(len(m._forward_hooks) for m in model.modules())
    with probe.watching(step=51):
        assert sum(len(m._forward_hooks) for m in model.modules()) == hooks_before
        model(torch.rand(2, 1, 16, 16)).sum().backward()
    probe.read_gradients(step=51)
    assert probe.take(epoch=0) is None
    with probe.watching(step=100):
        assert sum(len(m._forward_hooks) for m in model.modules()) == hooks_before + 1
        model(torch.rand(2, 1, 16, 16))
    assert sum(len(m._forward_hooks) for m in model.modules()) == hooks_before  # removed after the pass


def test_a_half_dead_relu_measures_one_half():
    model = compile_design(dead_half_design())
    _set_half_dead(model)
    probe = HealthProbe(model, interval=1)
    with probe.watching(step=1):
        model(torch.rand(4, 1, 16, 16)).sum().backward()
    probe.read_gradients(step=1)
    assert list(probe.take(0).dead_fraction.values()) == [0.5]


def _sample(step, grads, dead=None):
    return events.Health(step, 0, grads, dead or {})


def test_checker_names_vanishing_exploding_and_dead_units_once_each():
    checker = HealthChecker({"conv1": "first conv"})
    found = checker.check(_sample(1, {"conv1": 1e-7, "fc": 1.0, "mid": 5e3}))
    kinds = {(d.node_id, d.kind) for d in found}
    assert kinds == {("conv1", "vanishing"), ("mid", "exploding")}
    vanishing = next(d for d in found if d.kind == "vanishing")
    assert "first conv (conv1)" in vanishing.message and "batch normalisation" in vanishing.message
    assert checker.check(_sample(2, {"conv1": 1e-7, "fc": 1.0, "mid": 5e3})) == []  # said once a run
    assert [d.kind for d in checker.check(_sample(3, {"x": float("nan"), "y": 1.0}))] == ["exploding"]
    # a dead ReLU needs DEAD_SAMPLES samples in a row; a healthy sample in between resets the count
    assert checker.check(_sample(4, {}, {"relu": 0.95})) == []
    assert checker.check(_sample(5, {}, {"relu": 0.10})) == []
    said = []
    for step in range(DEAD_SAMPLES):
        said += checker.check(_sample(6 + step, {}, {"relu": 0.95}))
    assert [(d.node_id, d.kind) for d in said] == [("relu", "dead_relu")]
    assert "95%" in said[0].message and "leaky ReLU" in said[0].message


def test_training_emits_health_every_interval_and_a_deep_sigmoid_chain_vanishes(shapes16):
    d = Design("deep-sigmoid", num_classes=4)
    steps = [("input", {"shape": [1, 16, 16]}), "flatten"]
    for _ in range(14):
        steps += [("linear", {"out_features": 16}), "sigmoid"]
    d.chain(*steps, ("linear", {"out_features": 4}), "output")
    _, finished, seen = run(d, shapes16, config(epochs=1, health_interval=4))
    assert finished.reason == "completed"
    samples = of(seen, events.Health)
    steps_run = 256 // 16  # 320 samples, 20 % for validation, batch 16
    assert [s.step for s in samples] == list(range(0, steps_run, 4))
    assert all(len(s.grad_norms) == 15 for s in samples)
    first_linear = next(n.id for n in d.nodes.values() if n.block == "linear")
    vanishing = [e for e in of(seen, events.HealthDiagnostic) if e.kind == "vanishing"]
    assert first_linear in {e.node_id for e in vanishing}


def test_health_can_be_switched_off(shapes16):
    _, _, seen = run(tiny_cnn(), shapes16, config(epochs=1, health_interval=0))
    assert not of(seen, events.Health)
