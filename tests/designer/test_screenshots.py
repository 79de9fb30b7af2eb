"""Screenshots of the main window (LeNet-5, ResNet-50), of an error badge and of the start page,
in both themes, saved for a human to look at (set DESIGNER_SCREENSHOTS=folder to keep them)."""
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
    window.docks["Layer summary"].show()  # hidden on a first start: the canvas comes first
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


@pytest.mark.parametrize("mode", ["light", "dark"])
@pytest.mark.parametrize("size", [(1440, 900), (1920, 1080)])
def test_start_page_screenshot(qtbot, make_window, settings, shots_dir, size, mode):
    settings.setValue("recent_files", ["/home/ada/designs/lenet_digits.json", "/home/ada/designs/resnet18 cifar.json"])
    window = make_window(training=False)
    window.set_theme_mode(mode)
    window.resize(*size)
    qtbot.waitUntil(window.start_page.sketches_done, timeout=5000)
    settle(qtbot)
    QApplication.processEvents()
    assert window.start_page.isVisible()
    path = shots_dir / f"start_page_{mode}_{size[0]}x{size[1]}.png"
    assert window.grab().save(str(path))
    assert path.stat().st_size > 10_000
    window.set_theme_mode("light")
