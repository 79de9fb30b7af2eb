"""How a node reads on the canvas: its name first, then its type and key parameters, then its
shape and parameter count; nothing clipped (elided with "…", whole in the tooltip); a broken
edge drawn red with the broken node's message on the node; text from the user shown as typed,
never as markup."""
from __future__ import annotations

import pytest
from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QTextDocument
from PySide6.QtWidgets import QApplication, QLabel

from designer import theme as themes
from designer.canvas import items as canvas_items, labels
from designer.palette import block_tooltip
from designer.plain_text import plain_html
from engine import Design, templates
from engine.layout.node_style import COMPACT, COMPACT_ABOVE, FULL, node_size

from .helpers import settle

NASTY = "a<b>c & d</b>"
BLUE = "output 2×2 (blue < 0 < red)"


def _shown(rich: str) -> str:
    """What a user reads in a rich-text tooltip or label: the text Qt renders from it."""
    doc = QTextDocument()
    doc.setHtml(rich)
    return doc.toPlainText()


def _template(qtbot, make_window, name: str):
    window = make_window(training=False)
    info = templates.info(name)
    assert window.files.new_from_template((name, info.default_input, info.default_classes))
    settle(qtbot)
    return window


def _broken(window) -> str:
    d = Design("broken", num_classes=10)
    d.chain(("input", {"shape": [1, 8, 8]}), ("conv2d", {"out_channels": 6, "kernel": 5}),
            ("conv2d", {"out_channels": 16, "kernel": 5}), "flatten", ("linear", {"out_features": 10}), "output")
    window.document.replace_design(d)
    window.document.auto_layout()
    return next(n for n, r in window.document.report.nodes.items() if r.has_error)


def test_lenet5_nodes_show_their_names_first(qtbot, make_window):
    window = _template(qtbot, make_window, "lenet5")
    design, scene = window.document.design, window.scene
    convs = [n for n in design.nodes.values() if n.block == "conv2d"]
    rows = {n.id: scene.node_items[n.id].shown_texts() for n in convs}
    assert [rows[n.id][0] for n in convs] == [n.name for n in convs] == ["conv1", "conv2", "conv3"]
    assert rows["conv1"][1] == "Conv2d 5×5, 6 ch, s1"
    assert rows["conv1"][2] == "→ 6×28×28 · 156 params"
    assert scene.node_items["fc1"].shown_texts()[1:] == ["Linear 84 out", "→ 84 · 10.2 k params"]
    assert rows["conv2"][2] == "→ 16×10×10 · 2.42 k params"
    # The name is the largest text on the node.
    assert canvas_items.font("name").pointSizeF() > canvas_items.font("body").pointSizeF()
    assert canvas_items.font("name").bold()
    pool = scene.node_items["pool1"].shown_texts()
    assert pool[:2] == ["pool1", "MaxPool2d 2×2, s2"]


def test_nothing_is_clipped_long_text_is_elided_and_whole_in_the_tooltip(qtbot, make_window):
    window = _template(qtbot, make_window, "resnet50")
    design, scene = window.document.design, window.scene
    box_width, _ = node_size(FULL)
    for node_id, item in scene.node_items.items():
        room = item.width - canvas_items.PAD_LEFT - canvas_items.PAD_RIGHT
        tip = _shown(scene.tooltip_for(node_id))
        for row in item.rows:
            assert canvas_items.metrics(row.role).horizontalAdvance(row.shown) <= room + 0.5
            assert row.shown == row.full or row.shown.endswith("…")
        node = design.nodes[node_id]
        spec = design.spec(node.block)
        assert item.title in tip and spec.title in tip and labels.key_params(spec, node.params) in tip
        assert item.info.split(" · ")[0].replace("→ ", "out: ") in tip  # the shape; the count in full
        assert item.width <= box_width
    # A long name: the node grows to its widest, the name is elided, the tooltip has all of it.
    name = "a very long layer name that no node on any canvas could ever hold on one line"
    window.document.set_label("layer2_0", name)
    item = scene.node_items["layer2_0"]
    assert item.width == box_width
    assert item.shown_texts()[0].endswith("…") and item.shown_texts()[0] != name
    assert item.full_texts()[0] == name
    assert name in _shown(scene.tooltip_for("layer2_0"))
    # A short name keeps a node narrower than the widest.
    assert scene.node_items["relu"].width < box_width


