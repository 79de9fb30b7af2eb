"""engine.explain against answers known in advance: a hand-set convolution that detects a
vertical bar, so each method must point at the bar; crops against autograd; PCA against an
eigen-decomposition; cancel and progress; the `explain` command's PNG files."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from engine import Design, analyze, compile_design
from engine.data import TensorSet
from engine.explain import (
    Cancelled,
    Explainer,
    ExplainError,
    crop_bounds,
    gradcam,
    maximise,
    nearest_neighbours,
    node_field,
    occlusion,
    pca_2d,
    projection,
    saliency,
    top_patches,
)

pytestmark = pytest.mark.usefixtures("one_torch_thread")

SIZE, BAR = 12, 7  # images are SIZE×SIZE; the bar stands in column BAR, rows 2..9
BAR_ROWS = slice(2, 10)


def bar_network(length: int | None = None):
    """input → conv (channel 0: [-1, 2, -1] across, i.e. a vertical-bar detector; channel 1: off)
    → relu → flatten → linear: class 1's score is the sum of channel 0's map, class 0's is 0.
    With ``length``: the 1-D version (a bump detector on a signal)."""
    d = Design("bar", num_classes=2)
    shape = [1, length] if length else [1, SIZE, SIZE]
    conv = "conv1d" if length else "conv2d"
    ids = d.chain(("input", {"shape": shape}), (conv, {"out_channels": 2, "kernel": 3, "padding": 1}), "relu",
                  "flatten", ("linear", {"out_features": 2}), "output")
    ids = dict(zip(["input", "conv", "relu", "flatten", "linear", "output"], ids))
    model = compile_design(d)
    names = model.node_names
    state = {k: torch.zeros_like(v) for k, v in model.state_dict().items()}
    w = state[f"{names[ids['conv']]}.weight"]
    if length:
        w[0, 0] = torch.tensor([-1.0, 2.0, -1.0])
    else:
        w[0, 0] = torch.tensor([[-1.0, 2.0, -1.0]] * 3)
    lin = state[f"{names[ids['linear']]}.weight"]
    positions = length or SIZE * SIZE
    lin[1, :positions] = 1.0  # class 1 = sum over channel 0's positions (flatten puts channel 0 first)
    return d, state, ids


def bar_image(column: int = BAR, value: float = 1.0) -> np.ndarray:
    x = np.zeros((1, SIZE, SIZE), np.float32)
    x[0, BAR_ROWS, column] = value
    return x


def noise_set(n: int = 30, bars=(2, 5, 9), seed: int = 0) -> TensorSet:
    """Faint noise images, and (at the end) bright bars in the given columns; labels 0 / 1."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 0.2, (n, 1, SIZE, SIZE)).astype(np.float32)
    y = np.zeros(n, np.int64)
    for i, column in enumerate(bars):
        x[n - len(bars) + i] = np.maximum(x[n - len(bars) + i], bar_image(column))
        y[n - len(bars) + i] = 1
    return TensorSet(torch.from_numpy(x), torch.from_numpy(y))


@pytest.fixture(scope="module")
def bar():
    d, state, ids = bar_network()
    return Explainer(d, state, classes=["blank", "bar"]), ids


def test_top_patches_are_the_bars_and_their_crops_hold_them(bar):
    ex, ids = bar
    data = noise_set(bars=(2, 5, 9))
    [best] = top_patches(ex, data, ids["conv"], channels=[0], k=3, batch=7)
    assert sorted(best.indices.tolist()) == [27, 28, 29]
    for index, bounds, crop in zip(best.indices, best.bounds, best.crops()):
        column = {27: 2, 28: 5, 29: 9}[int(index)]
        (y0, y1), (x0, x1) = bounds
        assert x0 <= column < x1 and y1 - y0 == 3 and x1 - x0 == 3  # a 3×3 conv's unit sees 3×3
        assert crop.max() == pytest.approx(1.0)  # the bar is inside the crop
    # Independent: the strongest unit of a bar image is on the bar, and its crop is (r-1..r+1, c-1..c+1).
    r, c = best.positions[0]
    assert c == {27: 2, 28: 5, 29: 9}[int(best.indices[0])]
    assert best.bounds[0] == ((max(0, r - 1), min(SIZE, r + 2)), (c - 1, c + 2))


