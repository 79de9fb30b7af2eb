"""The analysis against torch on random designs drawn from the whole catalog.

Every block of the registry (composites included; not ``opaque``, which has no builder, nor
Input/Output as layers) can appear, with every parameter drawn from its declared schema
(``Param.kind``, ``min``/``max``, ``choices``, ``optional``), so a new block or parameter is
fuzzed without touching this file. Sizes are capped (channels ≤ 8, spatial ≤ 12, kernels ≤ 5)
so torch runs fast; the caps only narrow a range, they never leave it.

Designs are chains of 1–4 layers, or two branches merged by a multi-input block (Add, Concat)
between a prefix and a suffix, on an input of 0 (flat) to 3 spatial axes. For each one:

* ``analyze(design).valid`` ⇔ torch runs it with the batched meaning on a batch of 2, in
  train mode and in eval mode (BatchNorm and InstanceNorm check different things in each).
* Valid: the compiled module runs in both modes, and per node the activation shape (taps),
  the parameter and buffer counts, and the MACs (torch's FLOP counter) equal the report.
* Invalid: the design is executed by a reference that builds each block from its spec with
  the shapes torch actually produced (no analysis anywhere, composites expanded the same
  way), and torch must refuse it; up to the refusal, every shape equals the analysis'.
  "Batched meaning": a run that only succeeds because torch reads the batch axis as a
  channel axis (unbatched input) does not count, so the reference also checks that each
  sample alone gives the same output as in the batch.

The suite runs ``ND_FUZZ_DESIGNS`` designs (default 300); ``make fuzz`` runs thousands.
Hand-picked regression cases for what the fuzzer found are at the end of the file.
"""
from __future__ import annotations

import os
import re
import warnings

import pytest
import torch
from hypothesis import HealthCheck, event, given, settings, strategies as st
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from engine import Design, analyze, blocks, compile_design
from engine.blocks import ShapeProblem

pytestmark = pytest.mark.usefixtures("one_torch_thread")

