"""Image views with their scale (issue 15 item 4) and a shift view that teaches (item 6): colour
bars on filters, maps and the confusion matrix, class names on both axes with a count / share
toggle, and the shift probe's rows named with the analysis' jump, expected and measured move."""
import numpy as np
import pytest
import torch

CLASSES = ["airplane", "automobile", "bird"]


def _view(qtbot):
    from designer.training.feature_maps import FeatureMapView
    view = FeatureMapView()
    qtbot.addWidget(view)
    view.resize(900, 600)
    view.show()
    view.set_samples(np.zeros((2, 1, 8, 8), dtype=np.float32), np.array([0, 1]), CLASSES)
    return view


def test_confusion_has_class_names_a_colour_bar_and_a_count_share_toggle(qtbot):
    view = _view(qtbot)
    view.tabs.setCurrentWidget(view.confusion_page)
    m = np.array([[8, 2, 0], [1, 5, 4], [0, 0, 0]])
    view.prepare_confusion(3)
    view.set_confusion(m)
    assert view.confusion.tick_labels("left") == CLASSES
    assert view.confusion._axes["left"].labelText == "true class"
    assert view.confusion._axes["bottom"].labelText == "predicted class"
    assert [n.rstrip("…") for n in view.confusion.tick_labels("bottom")] == ["airplane", "automobile", "bird"]
    assert view.confusion_texts() == ["8", "2", "0", "1", "5", "4", "0", "0", "0"]
    assert view.confusion.scale == ((0.0, 8.0), "validation samples")
    assert "validation set (20 samples)" in view.confusion.title.text and "65.0%" in view.confusion.title.text
    view.confusion_normalised.setChecked(True)
    assert view.confusion_texts() == ["80%", "20%", "0%", "10%", "50%", "40%", "0%", "0%", "0%"]
    assert view.confusion.scale == ((0.0, 1.0), "share of the true class")
    assert view.confusion.colorbar.isVisible()


def test_filters_colour_bar_is_the_weights_scale(qtbot):
    view = _view(qtbot)
    view.tabs.setCurrentWidget(view.filters)
    w = np.random.default_rng(0).normal(size=(4, 3, 5, 5)).astype(np.float32)
    view.set_filters("conv1", w)
    m = float(np.abs(w.mean(axis=1)).max())
    (lo, hi), label = view.filters.scale
    assert (lo, hi) == pytest.approx((-m, m)) and label.startswith("weight")
    assert "<" not in view.filters.title.text  # the title is rich text: '<' would start a tag


def test_shift_view_names_each_row_and_uses_the_analysis_jump(qtbot):
    from engine import templates
    from engine.training.inspect import equivariance_probe

    view = _view(qtbot)
    view.tabs.setCurrentWidget(view.shift_page)
    view.shift_dx.setValue(4)
    torch.manual_seed(0)
    x = torch.zeros(1, 1, 32, 32)
    x[0, 0, 8:20, 6:18] = 1.0
    rows = equivariance_probe(templates.build("lenet5"), None, x, 0, 4)
    view.set_equivariance(rows, (32, 32))
    assert view.shift_view.tick_labels("left") == [r.name for r in rows]
    assert view.shift_view.tick_labels("bottom") == ["input", "shifted input"]
    text = view.shift_label.text()
    assert "conv2 (jump 2×2, map 10×10): expected 2 right, measured 2 right ✓" in text
    assert "pool2 (jump 4×4, map 5×5): expected 1 right, measured 1 right ✓" in text
    assert "conv3 (jump 4×4, map 1×1): too small to show a move" in text
    assert "mismatch" in text and "1/2.8" not in text


def test_top5_bars_carry_their_percentages(qtbot):
    view = _view(qtbot)
    view.tabs.setCurrentWidget(view.predictions_page)
    view.prediction_plot.ensure_built()
    view.set_predictions(np.zeros((1, 8, 8), dtype=np.float32), [("bird", 0.625), ("airplane", 0.375)], "bird")
    assert view.prediction_plot.value_texts() == ["62.5%", "37.5%"]


def test_a_hundred_classes_name_every_fifth_row(qtbot):
    view = _view(qtbot)
    view.classes = [f"class{i}" for i in range(100)]
    view.tabs.setCurrentWidget(view.confusion_page)
    view.set_confusion(np.eye(100, dtype=np.int64))
    assert view.confusion.tick_labels("left") == [f"class{i}" for i in range(0, 100, 5)]
    assert view.confusion_texts() == []  # no counts in cells this small


def test_image_panes_follow_the_theme(qtbot):
    from PySide6.QtGui import QColor
    from PySide6.QtWidgets import QApplication

    from designer import theme as themes
    from designer.training.images import ImagePane
    pane = ImagePane("t")
    qtbot.addWidget(pane)
    pane.ensure_built()
    pane.set_array(np.zeros((3, 3)), scale=(0, 2))
    try:
        for theme in (themes.DARK, themes.LIGHT):
            themes.apply(QApplication.instance(), theme)
            assert pane.graphics.backgroundBrush().color().name() == QColor(theme.node_fill).name()
            assert pane.colorbar.axis.textPen().color().name() == QColor(theme.text).name()
    finally:
        themes.apply(QApplication.instance(), themes.LIGHT)