def test_occlusion_of_the_bar_drops_the_score_most(bar):
    ex, _ = bar
    heat = occlusion(ex, bar_image(), class_index=1, size=2, stride=1)
    assert heat.map.shape == (SIZE, SIZE)
    _, column = np.unravel_index(np.argmax(heat.map), heat.map.shape)
    assert column in (BAR - 1, BAR, BAR + 1) and heat.map[BAR_ROWS, BAR].mean() > heat.map[:, :3].mean() + 1
    # Independent: hiding the whole bar takes class 1's score (the bar's 8·2·... sum) to 0.
    assert heat.score == pytest.approx(float(np.maximum(_conv0(bar_image()), 0).sum()))


def _conv0(img: np.ndarray) -> np.ndarray:
    """Channel 0 of the hand-set conv, by numpy (zero padding 1)."""
    p = np.pad(img[0], 1)
    k = np.array([[-1.0, 2.0, -1.0]] * 3)
    return np.array([[(p[i:i + 3, j:j + 3] * k).sum() for j in range(SIZE)] for i in range(SIZE)])


def test_gradcam_is_the_bar_detectors_map(bar):
    ex, ids = bar
    heat = gradcam(ex, bar_image(), ids["conv"], class_index=1)
    # Class 1's gradient on channel 0 (before the ReLU) is 1 where the unit is active, 0 elsewhere;
    # on channel 1 it is 0. So Grad-CAM = relu(mean(conv0 > 0) · conv0).
    a0 = _conv0(bar_image())
    np.testing.assert_allclose(heat.layer_map, np.maximum((a0 > 0).mean() * a0, 0), atol=1e-5)
    assert np.argmax(heat.map.max(0)) == BAR
    assert heat.predicted == 1 and heat.target == 1


def test_saliency_is_largest_on_the_bar(bar):
    ex, _ = bar
    heat = saliency(ex, bar_image(), class_index=1)
    assert np.argmax(heat.map.max(0)) == BAR
    # Independent: a finite difference at a bar pixel (the network is piecewise linear).
    x = torch.from_numpy(bar_image())[None]
    eps = 1e-2
    bumped = x.clone()
    bumped[0, 0, 5, BAR] += eps
    with torch.no_grad():
        diff = (ex.model(bumped)[0, 1] - ex.model(x)[0, 1]).item() / eps
    assert heat.map[5, BAR] == pytest.approx(abs(diff), rel=1e-3)


def test_maximise_excites_the_channel_far_above_noise(bar):
    ex, ids = bar
    result = maximise(ex, ids["conv"], channels=[0], steps=40)
    assert result.images.shape == (1, 1, SIZE, SIZE)
    assert result.activation[0] > 5 * max(abs(result.noise_activation[0]), 0.05)
    # The image grown for a bar detector is brighter in its middle column than beside it.
    centre = SIZE // 2
    img = result.images[0, 0]
    assert img[centre, centre] > img[centre, centre - 1] and img[centre, centre] > img[centre, centre + 1]
    cls = maximise(ex, None, class_index=1, steps=20)
    assert cls.activation[0] > cls.noise_activation[0]


