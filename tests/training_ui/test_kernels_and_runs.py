"""Classic kernels, hand-typed kernels and the run history (no Qt)."""
import numpy as np
import pytest
import torch

from engine import Design
from engine.kernels import CLASSIC_KERNELS, apply_kernel, classic_kernel, output_shape, parse_kernel
from engine.runs import RunHistory, Series


def test_identity_kernel_returns_the_image():
    img = np.random.default_rng(0).random((9, 7)).astype(np.float32)
    np.testing.assert_allclose(apply_kernel(img, classic_kernel("identity"), padding=1), img, atol=1e-6)


def test_laplacian_is_zero_on_a_flat_image_and_not_on_an_edge():
    flat = np.ones((8, 8), dtype=np.float32)
    assert np.allclose(apply_kernel(flat, classic_kernel("edge (Laplacian)")), 0)
    step = np.zeros((8, 8), dtype=np.float32)
    step[:, 4:] = 1
    assert np.abs(apply_kernel(step, classic_kernel("edge (Laplacian)"))).max() == pytest.approx(1.0)


@pytest.mark.parametrize("size,k,s,p", [(28, 3, 1, 0), (28, 3, 2, 1), (8, 5, 3, 2), (7, 2, 2, 0)])
def test_output_shape_matches_torch(size, k, s, p):
    img = np.random.default_rng(1).random((size, size + 1)).astype(np.float32)
    kernel = np.ones((k, k), dtype=np.float32)
    out = apply_kernel(img, kernel, stride=s, padding=p)
    ref = torch.nn.functional.conv2d(torch.tensor(img)[None, None], torch.tensor(kernel)[None, None], stride=s, padding=p)
    assert out.shape == tuple(ref.shape[2:]) == output_shape(size, size + 1, (k, k), s, p)
    np.testing.assert_allclose(out, ref[0, 0].numpy(), rtol=1e-5)


@pytest.mark.parametrize("seed", range(6))
def test_random_kernels_on_colour_images_match_torch_conv2d(seed):
    """The playground's numpy convolution is torch's: any kernel, channels summed, stride, padding."""
    rng = np.random.default_rng(seed)
    channels, kh, kw = int(rng.integers(1, 4)), int(rng.integers(1, 8)), int(rng.integers(1, 8))
    s, p = int(rng.integers(1, 4)), int(rng.integers(0, 4))
    img = rng.normal(size=(channels, int(rng.integers(kh, 40)), int(rng.integers(kw, 40)))).astype(np.float32)
    kernel = rng.normal(size=(kh, kw)).astype(np.float32)
    out = apply_kernel(img if channels > 1 else img[0], kernel, stride=s, padding=p)
    weight = torch.tensor(kernel).expand(1, channels, kh, kw)
    ref = torch.nn.functional.conv2d(torch.tensor(img)[None], weight, stride=s, padding=p)[0, 0].numpy()
    assert out.shape == ref.shape
    np.testing.assert_allclose(out, ref, rtol=1e-4, atol=1e-4)


def test_every_classic_kernel_is_three_by_three():
    assert all(classic_kernel(name).shape == (3, 3) for name in CLASSIC_KERNELS)
    assert classic_kernel("box blur").sum() == pytest.approx(1.0)


def test_parse_kernel_accepts_rows_and_fractions_and_rejects_ragged_rows():
    np.testing.assert_allclose(parse_kernel("0 -1 0; -1 5 -1\n0,-1,0"), classic_kernel("sharpen"))
    assert parse_kernel("1/4 1/4\n1/4 1/4").sum() == pytest.approx(1.0)
    with pytest.raises(ValueError, match="different lengths"):
        parse_kernel("1 2 3\n4 5")
    with pytest.raises(ValueError, match="not a number"):
        parse_kernel("1 x")


def test_a_kernel_bigger_than_the_image_says_to_add_padding():
    with pytest.raises(ValueError, match="add padding"):
        apply_kernel(np.zeros((2, 2)), np.ones((3, 3)))


def test_series_grows_past_its_first_buffer():
    s = Series()
    for i in range(1000):
        s.append(i, i * 2)
    assert len(s) == 1000 and s.y[-1] == 1998 and s.last() == (999, 1998)


def test_run_history_saves_and_reloads_runs(tmp_path):
    d = Design("net", num_classes=3)
    d.chain(("input", {"shape": [1, 8, 8]}), "flatten", ("linear", {"out_features": 3}), "output")
    history = RunHistory(tmp_path)
    run = history.new_run(d, {"lr": 0.1, "epochs": 2})
    run.add_point("train_loss", 0.5, 1.2)
    run.add_point("train_loss", 1.0, float("nan"))  # non-finite points are not curve points
    run.status = "finished"
    history.save(run)
    again = RunHistory(tmp_path)
    (loaded,) = again.load_all()
    assert loaded.run_id == run.run_id and loaded.config == {"lr": 0.1, "epochs": 2}
    assert loaded.curves["train_loss"].to_list() == [[0.5, 1.2]]
    assert set(loaded.design.nodes) == set(d.nodes)
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "run.json").write_text("{not json")
    assert len(RunHistory(tmp_path).load_all()) == 1
