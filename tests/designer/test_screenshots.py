"""Screenshots for a human to look at (set DESIGNER_SCREENSHOTS=folder to keep them), light and
dark, at 1440×900 and 1920×1080: the start page, LeNet-5 and ResNet-50 at Fit, an opened
residual block, an opened inception block and an error state."""
import pytest
from PySide6.QtWidgets import QApplication

from designer import theme as themes
from engine import Design

from .helpers import settle

SIZES = [(1440, 900), (1920, 1080)]
# subject -> (template, the composite block to open or None)
SUBJECTS = {"lenet5": ("lenet5", None), "resnet50": ("resnet50", None),
            "residual_open": ("resnet18", "layer2_0"), "inception_open": ("googlenet", "inception3a")}


def _template(window, name: str) -> None:
    info = __import__("engine.templates", fromlist=["info"]).info(name)
    window.files.new_from_template((name, info.default_input, info.default_classes))


@pytest.mark.parametrize("mode", ["light", "dark"])
@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("subject", list(SUBJECTS))
def test_canvas_screenshot(qtbot, make_window, shots_dir, subject, size, mode):
    """Whole networks at Fit, and an opened residual and inception block, as a user sees them."""
    window = make_window(training=False)
    window.set_theme_mode(mode)
    window.resize(*size)
    template, block = SUBJECTS[subject]
    _template(window, template)
    if block is not None:
        assert window.document.open_composite(block)
    settle(qtbot)
    window.view.fit(readable=True)
    QApplication.processEvents()
    assert window.view.zoom >= 0.5  # readable: the layout uses the width
    path = shots_dir / f"{subject}_{mode}_{size[0]}x{size[1]}.png"
    assert window.grab().save(str(path))
    assert path.stat().st_size > 10_000
    window.set_theme_mode("light")


@pytest.mark.parametrize("mode", ["light", "dark"])
def test_main_window_with_training_and_summary_screenshot(qtbot, window, shots_dir, mode):
    window.set_theme_mode(mode)
    window.resize(1440, 900)
    _template(window, "lenet5")
    first_conv = next(n for n in window.document.design.nodes.values() if n.block == "conv2d")
    window.document.set_selection([first_conv.id])
    window.docks["Layer summary"].show()  # hidden on a first start: the canvas comes first
    window.docks["Layer summary"].raise_()
    settle(qtbot)
    window.summary.refresh()
    window.view.fit(readable=True)
    QApplication.processEvents()
    path = shots_dir / f"main_lenet5_summary_{mode}.png"
    assert window.grab().save(str(path))
    assert path.stat().st_size > 10_000
    window.set_theme_mode("light")


@pytest.mark.parametrize("mode", ["light", "dark"])
@pytest.mark.parametrize("size", SIZES)
def test_error_badge_screenshot(qtbot, window, shots_dir, size, mode):
    window.set_theme_mode(mode)
    window.resize(*size)
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
    path = shots_dir / f"error_badge_{mode}_{size[0]}x{size[1]}.png"
    assert window.grab().save(str(path))
    canvas = window.view.viewport().grab()
    assert canvas.save(str(shots_dir / f"error_badge_canvas_{mode}_{size[0]}x{size[1]}.png"))
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
