"""Screenshots of the main window (LeNet-5, ResNet-50) and of an error badge, in both themes,
saved for a human to look at (set DESIGNER_SCREENSHOTS=folder to keep them)."""
import pytest
from PySide6.QtWidgets import QApplication

from designer import theme as themes
from engine import Design

from .helpers import settle


@pytest.mark.parametrize("mode", ["light", "dark"])
@pytest.mark.parametrize("template", ["lenet5", "resnet50"])
def test_main_window_screenshot(qtbot, window, shots_dir, template, mode):
    window.set_theme_mode(mode)
    info = __import__("engine.templates", fromlist=["info"]).info(template)
    window.files.new_from_template((template, info.default_input, info.default_classes))
    first_conv = next(n for n in window.document.design.nodes.values() if n.block == "conv2d")
    window.document.set_selection([first_conv.id])
    window.docks["Layer summary"].raise_()
    settle(qtbot)
    window.summary.refresh()
    window.view.fit(readable=True)
    QApplication.processEvents()
    path = shots_dir / f"main_{template}_{mode}.png"
    assert window.grab().save(str(path))
    assert path.stat().st_size > 10_000
    window.set_theme_mode("light")


@pytest.mark.parametrize("mode", ["light", "dark"])
def test_error_badge_screenshot(qtbot, window, shots_dir, mode):
    window.set_theme_mode(mode)
    d = Design("broken", num_classes=10)
    d.chain(("input", {"shape": [1, 8, 8]}), ("conv2d", {"out_channels": 6, "kernel": 5}),
            ("conv2d", {"out_channels": 16, "kernel": 5}), "flatten", ("linear", {"out_features": 10}), "output")
    window.document.replace_design(d)
    window.document.auto_layout()
    settle(qtbot)
    bad = [i for i in window.scene.node_items.values() if i.status == "error"]
    assert bad
    window.document.set_selection([bad[0].node_id])
    window.view.resetTransform()
    window.view.centerOn(bad[0].sceneBoundingRect().center())
    QApplication.processEvents()
    path = shots_dir / f"error_badge_{mode}.png"
    assert window.grab().save(str(path))
    canvas = window.view.viewport().grab()
    assert canvas.save(str(shots_dir / f"error_badge_canvas_{mode}.png"))
    window.set_theme_mode("light")
    assert window.theme is themes.LIGHT
