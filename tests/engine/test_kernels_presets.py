"""The playground's presets, pooling and output-size formula (issue 15 item 6), held to torch."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from engine.kernels import (
    MAX_INPUT,
    PRESETS,
    format_matrix,
    parse_input,
    pool,
    size_formula,
)


def _torch(preset) -> np.ndarray:
    x = torch.tensor(preset.input, dtype=torch.float32)[None, None]
    if preset.operation == "conv":
        w = torch.tensor(preset.kernel, dtype=torch.float32)[None, None]
        out = F.conv2d(x, w, stride=preset.stride, padding=preset.padding)
    elif preset.operation == "max":
        out = F.max_pool2d(x, preset.window, preset.stride, preset.padding)
    elif preset.operation == "average":
        out = F.avg_pool2d(x, preset.window, preset.stride, preset.padding)
    else:
        assert preset.padding == 0
        out = F.lp_pool2d(x, 2, preset.window, preset.stride)
    return out[0, 0].numpy()


@pytest.mark.parametrize("name", list(PRESETS))
def test_every_preset_equals_torch(name):
    preset = PRESETS[name]
    out, ref = preset.run(), _torch(preset)
    assert out.shape == ref.shape
    np.testing.assert_allclose(out, ref, rtol=1e-6, atol=1e-6)


def test_the_course_notes_answers():
    """The worked answers printed in the notes (catalog §3) and in the presets' own notes."""
    assert PRESETS["5×5 binary image, 3×3 kernel, stride 1"].run().tolist() == [[4, 3, 4], [2, 4, 3], [2, 3, 4]]
    assert PRESETS["5×5 binary image, 3×3 kernel, stride 2"].run().tolist() == [[4, 4], [2, 4]]
    assert PRESETS["2×2 max pool of a 4×4 matrix"].run().tolist() == [[6, 8], [3, 4]]
    assert PRESETS["2×2 average pool of a 4×4 matrix"].run().tolist() == [[3.25, 5.25], [2, 2]]
    assert PRESETS["2×2 max pool, second 4×4 example"].run().tolist() == [[6, 8], [4, 8]]
    l2 = PRESETS["2×2 L2 pool of a 4×4 matrix"]
    assert l2.run()[0, 0] == pytest.approx(np.sqrt(1 + 1 + 25 + 36)) and "7.937" in l2.note
    laplace = PRESETS["Laplacian on a 6×6 image"].run()
    assert laplace.shape == (4, 4) and laplace[1:3, 1:3].tolist() == [[0, 0], [0, 0]] and laplace[0].max() < 0 and laplace[0, 0] == laplace.min()


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("kind", ["max", "average", "L2"])
def test_random_pooling_equals_torch(seed, kind):
    rng = np.random.default_rng(seed)
    size, stride = int(rng.integers(1, 4)), int(rng.integers(1, 4))
    padding = 0 if kind == "L2" else int(rng.integers(0, size // 2 + 1))
    x = rng.normal(size=(int(rng.integers(size, 16)), int(rng.integers(size, 16)))).astype(np.float32)
    t = torch.tensor(x)[None, None]
    ref = {"max": lambda: F.max_pool2d(t, size, stride, padding),
           "average": lambda: F.avg_pool2d(t, size, stride, padding),
           "L2": lambda: F.lp_pool2d(t, 2, size, stride)}[kind]()[0, 0].numpy()
    out = pool(x, kind, size, stride, padding)
    assert out.shape == ref.shape
    np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-5)


def test_bad_pooling_says_what_to_change():
    with pytest.raises(ValueError, match="more than half"):
        pool(np.ones((4, 4)), "max", 2, 2, 2)
    with pytest.raises(ValueError, match="no padding"):
        pool(np.ones((4, 4)), "L2", 2, 2, 1)
    with pytest.raises(ValueError, match="window smaller"):
        pool(np.ones((2, 2)), "max", 3)


def test_size_formula_plugs_in_the_numbers():
    text = size_formula(5, 5, (3, 3), 2, 0)
    assert "⌊(5 + 2·0 − 3) / 2⌋ + 1 = 2" in text and text.endswith("output 2×2")
    text = size_formula(227, 227, (11, 11), 4, 0)
    assert "⌊(227 + 2·0 − 11) / 4⌋ + 1 = 55" in text
    text = size_formula(6, 7, (3, 2), 1, 1)
    assert "height ⌊(6 + 2·1 − 3) / 1⌋ + 1 = 6" in text and "width ⌊(7 + 2·1 − 2) / 1⌋ + 1 = 8" in text


def test_a_typed_input_reads_back_and_is_limited_to_16_by_16():
    x = parse_input("1 1 2 4; 5 6 7 8\n3 2 1 0; 1 2 3 4")
    assert x.tolist() == [list(r) for r in PRESETS["2×2 max pool of a 4×4 matrix"].input]
    np.testing.assert_array_equal(parse_input(format_matrix(x)), x)
    assert format_matrix([[0.25, -1.0]]) == "0.25 -1"
    parse_input("\n".join(["0 " * MAX_INPUT] * MAX_INPUT))
    with pytest.raises(ValueError, match="at most 16×16"):
        parse_input("\n".join(["0 " * 17] * 3))


def test_the_dilation_preset_is_torchs_dilated_3x3():
    preset = PRESETS["3×3 kernel with dilation 2 (a 5×5 kernel with holes)"]
    kernel3 = torch.tensor(preset.kernel, dtype=torch.float32)[::2, ::2]
    assert kernel3.shape == (3, 3) and int((torch.tensor(preset.kernel) != 0).sum()) == int((kernel3 != 0).sum())
    ref = F.conv2d(torch.tensor(preset.input, dtype=torch.float32)[None, None], kernel3[None, None], dilation=2)
    np.testing.assert_allclose(preset.run(), ref[0, 0].numpy())