FUZZ_DESIGNS = int(os.environ.get("ND_FUZZ_DESIGNS", "300"))
FUZZ_SETTINGS = settings(max_examples=FUZZ_DESIGNS, deadline=None,
                         suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
BATCH = 2
TRIES = 4  # draws of a layer before a refused one is kept

# Caps on the drawn values, per parameter kind: the declared minimum up to min(max, minimum + cap).
INT_SPAN = 7      # channels, groups, pieces, classes...: 1..8
INTS_SPAN = 4     # kernel, stride, padding, dilation, output size: 1..5 (0..4 for paddings)
FLOAT_BOUND = 10.0  # floats without a declared range (none today)
MAX_CHANNELS = 8
MAX_SPATIAL = {1: 12, 2: 12, 3: 8}  # 3-D volumes stay small: 8³ per channel


def fuzzable_specs() -> list:
    return [s for s in blocks.catalog()
            if s.key not in ("opaque", "input", "output") and (s.build is not None or s.expand is not None)]


def _weight(spec) -> int:
    return 1 + len(spec.params)


SPECS = sorted(fuzzable_specs(), key=_weight, reverse=True)  # see pick_block
MERGES = [s for s in SPECS if s.inputs and s.inputs[0].multi]
_ND = re.compile(r"(\d)d$")


def spatial_dims(spec) -> int | None:
    """The number of spatial axes a block is made for (conv2d → 2), if its key says so."""
    m = _ND.search(spec.key)
    return int(m.group(1)) if m else None


# -- drawing designs from the schema ----------------------------------------------------------

def _int_range(param, span):
    lo = int(param.min) if param.min is not None else 0
    hi = int(param.max) if param.max is not None else lo + span
    return lo, min(hi, lo + span)


def draw_value(draw, param, nd: int | None):
    """A value within ``param``'s declared type and range (narrowed by the caps above)."""
    kind = param.kind
    if param.optional and draw(st.integers(0, 3)) == 0:
        return None
    if draw(st.booleans()) and _within_caps(param, param.default):
        return param.default  # defaults are the usual values: more designs get past the first layer
    if kind == "bool":
        return draw(st.booleans())
    if kind == "choice":
        return draw(st.sampled_from(param.choices))
    if kind == "float":  # the whole declared range: a float costs torch nothing more
        lo = param.min if param.min is not None else -FLOAT_BOUND
        hi = param.max if param.max is not None else FLOAT_BOUND
        return draw(st.floats(lo, hi, allow_nan=False))
    if kind == "int":
        return draw(st.integers(*_int_range(param, INT_SPAN)))
    if kind in ("ints", "padding"):
        if kind == "padding" and draw(st.integers(0, 4)) == 0:
            return draw(st.sampled_from(["same", "valid"]))
        lo, hi = _int_range(param, INTS_SPAN)
        # Windows fit small inputs more often when small values come first.
        sizes = st.integers(lo, min(hi, lo + 1)) | st.integers(lo, hi)
        if nd and nd > 1 and draw(st.booleans()):  # one value per spatial axis
            return [draw(sizes) for _ in range(nd)]
        return draw(sizes)
    raise AssertionError(f"the fuzzer cannot draw a {kind!r} parameter ({param.name}); teach it")


def _within_caps(param, value) -> bool:
    if value is None or isinstance(value, (bool, str)) or param.kind in ("choice", "float"):
        return value is not None or param.optional
    span = INT_SPAN if param.kind == "int" else INTS_SPAN
    lo, hi = _int_range(param, span)
    return all(lo <= v <= hi for v in (value if isinstance(value, list) else [value]))


def draw_params(draw, spec) -> dict:
    nd = spatial_dims(spec)
    return {p.name: draw_value(draw, p, nd) for p in spec.params}


def _takes_rank(spec, rank: int) -> bool:
    """Whether the block, with its default parameters, accepts a roomy input of this rank
    (8 channels, 8 per spatial axis): its own rule says which ranks it is made for."""
    try:
        spec.infer(spec.validate_params({}), [(8,) * rank])
    except ShapeProblem:
        return False
    return True


SUITED = {rank: sorted((s for s in SPECS if _takes_rank(s, rank)), key=_weight, reverse=True)
          for rank in (1, 2, 3, 4)}
assert all(SUITED.values()), "no block takes some input rank: the probe in _takes_rank is off"


def pick_block(draw, pool):
    """A block of ``pool``, weighted by 1 + its number of parameters: a convolution (7 of them)
    has far more cases to explore than a ReLU. Hypothesis draws its simplest value (0) far more
    often than any other, which picks the first block: the pools are sorted so that this is
    one with the most parameters."""
    weights = [_weight(s) for s in pool]
    # Hypothesis favours small integers; a multiplicative hash spreads them over the pool.
    ticket = draw(st.integers(0, (1 << 32) - 1)) * 2654435761 % (1 << 32) % sum(weights)
    for spec, weight in zip(pool, weights):
        if ticket < weight:
            return spec
        ticket -= weight
    raise AssertionError("unreachable")


def draw_layer(draw, rank: int | None):
    """A block, preferring (not requiring) one made for the current input's rank."""
    pool = SUITED[rank] if rank is not None and draw(st.integers(0, 6)) else SPECS
    spec = pick_block(draw, pool)
    return spec.key, draw_params(draw, spec)


class DesignBuilder:
    """Adds nodes through the mutation API. The analysis only steers the drawing (the next
    block's rank, whether to redraw a refused layer); the checks never trust it."""

    def __init__(self, draw, shape):
        self.draw = draw
        self.d = Design("fuzz")
        self.input = self.d.add_node("input", {"shape": list(shape)}).id

    def rank(self, node_id):
        shape = analyze(self.d).nodes[node_id].shape
        return len(shape) if shape is not None else None

    def add(self, key, params, sources):
        node = self.d.add_node(key, params).id
        for src in sources:
            self.d.connect(src, node)
        return node

    def chain(self, src, length):
        for _ in range(length):
            rank = self.rank(src)
            for attempt in range(TRIES):
                key, params = draw_layer(self.draw, rank)
                node = self.add(key, params, [src])
                # A refused layer is usually redrawn (a few times), so that many designs are valid
                # and their counts get compared; sometimes it is kept, so that refusals are checked.
                if attempt == TRIES - 1 or self.rank(node) is not None or rank is None \
                        or not self.draw(st.integers(0, 3)):
                    break
                self.d.remove_node(node)
            src = node
        return src


@st.composite
def designs(draw):
    nd = draw(st.sampled_from([0, 1, 1, 2, 2, 2, 3, 3]))  # images first, then sequences and volumes
    shape = [draw(st.integers(1, MAX_CHANNELS))] + [draw(st.integers(1, MAX_SPATIAL[nd])) for _ in range(nd)]
    b = DesignBuilder(draw, shape)
    if draw(st.booleans()):
        last = b.chain(b.input, draw(st.integers(1, 4)))
    else:
        fork = b.chain(b.input, draw(st.integers(0, 1)))
        left = b.chain(fork, draw(st.integers(1, 2)))
        right = b.chain(fork, draw(st.integers(0, 2)))
        merge = draw(st.sampled_from(MERGES))
        branches = [left, right] if draw(st.booleans()) else [right, left]
        last = b.chain(b.add(merge.key, draw_params(draw, merge), branches), draw(st.integers(0, 1)))
    b.d.connect(last, b.d.add_node("output").id)
    return b.d


def describe(d: Design) -> str:
    lines = []
    for node_id in d.topological_order():
        node = d.nodes[node_id]
        srcs = ", ".join(e.src for e in d.incoming(node_id))
        lines.append(f"  {node_id} = {node.block}({node.params})" + (f" <- {srcs}" if srcs else ""))
    return "\n".join(lines)


# -- the torch reference: no analysis anywhere -------------------------------------------------

class Refused(Exception):
    """Torch (or the block's builder) would not run a node; ``node`` names it."""

    def __init__(self, node, error):
        super().__init__(f"{node}: {type(error).__name__}: {error}")
        self.node, self.error = node, error


def reference_build(spec, params, shapes):
    """The block's own torch module for the shapes torch produced. The only difference from
    ``spec.build``: Linear honours a stated ``in_features`` (what nn.Linear means by it; the
    catalog's builder follows the input because the analysis has already checked it)."""
    if spec.key == "linear" and params["in_features"] is not None:
        return nn.Linear(params["in_features"], params["out_features"], params["bias"])
    return spec.build(params, shapes)


_TORCH_ND = re.compile(r"([123])d$")


def batched_rank(module: nn.Module) -> int | None:
    """The tensor rank at which torch reads a module's input as a batch. Torch's N-D modules
    (Conv2d, MaxPool3d, InstanceNorm1d, Dropout2d, ...) also take one sample without the batch
    axis, rank N + 1: fed a batch of a lower-rank design they would read the batch axis as
    channels. BatchNorm1d takes (N, C) and (N, C, L), both batched, and refuses the rest itself."""
    if isinstance(module, nn.modules.batchnorm._BatchNorm):
        return None
    if isinstance(module, (nn.PixelShuffle, nn.PixelUnshuffle)):
        return 4
    m = _TORCH_ND.search(type(module).__name__)
    return int(m.group(1)) + 2 if m else None


def _refuse_unbatched(module, args):
    rank = batched_rank(module)
    if rank is not None and args and args[0].dim() != rank:
        raise ValueError(f"{type(module).__name__} reads a batch as a {rank}-D tensor; given "
                         f"{tuple(args[0].shape)}, torch would take it for one unbatched sample")


def checked(module: nn.Module) -> nn.Module:
    for m in module.modules():
        if batched_rank(m) is not None:
            m.register_forward_pre_hook(_refuse_unbatched)
    return module


class Reference:
    """Executes a design block by block with modules built from the tensors' real shapes.
    Modules are built on first use and kept, so runs in other modes share the weights."""

    def __init__(self, design: Design):
        self.design = design
        self.modules: dict[str, nn.Module] = {}
        self.values: dict[str, torch.Tensor] = {}  # of the last run, as far as it went

    def run(self, x, train: bool):
        """(output, {node id: activation}); raises Refused at the first node torch refuses."""
        d = self.design
        values = self.values = {}
        for node_id in d.topological_order():
            node = d.nodes[node_id]
            if node.block == "input":
                values[node_id] = x
                continue
            ins = [values[e.src] for e in d.incoming(node_id)]
            values[node_id] = self.call(node_id, d.spec(node.block), node.params, ins, train)
        return values[d.output_nodes()[0].id], values

    def call(self, path, spec, params, ins, train):
        if spec.expand is not None:
            return self.call_composite(path, spec, params, ins, train)
        try:
            module = self.modules.get(path)
            if module is None:
                module = self.modules[path] = checked(reference_build(spec, params, [tuple(t.shape[1:]) for t in ins]))
            module.train(train)
            out = module(*ins)
        except Exception as e:  # any refusal counts: torch's own or the builder's
            raise Refused(path, e) from e
        if not isinstance(out, torch.Tensor) or out.dim() == 0 or out.shape[0] != ins[0].shape[0]:
            raise Refused(path, ValueError(f"the batch axis is lost: {getattr(out, 'shape', out)}"))
        return out

    def call_composite(self, path, spec, params, ins, train):
        shapes = [tuple(t.shape[1:]) for t in ins]
        try:
            sub = spec.expand(params, shapes)
        except ShapeProblem:
            # The expansion's own rank check is analysis; the inside of a composite depends only
            # on its channel count, so expand it for a stand-in image and let torch judge.
            sub = spec.expand(params, [(s[0], 8, 8) for s in shapes])
        values = {f"$in{i}": t for i, t in enumerate(ins)}
        incoming: dict[str, list[str]] = {}
        for src, dst, _port in sub.edges:
            incoming.setdefault(dst, []).append(src)
        for local, key, p in sub.nodes:
            inner = blocks.get(key)
            values[local] = self.call(f"{path}/{local}", inner, inner.validate_params(p),
                                      [values[s] for s in incoming.get(local, [])], train)
        return values[sub.output]


def torch_verdict(d: Design):
    """(None, activations) when torch runs the design with the batched meaning in both modes;
    (reason, activations so far) otherwise."""
    ref = Reference(d)
    x = torch.randn(BATCH, *d.input_shape)
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ref.run(x, train=True)
            out, _ = ref.run(x, train=False)
            acts = dict(ref.values)
            # Each sample alone must give its row of the batch: a module that read the batch axis
            # as channels (an unbatched input) fails here or gives other values.
            for i in range(BATCH):
                alone, _ = ref.run(x[i:i + 1], train=False)
                if alone.shape[1:] != out.shape[1:] or not torch.allclose(alone[0], out[i], rtol=1e-3, atol=1e-3,
                                                                          equal_nan=True):
                    return f"sample {i} alone gives {tuple(alone.shape)}, in the batch {tuple(out.shape)}", acts
    except Refused as e:
        return str(e), ref.values
    return None, acts


# -- the check ------------------------------------------------------------------------------------

def node_flops(counter: FlopCounterMode, prefix: str, name: str) -> int:
    return sum(counter.get_flop_counts().get(f"{prefix}.{name}", {}).values())


def check_valid(d: Design, report):
    """The compiled module runs in both modes; shapes, counts and MACs per node equal the report."""
    taps = [n for n in report.order if d.nodes[n].block not in ("input", "output")]
    model = compile_design(d, report, taps=taps)
    x = torch.randn(BATCH, *d.input_shape)
    model.train()
    try:  # a training step: forward and backward
        out, _ = model(x)
        if out.requires_grad:  # not behind a step function only
            out.sum().backward()
    except Exception as e:
        pytest.fail(f"the analysis accepts this design but torch refuses it in train mode: "
                    f"{type(e).__name__}: {e}\n{describe(d)}")
    with torch.no_grad():
        model.eval()
        counter = FlopCounterMode(display=False)
        try:
            with counter:
                out, acts = model(x)
        except Exception as e:
            pytest.fail(f"the analysis accepts this design but torch refuses it in eval mode: "
                        f"{type(e).__name__}: {e}\n{describe(d)}")
    prefix, text = type(model).__name__, describe(d)
    out_id = d.output_nodes()[0].id
    assert tuple(out.shape) == (BATCH, *report.nodes[out_id].shape), text
    for node_id in taps:
        nrep = report.nodes[node_id]
        where = f"node {node_id} (inputs {nrep.input_shapes}) of\n{text}"
        assert tuple(acts[node_id].shape) == (BATCH, *nrep.shape), \
            f"shape: analysis {nrep.shape}, torch {tuple(acts[node_id].shape[1:])} at {where}"
        module = model.get_submodule(model.node_names[node_id])
        params = sum(p.numel() for p in module.parameters())
        assert nrep.params == params, f"parameters: analysis {nrep.params}, torch {params} at {where}"
        if d.spec(d.nodes[node_id].block).trainable:
            assert nrep.trainable_params == params, where
        buffers = sum(b.numel() for b in module.buffers())
        assert nrep.buffers == buffers, f"buffers: analysis {nrep.buffers}, torch {buffers} at {where}"
        # The counter sees convolutions and matrix products, the only blocks whose MACs the
        # analysis counts (pooling, norms and activations are reported as 0 MACs, and the counter
        # sees nothing there either), so the comparison holds for every node. MACs = FLOPs / 2,
        # per sample; composites are counted with everything inside them.
        flops = node_flops(counter, prefix, model.node_names[node_id])
        assert nrep.macs * 2 * BATCH == flops, f"MACs: analysis {nrep.macs}, torch {flops / 2 / BATCH:g} at {where}"


def _broadcast(shapes) -> bool:
    try:
        torch.broadcast_shapes(*[(BATCH, *s) for s in shapes])
    except RuntimeError:
        return False
    return len(set(shapes)) > 1


# What the analysis refuses on purpose although torch would run it: block → (does this case
# apply to the node's input shapes, why). Each has a hand-picked test below; anything else that
# torch runs and the analysis refuses fails the fuzzer.
STRICTER = {
    # torch broadcasts (C, 1, 1) + (C, H, W); the catalog's Add is the residual sum, whose
    # inputs have one shape: a broadcast would turn a shape mistake into a different network.
    "add": (_broadcast, "inputs of different shapes that torch would broadcast"),
}


def deliberately_stricter(d: Design, report) -> bool:
    def covered(error):
        node = d.nodes.get(error.node_id) if error.node_id else None
        rule = STRICTER.get(node.block) if node else None
        return rule is not None and rule[0](report.nodes[node.id].input_shapes)
    return all(covered(e) for e in report.errors)


def check_invalid(d: Design, report) -> bool:
    """Torch refuses what the analysis refuses; before the refusal, it agrees on every shape.
    Returns whether torch refused (False: a documented STRICTER case)."""
    reason, acts = torch_verdict(d)
    errors = "; ".join(str(e) for e in report.errors)
    assert reason is not None or deliberately_stricter(d, report), (f"the analysis refuses this design ({errors}) but torch runs it with the "
                                f"batched meaning in both modes\n{describe(d)}")
    for node_id, act in acts.items():
        shape = report.nodes[node_id].shape
        if shape is not None and d.nodes[node_id].block != "input":
            assert tuple(act.shape[1:]) == shape, f"{node_id}: analysis {shape}, torch {tuple(act.shape[1:])}\n" \
                                                  f"{describe(d)}"
    return reason is not None


ACCEPTED, REFUSED, STRICT = "accepted by both", "refused by both", "refused on purpose (STRICTER)"


def check_design(d: Design) -> str:
    """ACCEPTED, REFUSED or STRICT; fails the test where the analysis and torch disagree."""
    report = analyze(d)
    if report.valid:
        check_valid(d, report)
        return ACCEPTED
    return REFUSED if check_invalid(d, report) else STRICT


@FUZZ_SETTINGS
@given(designs())
@pytest.mark.filterwarnings("ignore:Using padding='same'")  # torch's note on speed, not on meaning
def test_analysis_agrees_with_torch_on_random_designs(d):
    event(check_design(d))


def test_every_parameter_kind_can_be_drawn():
    """A block with a parameter kind the fuzzer does not know would be skipped silently otherwise."""
    known = {"bool", "choice", "float", "int", "ints", "padding"}
    for spec in SPECS:
        for p in spec.params:
            assert p.kind in known, f"{spec.key}.{p.name} is a {p.kind!r} parameter: teach draw_value"


# -- what the fuzzer found, as hand-picked cases ---------------------------------------------------

def chain_design(shape, *layers) -> tuple[Design, list[str]]:
    d = Design("case")
    ids = d.chain(("input", {"shape": list(shape)}), *layers, "output")
    return d, ids[1:-1]


def only_error(d: Design, node_id: str):
    report = analyze(d)
    (error,) = report.errors
    assert error.node_id == node_id
    return error


@pytest.mark.parametrize("shape,before", [
    ((6, 1), []),
    ((3, 1, 2), [("conv2d", {"out_channels": 5, "kernel": 1, "stride": 3})]),  # 1×2 → 1×1
    ((4, 5, 5), [("adaptive_avgpool2d", {"output_size": 1})]),
    ((2, 1, 1, 1), []),
])
def test_instancenorm_needs_more_than_one_position(shape, before):
    # torch: "Expected more than 1 spatial element when training" (eval mode with running
    # statistics would run, but the design is meant to be trained).
    d, ids = chain_design(shape, *before, ("instancenorm", {"track_running_stats": True}))
    error = only_error(d, ids[-1])
    assert "single position per channel" in error.message and "PyTorch refuses it in training" in error.message
    assert "move it before the layer that shrinks the map" in error.fix
    assert check_design(d) == REFUSED  # torch refuses it too


@pytest.mark.parametrize("shape", [(6, 2), (3, 2, 1), (2, 1, 1, 2)])
def test_instancenorm_with_two_positions_runs(shape):
    d, _ = chain_design(shape, ("instancenorm", {"affine": True}))
    assert check_design(d) == ACCEPTED


@pytest.mark.parametrize("shape,params", [
    ((3, 5, 1, 6), {"kernel": 2, "padding": 1}),
    ((2, 1, 1, 1), {"kernel": 2, "stride": 2, "padding": 1, "ceil_mode": True}),
    ((2, 4, 4, 1), {"kernel": [1, 2, 2], "padding": [0, 1, 1], "count_include_pad": False}),
])
def test_avgpool3d_window_must_fit_the_unpadded_input(shape, params):
    # torch: "input image (T: 5 H: 1 W: 6) smaller than kernel size (kT: 2 kH: 2 kW: 2)": only
    # avg_pool3d checks the input before padding; the output-size rule alone accepted these.
    d, (pool,) = chain_design(shape, ("avgpool3d", params))
    error = only_error(d, pool)
    assert "is larger than the input" in error.message and "padding does not help" in error.message
    assert error.fix.startswith("use a window of at most ")
    assert check_design(d) == REFUSED


@pytest.mark.parametrize("key,shape", [("avgpool1d", (3, 1)), ("avgpool2d", (3, 1, 6)), ("maxpool3d", (3, 5, 1, 6)),
                                       ("maxpool2d", (3, 1, 1))])
def test_other_poolings_accept_a_window_larger_than_the_unpadded_input(key, shape):
    d, _ = chain_design(shape, (key, {"kernel": 2, "padding": 1}))
    assert check_design(d) == ACCEPTED


def test_avgpool3d_window_that_fits_runs():
    d, _ = chain_design((2, 2, 3, 4), ("avgpool3d", {"kernel": 2, "padding": 1}))
    assert check_design(d) == ACCEPTED


@pytest.mark.parametrize("key,shape", [("batchnorm1d", (4,)), ("batchnorm1d", (4, 3)), ("batchnorm2d", (3, 2, 2)),
                                       ("batchnorm3d", (4, 2, 1, 3))])
def test_batchnorm_eps_zero_is_refused(key, shape):
    # torch: "batch_norm eps must be positive during training, but got 0.0".
    d, (bn,) = chain_design(shape, (key, {"eps": 0.0}))
    error = only_error(d, bn)
    assert "eps = 0 divides by zero" in error.message
    assert "small positive number" in error.fix
    assert check_design(d) == REFUSED
    d, _ = chain_design(shape, (key, {"eps": 1e-12}))
    assert check_design(d) == ACCEPTED


def test_add_of_broadcastable_shapes_is_refused_on_purpose():
    """Torch would broadcast 1×2 + 1×1; the analysis refuses it (STRICTER documents why)."""
    d = Design("case")
    inp = d.add_node("input", {"shape": [1, 1]}).id
    (linear,) = d.chain(("linear", {"out_features": 2}), after=inp)
    add = d.add_node("add").id
    d.connect(linear, add)
    d.connect(inp, add)
    d.connect(add, d.add_node("output").id)
    error = only_error(d, add)
    assert "the spatial sizes differ" in error.message
    assert torch_verdict(d)[0] is None  # torch broadcasts
    assert check_design(d) == STRICT


@pytest.mark.parametrize("key,shape", [("maxpool3d", (1, 4, 2)), ("adaptive_maxpool1d", (5,)), ("avgpool1d", (2,)),
                                       ("adaptive_avgpool2d", (1, 10))])
def test_a_block_fed_a_lower_rank_is_not_run_unbatched(key, shape):
    """Torch's N-D modules take one sample without the batch axis: fed a batch of lower-rank
    samples they run, reading the batch axis as channels. The analysis refuses the rank, and the
    reference does not count such a run as torch accepting the design."""
    d, (node,) = chain_design(shape, (key, {}))
    assert "expects a" in only_error(d, node).message
    reason, _ = torch_verdict(d)
    assert reason is not None and "unbatched sample" in reason