def test_nearest_neighbours_start_with_the_sample_and_share_its_class(bar):
    ex, ids = bar
    data = noise_set(n=24, bars=(6, 7, 6, 6, 7, 6))  # bars near each other: their features overlap
    near = nearest_neighbours(ex, data, 20, node_id=ids["relu"], k=4)
    assert near.feature_indices[0] == 20 and near.pixel_indices[0] == 20
    assert near.feature_similarity[0] == pytest.approx(1.0)
    assert all(near.labels[int(i)] == 1 for i in near.feature_indices)
    # Independent cosine ranking by numpy.
    f = np.stack([np.maximum(_conv0(data[i][0].numpy()), 0).ravel() for i in range(len(data))])
    f = np.concatenate([f, np.zeros_like(f)], 1)  # channel 1 is off
    unit = f / np.linalg.norm(f, axis=1, keepdims=True)
    expected = np.argsort(-(unit @ unit[20]), kind="stable")[:4]
    assert set(near.feature_indices.tolist()) == set(expected.tolist())


def test_pca_matches_the_covariance_eigenvectors():
    rng = np.random.default_rng(3)
    values = rng.normal(size=(50, 6)) @ rng.normal(size=(6, 6))
    points, share = pca_2d(values)
    centred = values - values.mean(0)
    w, v = np.linalg.eigh(np.cov(centred, rowvar=False))
    top = v[:, ::-1][:, :2]
    expected = centred @ top
    for axis in range(2):  # each axis up to its sign
        sign = np.sign(expected[:, axis] @ points[:, axis])
        np.testing.assert_allclose(points[:, axis], sign * expected[:, axis], atol=1e-8)
    np.testing.assert_allclose(share, w[::-1][:2] / w.sum(), rtol=1e-8)


def test_projection_separates_bars_from_noise(bar):
    ex, ids = bar
    data = noise_set(n=24, bars=(6, 7, 6, 6, 7, 6))
    proj = projection(ex, data, ids["relu"])
    assert proj.points.shape == (24, 2)
    blanks, bars = proj.points[proj.labels == 0], proj.points[proj.labels == 1]
    centre = blanks.mean(0)
    assert np.linalg.norm(bars - centre, axis=1).min() > 2 * np.linalg.norm(blanks - centre, axis=1).max()


def test_cancel_stops_early_and_progress_reaches_one(bar):
    ex, ids = bar
    data = noise_set(n=40)
    seen = []
    top_patches(ex, data, ids["conv"], k=2, batch=8, progress=seen.append)
    assert seen[-1] == 1.0 and seen == sorted(seen) and len(seen) > 3
    calls = []

    def stop_after_two():
        calls.append(1)
        return len(calls) > 2

    for run in (lambda **kw: top_patches(ex, data, ids["conv"], batch=8, **kw),
                lambda **kw: occlusion(ex, bar_image(), size=1, stride=1, batch=16, **kw),
                lambda **kw: maximise(ex, ids["conv"], steps=50, **kw),
                lambda **kw: nearest_neighbours(ex, data, 0, node_id=ids["relu"], batch=8, **kw),
                lambda **kw: projection(ex, data, ids["relu"], batch=8, **kw)):
        calls.clear()
        with pytest.raises(Cancelled, match="stopped"):
            run(should_stop=stop_after_two)
        assert len(calls) == 3  # it stopped at the first check that said so
    progress = []
    maximise(ex, ids["conv"], steps=5, progress=progress.append)
    assert progress[-1] == 1.0


def test_one_dimensional_signals():
    d, state, ids = bar_network(length=20)
    ex = Explainer(d, state, classes=["flat", "bump"])
    x = np.zeros((1, 20), np.float32)
    x[0, 13] = 1.0
    heat = gradcam(ex, x, ids["conv"], class_index=1)
    assert heat.map.shape == (20,) and int(np.argmax(heat.map)) == 13
    assert int(np.argmax(saliency(ex, x, class_index=1).map)) == 13
    occ = occlusion(ex, x, class_index=1, size=1, stride=1)
    assert int(np.argmax(occ.map)) == 13
    signals = np.random.default_rng(0).uniform(0, 0.1, (10, 1, 20)).astype(np.float32)
    signals[4, 0, 6] = 1.0
    [best] = top_patches(ex, TensorSet(torch.from_numpy(signals), torch.zeros(10)), ids["conv"], [0], k=1)
    assert best.indices[0] == 4 and best.bounds[0] == ((5, 8),)
    assert maximise(ex, ids["conv"], [0], steps=10).images.shape == (1, 1, 20)


