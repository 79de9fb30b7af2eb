"""The kernel playground teaches (issue 15 item 6): typed inputs, the course notes' exercises as
presets, pooling, numbers in the cells, the formula with the numbers, and a colour bar."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from engine.kernels import PRESETS, format_number


def _playground(qtbot):
    from designer.training.kernel_playground import KernelPlayground
    view = KernelPlayground()
    qtbot.addWidget(view)
    view.resize(760, 640)
    view.show()
    view.input_view.ensure_built()
    view.output_view.ensure_built()
    return view


def _torch(preset):
    x = torch.tensor(preset.input, dtype=torch.float32)[None, None]
    if preset.operation == "conv":
        return F.conv2d(x, torch.tensor(preset.kernel, dtype=torch.float32)[None, None],
                        stride=preset.stride, padding=preset.padding)[0, 0].numpy()
    if preset.operation == "max":
        return F.max_pool2d(x, preset.window, preset.stride, preset.padding)[0, 0].numpy()
    if preset.operation == "average":
        return F.avg_pool2d(x, preset.window, preset.stride, preset.padding)[0, 0].numpy()
    return F.lp_pool2d(x, 2, preset.window, preset.stride)[0, 0].numpy()


@pytest.mark.parametrize("name", list(PRESETS))
def test_each_exercise_shows_torchs_numbers_and_the_formula(qtbot, name):
    view = _playground(qtbot)
    view.choose_preset(name)
    preset, ref = PRESETS[name], _torch(PRESETS[name])
    np.testing.assert_allclose(view.last_output, ref, rtol=1e-6, atol=1e-6)
    assert view.output_view.number_texts() == [format_number(v) for v in ref.ravel()]
    assert view.input_view.number_texts() == [format_number(v) for v in np.ravel(preset.input)]
    h, w = np.shape(preset.input)
    k = np.shape(preset.kernel) if preset.operation == "conv" else (preset.window, preset.window)
    assert (f"height ⌊({h} + 2·{preset.padding} − {k[0]}) / {preset.stride}⌋ + 1 = {ref.shape[0]}"
            in view.shape_label.text())
    assert view.shape_label.text().endswith(f"output {ref.shape[0]}×{ref.shape[1]}")
    assert view.note_label.text() == preset.note and not view.error_label.text()
    (lo, hi), label = view.output_view.scale
    assert label == "output value" and hi == -lo == pytest.approx(np.abs(ref).max())
    assert view.output_view.colorbar.isVisible()


def test_a_typed_input_and_kernel_with_stride_and_padding(qtbot):
    view = _playground(qtbot)
    view.input_text.setPlainText("0 1 2; 3 4 5; 6 7 8")
    view.kernel_text.setPlainText("1 0; 0 -1")
    view.stride.setValue(2)
    view.padding.setValue(1)
    ref = F.conv2d(torch.arange(9.0).reshape(1, 1, 3, 3), torch.tensor([[[[1.0, 0], [0, -1]]]]),
                   stride=2, padding=1)[0, 0].numpy()
    np.testing.assert_allclose(view.last_output, ref)
    assert view.output_view.number_texts() == [format_number(v) for v in ref.ravel()]
    assert "⌊(3 + 2·1 − 2) / 2⌋ + 1 = 2" in view.shape_label.text()
    view.operation.setCurrentText("average pool")
    assert not view.kernel_text.isVisible() and view.window.isVisible()
    ref = F.avg_pool2d(torch.arange(9.0).reshape(1, 1, 3, 3), 2, 2, 1)[0, 0].numpy()
    np.testing.assert_allclose(view.last_output, ref)


def test_bad_input_says_why_and_keeps_the_last_output(qtbot):
    view = _playground(qtbot)
    view.choose_preset("2×2 max pool of a 4×4 matrix")
    kept = view.last_output.copy()
    view.input_text.setPlainText("1 2 3\n4 x 6")
    assert "not a number" in view.error_label.text() and view.error_label.isVisible()
    np.testing.assert_array_equal(view.last_output, kept)
    view.input_text.setPlainText("\n".join(["1 " * 17] * 2))
    assert "at most 16×16" in view.error_label.text()
    assert view.input_text.toPlainText().startswith("1 1")  # nothing typed is lost


def test_a_sample_image_has_no_numbers_but_a_colour_bar(qtbot):
    view = _playground(qtbot)
    view.set_image(np.random.default_rng(0).random((28, 28)))
    assert view.last_output.shape == (26, 26) and view.output_view.number_texts() == []
    (lo, hi), _label = view.input_view.scale
    assert 0 <= lo < hi <= 1


def test_clicking_a_cell_paints_the_typed_matrix(qtbot):
    from PySide6.QtCore import QPointF, Qt
    view = _playground(qtbot)
    view.choose_preset("5×5 binary image, 3×3 kernel, stride 1")
    qtbot.wait(50)
    pane = view.input_view
    centre = pane.graphics.mapFromScene(pane.view.mapViewToScene(QPointF(3.5, 0.5)))  # row 0, column 3
    qtbot.mouseClick(pane.graphics.viewport(), Qt.MouseButton.LeftButton, pos=centre)
    assert view.input_text.toPlainText().splitlines()[0] == "1 1 1 1 0"
    ref = F.conv2d(torch.tensor(view.input_matrix())[None, None],
                   torch.tensor(PRESETS["5×5 binary image, 3×3 kernel, stride 1"].kernel, dtype=torch.float32)[None, None])
    np.testing.assert_allclose(view.last_output, ref[0, 0].numpy())
    view.paint_cell(0, 3)
    assert view.input_text.toPlainText().splitlines()[0] == "1 1 1 0 0"


def test_numbers_fit_their_cells_and_hide_when_too_small_to_read(qtbot):
    view = _playground(qtbot)
    view.input_text.setPlainText("\n".join(" ".join(str((r + c) % 7 - 3) for c in range(16)) for r in range(16)))
    view.kernel_choice.setCurrentText("edge (Laplacian)")
    items = view.output_view._number_items
    assert len(items) == 14 * 14
    view.resize(1400, 1200)
    qtbot.waitUntil(lambda: all(i.isVisible() for i in items), timeout=3000)
    cell = view.output_view.view.width() / 14
    assert items[0].textItem.font().pixelSize() * 0.62 * 3 <= cell  # '-14' fits its cell
    view.resize(420, 420)
    qtbot.waitUntil(lambda: not any(i.isVisible() for i in items), timeout=3000)