def test_broken_edge_is_red_and_the_node_says_why(qtbot, make_window):
    window = make_window(training=False)
    bad = _broken(window)
    settle(qtbot)
    scene = window.scene
    report = window.document.report.nodes[bad]
    message, fix = report.diagnostics[0].message, report.diagnostics[0].fix
    into_bad = [item for edge, item in scene.edge_items.items() if edge.dst == bad]
    assert into_bad and all(item.broken for item in into_bad)
    assert not any(item.broken for edge, item in scene.edge_items.items() if edge.dst != bad)
    node = scene.node_items[bad]
    assert node.status == "error"
    shown = " ".join(node.shown_texts()[2:])
    assert shown.startswith("✗ the output size collapses to 0")  # the block type is on the row above
    assert message.endswith(node.error[len("✗ "):])  # the first line of the message, whole
    tip = _shown(scene.tooltip_for(bad))
    assert message in tip and fix in tip
    edge_tip = _shown(scene.edge_tooltip_for(next(e for e in scene.edge_items if e.dst == bad)))
    assert message in edge_tip and fix in edge_tip
    # Drawn in the theme's error colour, light and dark.
    for mode, theme in (("light", themes.LIGHT), ("dark", themes.DARK)):
        window.set_theme_mode(mode)
        window.view.resetTransform()
        window.view.centerOn(node.sceneBoundingRect().center())
        QApplication.processEvents()
        image = window.view.viewport().grab().toImage()
        edge_item = into_bad[0]
        point = window.view.mapFromScene(edge_item.path().pointAtPercent(0.15))
        pixel = QColor(image.pixel(point))
        assert _distance(pixel, QColor(theme.error)) < _distance(pixel, QColor(theme.edge)), (mode, pixel.name())
    window.set_theme_mode("light")
    # Fixed: nothing red any more.
    window.document.set_params(bad, {"kernel": 3})
    settle(qtbot)
    assert not any(item.broken for item in scene.edge_items.values())
    assert not node.error and node.status == ""


def _distance(a: QColor, b: QColor) -> int:
    return abs(a.red() - b.red()) + abs(a.green() - b.green()) + abs(a.blue() - b.blue())


@pytest.mark.parametrize("text", [NASTY, BLUE])
def test_text_from_the_user_is_shown_as_typed(qtbot, window, prompts, text):
    d = Design(text, num_classes=10)
    d.chain(("input", {"shape": [3, 16, 16]}), ("conv2d", {"out_channels": 4}), "relu",
            ("linear", {"out_features": 10}), "output")
    window.document.replace_design(d)
    design, scene = window.document.design, window.scene
    conv = next(n for n in design.nodes if design.nodes[n].block == "conv2d")
    relu = next(n for n in design.nodes if design.nodes[n].block == "relu")
    window.document.set_label(conv, text)
    settle(qtbot)
    # Node label: on the canvas (plain static text) and in its tooltip.
    item = scene.node_items[conv]
    shown = item.shown_texts()[0]
    assert item.full_texts()[0] == text and (shown == text or text.startswith(shown[:-1]) and shown[-1] == "…")
    assert "<" in shown and "(blue" in shown if text == BLUE else shown == text
    assert all(row.static.textFormat() == Qt.TextFormat.PlainText for row in item.rows)
    assert text in _shown(scene.tooltip_for(conv))
    # Design name: the inspector's form and the window title.
    window.document.set_selection([])
    assert window.inspector.name_edit.text() == text
    assert text in window.windowTitle()
    # A user block's title: the node's type row, the palette's tooltip, the inspector's header.
    prompts.text_answer = text
    window.document.set_selection([relu])
    window.actions_by_name["group"].trigger()
    block = window.document.selection[0]
    settle(qtbot)
    spec = design.spec(design.nodes[block].block)
    assert spec.title == text
    assert scene.node_items[block].full_texts()[1].startswith(text)
    assert text.startswith(scene.node_items[block].shown_texts()[1].rstrip("…")[:12])
    assert text in _shown(scene.tooltip_for(block))
    assert text in _shown(block_tooltip(spec))
    headers = [label.text() for label in window.inspector.findChildren(QLabel)]
    assert any(text in _shown(h) for h in headers if "<" in h)
    # A diagnostic that quotes the label: on the node, in its tooltip, in the inspector.
    edge = next(e for e in design.edges if e.dst == conv)
    window.document.remove(edges=[edge])
    settle(qtbot)
    message = window.document.report.nodes[conv].diagnostics[0].message
    assert text in message
    item = scene.node_items[conv]  # grouping redrew the scene
    assert text in item.error and item.error.endswith(message)
    assert message in _shown(scene.tooltip_for(conv))
    window.document.set_selection([conv])
    assert message in _shown(window.inspector.problems_label.text())
    # The helper for plain text in tooltips and message boxes.
    assert _shown(plain_html(text)) == text