def test_gradcam_is_placed_at_the_units_receptive_field_centres():
    """Without padding a unit's field is off-centre of a stretched map: a 5-tap conv on 20 samples
    gives 16 units, unit j centred on sample j + 2. A bump at 15 must light up 15, not 16."""
    d = Design("bump", num_classes=2)
    ids = d.chain(("input", {"shape": [1, 20]}), ("conv1d", {"out_channels": 1, "kernel": 5, "padding": 0}), "relu",
                  "flatten", ("linear", {"out_features": 2}), "output")
    model = compile_design(d)
    state = {k: torch.zeros_like(v) for k, v in model.state_dict().items()}
    state[f"{model.node_names[ids[1]]}.weight"][0, 0] = torch.tensor([-1.0, -1.0, 4.0, -1.0, -1.0])
    state[f"{model.node_names[ids[4]]}.weight"][1] = 1.0
    ex = Explainer(d, state)
    x = np.zeros((1, 20), np.float32)
    x[0, 15] = 1.0
    heat = gradcam(ex, x, ids[1], class_index=1)
    assert int(np.argmax(heat.layer_map)) == 13 and int(np.argmax(heat.map)) == 15
    assert heat.map[15] == pytest.approx(heat.layer_map.max())


def test_wrong_node_channel_and_class_say_what_to_do(bar):
    ex, ids = bar
    with pytest.raises(ExplainError, match="no node"):
        gradcam(ex, bar_image(), "nope")
    with pytest.raises(ExplainError, match="no feature maps"):
        gradcam(ex, bar_image(), ids["linear"])
    with pytest.raises(ExplainError, match="channel 5 does not exist"):
        top_patches(ex, noise_set(), ids["conv"], channels=[5])
    with pytest.raises(ExplainError, match="class 7 does not exist"):
        saliency(ex, bar_image(), class_index=7)


# -- receptive-field crops against autograd ---------------------------------------------------

