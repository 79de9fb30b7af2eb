"""Screenshots for a human to look at (set DESIGNER_SCREENSHOTS=folder to keep them), light and
dark, at 1440×900 and 1920×1080: the start page, LeNet-5 and ResNet-50 at Fit, an opened
residual block, an opened inception block and an error state.

The pictures in README.md and docs/guide.md (docs/images/) are made here too, light theme at
1440×900, scaled to 1200 px wide and quantised: ``test_docs_images`` rewrites a file only when
it looks different (or DOCS_IMAGES_REWRITE is set), and ``test_docs_reference_only_existing_images`` fails on a missing one."""
import io
import os
import re
from pathlib import Path

import pytest
from PySide6.QtCore import QBuffer, QIODevice
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


# -- the pictures in README.md and docs/guide.md -----------------------------------------------
ROOT = Path(__file__).resolve().parents[2]
DOCS_IMAGES = ROOT / "docs" / "images"
DOC_FILES = [ROOT / "README.md", ROOT / "docs" / "guide.md"]
DOC_WIDTH = 1200
DOC_MAX_BYTES = 150_000
DOCS_REWRITE_ENV = "DOCS_IMAGES_REWRITE"  # set to rewrite every picture even when it looks unchanged


def _doc_png(widget) -> bytes:
    """The widget as a small PNG: scaled to DOC_WIDTH wide, quantised to a palette, optimised."""
    from PIL import Image

    buffer = QBuffer()
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    assert widget.grab().save(buffer, "PNG")
    image = Image.open(io.BytesIO(bytes(buffer.data()))).convert("RGB")
    if image.width > DOC_WIDTH:
        image = image.resize((DOC_WIDTH, round(image.height * DOC_WIDTH / image.width)), Image.Resampling.LANCZOS)
    colours = 256
    while True:
        out = io.BytesIO()
        image.quantize(colours, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(
            out, "PNG", optimize=True)
        if out.tell() <= DOC_MAX_BYTES or colours <= 32:
            return out.getvalue()
        colours //= 2


def _write_doc_image(name: str, widget, shots_dir) -> Path:
    """Write docs/images/<name> unless the file there already shows the same pixels (no churn in git)."""
    from PIL import Image, ImageChops

    data = _doc_png(widget)
    (shots_dir / f"docs_{name}").write_bytes(data)
    assert len(data) <= DOC_MAX_BYTES, f"{name}: {len(data)} bytes"
    path = DOCS_IMAGES / name
    if path.is_file() and not os.environ.get(DOCS_REWRITE_ENV):
        old, new = Image.open(path).convert("RGB"), Image.open(io.BytesIO(data)).convert("RGB")
        if old.size == new.size:
            # A run's curves wiggle a little from run to run, and the quantised palette shifts every
            # colour a few levels: only clear differences over 0.1 % of the picture count as a change.
            diff = ImageChops.difference(old, new).convert("L").point(lambda v: 255 if v > 40 else 0)
            if diff.histogram()[255] <= 0.001 * new.width * new.height:
                return path
    DOCS_IMAGES.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def _light_window(make_window, size=(1440, 900), **kwargs):
    window = make_window(**kwargs)
    window.set_theme_mode("light")
    window.resize(*size)
    return window


def _select_first(window, block: str) -> str:
    node = next(n for n in window.document.design.nodes.values() if n.block == block)
    window.document.set_selection([node.id])
    return node.id


def test_docs_images(qtbot, make_window, settings, prompts, shots_dir, tmp_path):
    """The README's and the guide's pictures, as a first-time user sees the app."""
    settings.setValue("recent_files", ["/home/ada/designs/lenet_digits.json"])
    written = []
    # The start page.
    window = _light_window(make_window)
    qtbot.waitUntil(window.start_page.sketches_done, timeout=5000)
    settle(qtbot)
    written.append(_write_doc_image("start_page.png", window, shots_dir))
    window.close()

    # LeNet-5 from its template, the first convolution selected, the layer summary open.
    window = _light_window(make_window)
    controller = window.training
    controller.history.root = controller.runs_root = tmp_path / "runs"
    # The digits load in the background: the training panel shows them, not a busy bar.
    qtbot.waitUntil(lambda: controller.bundle is not None and not controller.dataset_loading(), timeout=120_000)
    _template(window, "lenet5")
    conv = _select_first(window, "conv2d")
    window.docks["Layer summary"].show()
    window.docks["Layer summary"].raise_()
    settle(qtbot)
    window.summary.refresh()
    window.view.fit(readable=True)
    QApplication.processEvents()
    written.append(_write_doc_image("main_window.png", window, shots_dir))

    # Three epochs on the bundled digits: the curves, then the inside of the network.
    controller.panel.epochs.setValue(3)
    controller.panel.seed.setValue(0)
    window.docks["Training"].show()
    window.docks["Training views"].show()
    window.docks["Training views"].raise_()
    window.actions_by_name["train"].trigger()
    assert controller.session is not None
    qtbot.waitUntil(lambda: not controller.session.is_running(), timeout=180_000)
    assert controller.record.status == "finished"
    qtbot.waitUntil(lambda: controller.panel.start_button.isEnabled(), timeout=30_000)  # the UI has caught up
    window.docks["Layer summary"].hide()  # room for the canvas next to the curves
    settle(qtbot)
    window.view.fit(readable=True)
    views = controller.views
    views.setCurrentWidget(views.curves)
    window.document.set_selection([conv])
    settle(qtbot)
    written.append(_write_doc_image("training.png", window, shots_dir))
    views.setCurrentWidget(views.feature_maps)
    settle(qtbot)
    qtbot.wait(300)
    written.append(_write_doc_image("inside.png", window, shots_dir))
    window.actions_by_name["export"].trigger()  # File ▸ Export…, with the run's weights
    dialog = window.export_dialog
    dialog.set_format("python")  # as the guide's command line does
    dialog.set_path("/home/ada/lenet5_model.py")  # a user's folder, not the test machine's
    settle(qtbot)
    written.append(_write_doc_image("export_dialog.png", dialog, shots_dir))
    dialog.close()
    window.document.undo_stack.setClean()
    window.close()

    # An opened composite block (the guide's "Designing your own block").
    window = _light_window(make_window)
    window.actions_by_name["reset_layout"].trigger()  # the panels as on a first start, not as the last window left them
    _template(window, "resnet18")
    assert window.document.open_composite("layer2_0")
    window.docks["Inspector"].raise_()
    settle(qtbot)
    window.view.fit(readable=True)
    inside = [window.scene.node_items[i] for i in window.document.selection if i in window.scene.node_items]
    assert inside  # the opened block's nodes are selected
    rect = inside[0].sceneBoundingRect()
    for item in inside[1:]:
        rect = rect.united(item.sceneBoundingRect())
    window.view.set_zoom(min(1.0, 0.95 * window.view.viewport().height() / rect.height()))
    window.view.centerOn(rect.center())  # the opened block, large enough to read
    QApplication.processEvents()
    written.append(_write_doc_image("composite_block.png", window, shots_dir))
    window.document.undo_stack.setClean()
    window.close()

    # A block of one's own: LeNet-5's first convolution, activation and pooling grouped (Edit ▸ Group into Block…).
    prompts.text_answer = "Conv block"
    window = _light_window(make_window)
    window.actions_by_name["reset_layout"].trigger()  # the panels as on a first start, not as the last window left them
    _template(window, "lenet5")
    window.document.set_selection(["conv1", "act1", "pool1"])
    window.actions_by_name["group"].trigger()
    grouped = window.document.selection
    assert len(grouped) == 1
    window.actions_by_name["layout"].trigger()
    window.document.set_selection(grouped)
    window.docks["Inspector"].raise_()
    settle(qtbot)
    window.view.fit(readable=True)
    QApplication.processEvents()
    written.append(_write_doc_image("own_block.png", window, shots_dir))
    window.document.undo_stack.setClean()
    assert all(p.stat().st_size <= DOC_MAX_BYTES for p in written)


def test_docs_reference_only_existing_images():
    """Every picture README.md and docs/guide.md show exists (test_docs_images makes them)."""
    for doc in DOC_FILES:
        assert doc.is_file(), doc
        text = doc.read_text(encoding="utf-8")
        targets = re.findall(r"!\[[^\]]*\]\(([^)\s]+)", text) + re.findall(r"<img[^>]*\ssrc=\"([^\"]+)\"", text)
        assert targets, f"{doc.name} shows no picture"
        for target in targets:
            if "://" in target:
                continue
            assert (doc.parent / target).is_file(), f"{doc.name} shows {target}, which does not exist"
