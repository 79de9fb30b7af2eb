"""A user's whole session, driven through the widgets: drop blocks from the palette, connect
ports, change a parameter in the inspector, watch the labels and totals, undo to the start,
redo, save, reopen and get the same design."""
from __future__ import annotations

from PySide6.QtCore import QPointF, Qt

from engine import persistence

from .helpers import drag_edge, drop_from_palette, settle, snapshot


def _edge_label(window, src, dst):
    for edge, item in window.scene.edge_items.items():
        if edge.src == src and edge.dst == dst:
            return item.label
    raise AssertionError(f"no edge {src} → {dst} on the canvas")


def test_build_edit_undo_redo_save_reopen(qtbot, window, prompts, tmp_path):
    view = window.view
    view.resetTransform()
    view.centerOn(QPointF(100, 250))
    start = snapshot(window.document.design)

    input_id = drop_from_palette(window, "input", QPointF(100, 0))
    conv_id = drop_from_palette(window, "conv2d", QPointF(100, 180))
    relu_id = drop_from_palette(window, "relu", QPointF(100, 360))
    settle(qtbot)
    assert window.scene.node_items[conv_id].status == "error"  # nothing connected yet

    # Greyed out while dragging: conv's own input is free, so it is offered; input has no input port.
    seen = {}

    def look(w):
        seen["conv"] = w.scene.node_items[conv_id].inputs["in"].state
        seen["relu"] = w.scene.node_items[relu_id].inputs["in"].state

    drag_edge(qtbot, window, input_id, conv_id, during=look)
    assert seen == {"conv": "ok", "relu": "ok"}
    drag_edge(qtbot, window, conv_id, relu_id)
    settle(qtbot)
    design = window.document.design
    assert [(e.src, e.dst) for e in design.edges] == [(input_id, conv_id), (conv_id, relu_id)]
    assert _edge_label(window, conv_id, relu_id) == "16×26×26"
    assert "160 params" in window.scene.node_items[conv_id].info
    assert "160 params" in window.totals_label.text()

    # While dragging again from input, conv's input is occupied: greyed out.
    drag_edge(qtbot, window, input_id, relu_id, during=look)
    assert seen["conv"] == "disabled" and seen["relu"] == "disabled"
    assert len(design.edges) == 2

    # Change out_channels in the inspector: one spin-box step after another, one undo step.
    window.document.set_selection([conv_id])
    spin = window.inspector.editors["out_channels"].spin
    count_before = window.document.undo_stack.count()
    spin.setFocus()
    for _ in range(4):
        qtbot.keyClick(spin, Qt.Key.Key_Up)
    settle(qtbot)
    assert design.nodes[conv_id].params["out_channels"] == 20
    assert window.document.undo_stack.count() == count_before + 1
    assert _edge_label(window, conv_id, relu_id) == "20×26×26"
    assert "200 params" in window.totals_label.text()
    assert window.isWindowModified()

    edited = snapshot(design)
    stack = window.document.undo_stack
    while stack.canUndo():
        stack.undo()
    settle(qtbot)
    assert snapshot(design) == start
    assert not window.scene.node_items and not window.scene.edge_items
    while stack.canRedo():
        stack.redo()
    settle(qtbot)
    assert snapshot(design) == edited
    assert _edge_label(window, conv_id, relu_id) == "20×26×26"

    path = tmp_path / "mine.json"
    prompts.save_answer = str(path)
    window.actions_by_name["save"].trigger()
    assert path.exists() and not window.isWindowModified()
    assert "mine.json" in window.windowTitle()

    window.actions_by_name["new"].trigger()
    assert not design.nodes
    prompts.open_answer = str(path)
    window.actions_by_name["open"].trigger()
    settle(qtbot)
    assert snapshot(window.document.design) == edited
    assert len(window.scene.node_items) == 3 and len(window.scene.edge_items) == 2
    assert persistence.load(path).nodes.keys() == design.nodes.keys()


def test_palette_double_click_appends_after_selection(qtbot, window):
    window.files.new_from_template(("lenet5", (1, 32, 32), 10))
    design = window.document.design
    first_conv = next(n for n in design.nodes.values() if n.block == "conv2d")
    window.document.set_selection([first_conv.id])
    item = window.palette_panel.item_for("dropout")
    window.palette_panel.tree.itemActivated.emit(item, 0)
    new_id = window.document.selection[0]
    assert design.nodes[new_id].block == "dropout"
    assert any(e.src == first_conv.id and e.dst == new_id for e in design.edges)


def test_palette_lists_every_block_with_formula_and_search(window):
    from engine import blocks

    palette = window.palette_panel
    keys = {i.data(0, Qt.ItemDataRole.UserRole) for i in palette.block_items()}
    assert keys == {s.key for s in blocks.catalog()} - {"opaque"}  # only the importer makes opaque nodes
    conv = palette.item_for("conv2d")
    assert blocks.get("conv2d").formula.split(";")[0] in conv.toolTip(0)
    assert not conv.icon(0).isNull()
    palette.search.setText("pool")
    visible = [i.data(0, Qt.ItemDataRole.UserRole) for i in palette.block_items() if not i.isHidden()]
    assert "maxpool2d" in visible and "conv2d" not in visible
    window.actions_by_name["find"].trigger()
    assert palette.search.selectedText() == "pool"


def test_inspector_validates_as_you_type(qtbot, window):
    design = window.document.design
    window.document.add_node("input", {"shape": [3, 32, 32]})
    conv = window.document.add_node("conv2d")
    editor = window.inspector.editors["kernel"]
    editor.edit.setFocus()
    editor.edit.clear()
    qtbot.keyClicks(editor.edit, "3, a")
    assert "border" in editor.edit.styleSheet()
    assert window.inspector.error_label.isVisibleTo(window.inspector)
    editor.edit.clear()
    qtbot.keyClicks(editor.edit, "5, 3")
    assert editor.edit.styleSheet() == ""
    qtbot.keyClick(editor.edit, Qt.Key.Key_Return)
    assert design.nodes[conv].params["kernel"] == [5, 3]
    padding = window.inspector.editors["padding"]
    padding.edit.setText("same")
    padding.edit.editingFinished.emit()
    assert design.nodes[conv].params["padding"] == "same"
    window.document.undo_stack.undo()
    assert window.inspector.editors["padding"].edit.text() == "0"  # undo shows in the form