def _random_stack(rng) -> tuple[Design, list[str]]:
    d = Design("rf", num_classes=2)
    size = int(rng.integers(12, 24))
    steps = [("input", {"shape": [1, size, size]})]
    for _ in range(int(rng.integers(1, 4))):
        kind = rng.choice(["conv", "conv", "same", "maxpool", "avgpool"])
        k = int(rng.integers(1, 5))
        if kind == "conv":
            steps.append(("conv2d", {"out_channels": 2, "kernel": k, "stride": int(rng.integers(1, 3)),
                                      "padding": int(rng.integers(0, k // 2 + 1)),
                                      "dilation": int(rng.integers(1, 3))}))
        elif kind == "same":  # PyTorch pads an even kernel's smaller half first
            steps.append(("conv2d", {"out_channels": 2, "kernel": k, "padding": "same",
                                      "dilation": int(rng.integers(1, 3))}))
        else:
            steps.append((f"{kind}2d", {"kernel": max(2, k), "stride": int(rng.integers(1, 3)),
                                        "padding": int(rng.integers(0, max(2, k) // 2 + 1))}))
    steps += ["flatten", ("linear", {"out_features": 2}), "output"]
    ids = d.chain(*steps)
    return d, ids


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")
def test_crops_contain_every_pixel_a_unit_depends_on():
    """For random conv/pool stacks: the input pixels with a nonzero gradient for one output unit
    (random weights, random input) all lie inside its crop, and the crop is as wide as the
    analysis' receptive field wherever it is not clipped by the border."""
    rng = np.random.default_rng(18)
    checked = 0
    for trial in range(40):
        d, ids = _random_stack(rng)
        if not analyze(d).valid:
            continue
        last = ids[-4]
        ex = Explainer(d)
        torch.manual_seed(trial)
        model = ex.tapped((last,))
        for p in model.parameters():
            p.data.normal_()
        field = node_field(ex, last)
        shape = ex.report.nodes[last].shape
        x = torch.randn(1, *ex.input_shape, requires_grad=True)
        _, taps = model(x)
        pos = tuple(int(rng.integers(0, n)) for n in shape[1:])
        (grad,) = torch.autograd.grad(taps[last][(0, slice(None), *pos)].sum(), x)
        rows, cols = np.nonzero(grad[0].abs().sum(0).numpy())
        (y0, y1), (x0, x1) = crop_bounds(field, pos, ex.input_shape[1:])
        assert rows.size == 0 or (y0 <= rows.min() and rows.max() < y1 and x0 <= cols.min() and cols.max() < x1), \
            (d.nodes, pos, (y0, y1, x0, x1))
        size = ex.report.nodes[last].receptive_field[0][0]
        (start, _, jump) = field[0]
        lo, hi = start + pos[0] * jump, start + pos[0] * jump + size
        if lo >= 0 and hi <= ex.input_shape[1]:
            assert y1 - y0 == size
        checked += 1
    assert checked >= 25


@pytest.mark.parametrize("template", ["resnet18", "googlenet"])
def test_crops_of_residual_and_inception_blocks_hold_their_dependencies(template):
    """Merges (a residual Add, an inception Concat with a pooling branch) inside composite blocks:
    the walk through their sub-graphs still bounds every pixel a unit depends on."""
    from engine import templates
    d = templates.build(template, input_shape=(3, 32, 32), num_classes=3)
    ex = Explainer(d)
    blocks = [n for n in ex.feature_nodes() if d.nodes[n].block in ("residual_basic", "inception_v1")][:2]
    assert blocks
    rng = np.random.default_rng(1)
    model = ex.tapped(tuple(blocks))
    for node in blocks:
        field = node_field(ex, node)
        x = torch.randn(1, 3, 32, 32, requires_grad=True)
        _, taps = model(x)
        pos = tuple(int(rng.integers(0, n)) for n in taps[node].shape[2:])
        (grad,) = torch.autograd.grad(taps[node][(0, slice(None), *pos)].sum(), x)
        rows, cols = np.nonzero(grad[0].abs().sum(0).numpy())
        (y0, y1), (x0, x1) = crop_bounds(field, pos, (32, 32))
        assert y0 <= rows.min() and rows.max() < y1 and x0 <= cols.min() and cols.max() < x1


# -- the command ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """A tiny design for the digits (1×8×8) with hand-set weights saved as a bare weights file
    and as a run folder (data.json naming the dataset)."""
    from safetensors.torch import save_file

    from engine.persistence import save
    folder = tmp_path_factory.mktemp("explain")
    d = Design("tiny", num_classes=10)
    d.chain(("input", {"shape": [1, 8, 8]}), ("conv2d", {"out_channels": 3, "kernel": 3, "padding": 1}), "relu",
            ("maxpool2d", {"kernel": 2}), ("conv2d", {"out_channels": 4, "kernel": 3, "padding": 1}), "relu",
            "flatten", ("linear", {"out_features": 16}), "relu", ("linear", {"out_features": 10}), "output")
    save(d, folder / "tiny.json")
    torch.manual_seed(0)
    state = {k: v.contiguous() for k, v in compile_design(d).state_dict().items()}
    save_file(state, folder / "weights.safetensors")
    run = folder / "run"
    run.mkdir()
    save_file(state, run / "weights.safetensors")
    (run / "data.json").write_text(json.dumps({"name": "digits", "source": {"name": "digits", "seed": 0,
                                                                            "val_fraction": 0.2}}))
    return folder, d


@pytest.mark.parametrize("method, extra, files", [
    ("top-patches", [], 1), ("top-patches", ["--channel", "1"], 2), ("occlusion", [], 1), ("gradcam", [], 1),
    ("saliency", ["--class", "3"], 1), ("maximise", ["--steps", "8"], 1), ("neighbours", ["--k", "4"], 2)])
def test_explain_command_writes_pictures(tiny_run, tmp_path, capsys, method, extra, files):
    from PIL import Image

    from engine.cli import main
    folder, _ = tiny_run
    code = main(["explain", str(folder / "tiny.json"), "--weights", str(folder / "run"), "--method", method,
                 "--out", str(tmp_path), *extra])
    out = capsys.readouterr()
    assert code == 0, out.err
    written = sorted(tmp_path.glob("*.png"))
    assert len(written) == files and [str(p) for p in sorted(written)] == sorted(out.out.split())
    for path in written:
        with Image.open(path) as img:
            img.load()
            assert img.format == "PNG" and 300 <= img.width <= 4000 and 150 <= img.height <= 4000


def test_explain_command_refuses_bad_input_in_one_line(tiny_run, tmp_path, capsys):
    from engine.cli import main
    folder, _ = tiny_run
    base = ["explain", str(folder / "tiny.json"), "--out", str(tmp_path)]
    assert main([*base, "--weights", str(folder / "weights.safetensors"), "--method", "saliency"]) == 2
    assert "--dataset" in capsys.readouterr().err
    assert main([*base, "--weights", str(folder / "weights.safetensors"), "--dataset", "digits",
                 "--method", "gradcam", "--node", "nope"]) == 2
    assert "no node 'nope'" in capsys.readouterr().err
    assert main([*base, "--weights", str(folder / "run"), "--method", "occlusion", "--sample", "99999"]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main([*base, "--weights", str(folder / "missing"), "--method", "occlusion"]) == 2
    assert "no run folder or weights file" in capsys.readouterr().err
    other, _, _ = bar_network()
    from engine.persistence import save
    save(other, folder / "other.json")
    assert main(["explain", str(folder / "other.json"), "--out", str(tmp_path), "--weights", str(folder / "run"),
                 "--method", "saliency"]) == 2
    assert "do not fit this design" in capsys.readouterr().err
    assert list(tmp_path.glob("*.png")) == []


def test_a_run_folder_is_explained_with_its_best_checkpoint(tiny_run, tmp_path):
    """load_explainer picks checkpoints/best.pt over the final weights, and the run's own
    normalisation and classes from data.json (the trainer's layout, see engine.training.rundir)."""
    from engine.explain import load_explainer
    from engine.persistence import save
    from engine.training.rundir import CHECKPOINT_FORMAT, save_checkpoint
    _, d = tiny_run
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    torch.manual_seed(1)
    best = {k: v.contiguous() for k, v in compile_design(d).state_dict().items()}
    save_checkpoint(run / "checkpoints" / "best.pt", {"format": CHECKPOINT_FORMAT, "model": best, "epoch": 1})
    torch.manual_seed(2)
    from safetensors.torch import save_file
    save_file({k: v.contiguous() for k, v in compile_design(d).state_dict().items()}, run / "weights.safetensors")
    save(d, run / "design.json")
    classes = [f"digit {i}" for i in range(10)]
    (run / "data.json").write_text(json.dumps({"name": "digits", "mean": [0.25], "std": [0.5], "classes": classes,
                                               "source": {"name": "digits", "seed": 3, "val_fraction": 0.1}}))
    ex, bundle = load_explainer(None, run)  # the design from the run folder
    for key, value in ex.model.state_dict().items():
        torch.testing.assert_close(value, best[key])
    assert ex.mean == [0.25] and ex.std == [0.5] and ex.classes == classes
    assert len(bundle.val) == 180  # 10 % of the 1,797 digits
    heat = saliency(ex, bundle.val[0][0].numpy())
    assert heat.map.shape == (8, 8) and "digit" in heat.caption


def test_features_without_positions_a_tables_row():
    """A design on a table's rows (input shape (F,)): saliency is one value per feature, the
    gradient autograd gives; occlusion says it needs positions; maximisation of a class runs
    (nothing to shift or blur, whatever jitter is asked)."""
    d = Design("mlp", num_classes=3)
    d.chain(("input", {"shape": [5]}), ("linear", {"out_features": 8}), "relu", ("linear", {"out_features": 3}),
            "output")
    torch.manual_seed(0)
    model = compile_design(d)
    ex = Explainer(d, model.state_dict(), [], [], ["a", "b", "c"])
    x = torch.tensor([0.5, -1.0, 2.0, 0.0, 1.5])
    heat = saliency(ex, x, class_index=2)
    xx = x[None].clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(model.eval()(xx)[0, 2], xx)
    np.testing.assert_allclose(heat.map, grad.abs()[0].numpy(), rtol=1e-5, atol=1e-7)
    assert heat.map.shape == (5,) and "features" in heat.caption
    with pytest.raises(ExplainError, match="no positions"):
        occlusion(ex, x)
    grown = maximise(ex, None, class_index=1, steps=5, jitter=2, blur_every=2)
    assert grown.images.shape == (1, 5) and "jitter 0 px" in grown.caption and "no blur" in grown.caption
    # The command's figures draw the features as a one-channel signal (was an AxisError).
    from engine.explain import figures
    picture = figures.heatmap_figure(heat, ex.classes)
    assert picture.size[0] > 100 and picture.size[1] > 100
    assert figures.maximised_figure(grown, ex.classes).size[1] > 50


def test_volumes_are_drawn_one_depth_slice_each(bar):
    """C×D×H×W inputs: maps are cut where they are strongest, top patches through their crop's
    centre, the rest in the middle; the figures of the `explain` command draw those slices."""
    from engine.explain import figures
    from engine.explain.slices import depth_slice
    d = Design("vol", num_classes=2)
    ids = d.chain(("input", {"shape": [1, 6, 8, 8]}), ("conv3d", {"out_channels": 2, "kernel": 3, "padding": 1}),
                  "relu", "flatten", ("linear", {"out_features": 2}), "output")
    torch.manual_seed(0)
    ex = Explainer(d, compile_design(d).state_dict(), [], [], ["a", "b"])
    volume = np.zeros((1, 6, 8, 8), np.float32)
    volume[0, 4, 2:6, 2:6] = 1.0
    heat = saliency(ex, volume)
    flat, note = depth_slice(heat)
    strongest = int(np.argmax(np.abs(heat.map).sum(axis=(1, 2))))
    assert flat.map.shape == (8, 8) and np.array_equal(flat.map, heat.map[strongest])
    assert np.array_equal(flat.sample, volume[:, strongest]) and note == f"depth slice {strongest + 1} of 6, " \
        "where the map is strongest"
    volumes = TensorSet(torch.from_numpy(np.stack([volume, volume * 0.5])), torch.tensor([0, 1]))
    [best] = top_patches(ex, volumes, ids[1], channels=[0], k=2)
    flat, _ = depth_slice(best)
    (z0, z1), *rest = best.bounds[0]
    assert flat.samples.shape == (2, 1, 8, 8) and flat.bounds[0] == tuple(rest)
    assert np.array_equal(flat.samples[0], best.samples[0][:, (z0 + z1 - 1) // 2])
    image = saliency(bar[0], bar_image())
    assert depth_slice(image) == (image, "")  # an image stays as it is
    for picture in (figures.heatmap_figure(heat, ex.classes), figures.patches_figure([best], ex.classes),
                    figures.maximised_figure(maximise(ex, ids[1], steps=2), ex.classes)):
        assert picture.size[0] > 100