def test_compact_style_for_big_networks(qtbot, window):
    d = Design("long", num_classes=10)
    d.chain(("input", {"shape": [8]}), *(["relu"] * COMPACT_ABOVE), ("linear", {"out_features": 10}), "output")
    window.document.replace_design(d)
    settle(qtbot)
    scene = window.scene
    assert scene.node_style == COMPACT
    item = next(iter(scene.node_items.values()))
    assert len(item.rows) == 2 and item.height == node_size(COMPACT)[1]
    assert item.shown_texts() == ["input_1", "8"]
    # The user's choice wins; a small design is drawn full.
    scene.set_node_style(FULL)
    assert scene.node_style == FULL and len(item.rows) == 3 and item.height == node_size(FULL)[1]
    scene.set_node_style("auto")
    assert scene.node_style == COMPACT
    d = Design("short", num_classes=10)
    d.chain(("input", {"shape": [8]}), ("linear", {"out_features": 10}), "output")
    window.document.replace_design(d)
    settle(qtbot)
    assert scene.node_style == FULL


def test_zoomed_out_nodes_show_their_names_large(qtbot, make_window):
    window = _template(qtbot, make_window, "lenet5")
    window.view.set_zoom(0.3)
    window.view.centerOn(window.scene.node_items["conv1"].sceneBoundingRect().center())
    QApplication.processEvents()
    item = window.scene.node_items["conv1"]
    rect = window.view.mapFromScene(item.sceneBoundingRect()).boundingRect()
    image = window.view.viewport().grab().toImage().copy(rect)
    assert not image.isNull()
    # Some text pixels are drawn (the name, large), not a blank box.
    text = QColor(themes.LIGHT.text)
    dark_pixels = sum(1 for x in range(image.width()) for y in range(image.height())
                      if _distance(QColor(image.pixel(x, y)), text) < 120)
    assert dark_pixels > 20
    assert isinstance(item.boundingRect(), QRectF)


def test_view_menu_switches_the_node_style_and_remembers_it(window):
    window.set_node_style("compact")
    assert window.scene.node_style == "compact"
    assert window.actions_by_name["node_style_compact"].isChecked()
    assert not window.actions_by_name["node_style_full"].isChecked()
    assert window.settings.value("node_style") == "compact"
    window.set_node_style("full")
    assert window.scene.node_style == "full"
    window.set_node_style("auto")


def test_training_labels_that_show_names_are_plain_text(window):
    """Dataset, class and layer names reach these labels: "<b>" must stay two characters."""
    from PySide6.QtCore import Qt
    controller = window.training
    labels = [controller.panel.status, controller.panel.dataset_info, controller.views.feature_maps.node_label,
              controller.views.feature_maps.prediction_label, controller.views.feature_maps.shift_label]
    for label in labels:
        assert label.textFormat() == Qt.TextFormat.PlainText
    controller.panel.status.setText("layer <b>x</b> & y")
    assert controller.panel.status.text() == "layer <b>x</b> & y"


def test_the_inspector_shows_the_selected_nodes_analysis_as_plain_rows(window):
    from engine import templates
    window.document.replace_design(templates.build("lenet5"))
    conv = next(n for n in window.document.design.nodes.values() if n.block == "conv2d")
    window.document.set_selection([conv.id])
    rows = window.inspector.report_label
    report = window.document.report.nodes[conv.id]
    assert rows.values["parameters"].text() == f"{report.params:,}"
    assert rows.values["output"].text() == "×".join(map(str, report.shape))
    window.inspector.editors["out_channels"].set_value(8)
    window.document.set_params(conv.id, {"out_channels": 8})
    window.document.refresh()
    assert rows.values["output"].text().startswith("8×")
