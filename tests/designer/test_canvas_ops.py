"""Canvas operations through the window's actions and shortcuts: select, delete, clipboard,
duplicate, zoom and fit, automatic layout, composites opened and closed, grouping."""
from PySide6.QtCore import QPointF, Qt
from PySide6.QtWidgets import QApplication

from engine import Design, analyze

from .helpers import settle, snapshot


def _chain(window):
    d = Design("chain", num_classes=10)
    d.chain(("input", {"shape": [3, 32, 32]}), ("conv2d", {"out_channels": 8, "padding": 1}), "relu",
            ("residual_basic", {"out_channels": 8}), "global_avgpool", ("linear", {"out_features": 10}), "output")
    window.document.replace_design(d)
    window.document.auto_layout()
    window.document.undo_stack.setClean()
    return window.document.design


def test_delete_copy_paste_duplicate_shortcuts(qtbot, window):
    design = _chain(window)
    relu = next(n for n in design.nodes if design.nodes[n].block == "relu")
    window.view.setFocus()
    window.document.set_selection([relu])
    assert window.scene.node_items[relu].isSelected()
    qtbot.keyClick(window.view, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClick(window.view, Qt.Key.Key_V, Qt.KeyboardModifier.ControlModifier)
    pasted = window.document.selection
    assert len(pasted) == 1 and design.nodes[pasted[0]].block == "relu" and pasted[0] != relu
    qtbot.keyClick(window.view, Qt.Key.Key_D, Qt.KeyboardModifier.ControlModifier)
    assert len(design.nodes) == 9
    qtbot.keyClick(window.view, Qt.Key.Key_Delete)
    assert len(design.nodes) == 8
    window.document.set_selection([relu])
    qtbot.keyClick(window.view, Qt.Key.Key_X, Qt.KeyboardModifier.ControlModifier)
    assert relu not in design.nodes and not any(relu in (e.src, e.dst) for e in design.edges)
    settle(qtbot)
    assert window.scene.node_items[next(n for n in design.nodes if design.nodes[n].block == "residual_basic")].status
    qtbot.keyClick(window.view, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert relu in design.nodes
    qtbot.keyClick(window.view, Qt.Key.Key_Y, Qt.KeyboardModifier.ControlModifier)
    assert relu not in design.nodes


def test_rubber_band_and_ctrl_click_select(qtbot, window):
    _chain(window)
    window.view.fit()
    QApplication.processEvents()
    items = list(window.scene.node_items.values())
    rect = items[0].sceneBoundingRect().united(items[1].sceneBoundingRect()).adjusted(-20, -20, 20, 20)
    viewport = window.view.viewport()
    start, end = window.view.mapFromScene(rect.topLeft()), window.view.mapFromScene(rect.bottomRight())
    start.setX(start.x() - 300)  # start on empty canvas left of the nodes
    qtbot.mousePress(viewport, Qt.MouseButton.LeftButton, pos=start)
    qtbot.mouseMove(viewport, (start + end) / 2)
    qtbot.mouseMove(viewport, end)
    qtbot.mouseRelease(viewport, Qt.MouseButton.LeftButton, pos=end)
    assert set(window.document.selection) == {items[0].node_id, items[1].node_id}
    third = window.view.mapFromScene(items[3].sceneBoundingRect().center())
    qtbot.mouseClick(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.ControlModifier, third)
    assert len(window.document.selection) == 3


def test_drag_moves_nodes_as_one_undo_step(qtbot, window):
    design = _chain(window)
    item = next(iter(window.scene.node_items.values()))
    old = design.nodes[item.node_id].pos
    viewport = window.view.viewport()
    window.view.resetTransform()
    window.view.centerOn(item)
    QApplication.processEvents()
    start = window.view.mapFromScene(item.sceneBoundingRect().center())
    qtbot.mousePress(viewport, Qt.MouseButton.LeftButton, pos=start)
    for dx in (10, 40, 80):
        qtbot.mouseMove(viewport, start + type(start)(dx, 20))
    qtbot.mouseRelease(viewport, Qt.MouseButton.LeftButton, pos=start + type(start)(80, 20))
    assert design.nodes[item.node_id].pos == (old[0] + 80, old[1] + 20)
    window.document.undo_stack.undo()
    assert design.nodes[item.node_id].pos == old and item.pos() == QPointF(*old)


def test_while_a_node_is_dragged_its_edges_follow_and_fit_knows_where_it_is(qtbot, window):
    design = _chain(window)
    item = next(iter(window.scene.node_items.values()))
    edge = next(e for e in window.scene.edge_items.values() if item in (e.src, e.dst))
    viewport = window.view.viewport()
    window.view.resetTransform()
    window.view.centerOn(item)
    QApplication.processEvents()
    start = window.view.mapFromScene(item.sceneBoundingRect().center())
    qtbot.mousePress(viewport, Qt.MouseButton.LeftButton, pos=start)
    before = window.scene.content_rect()
    for dx in (10, 40, 300):
        qtbot.mouseMove(viewport, start + type(start)(dx, 20))
    assert item.pos() != QPointF(*design.nodes[item.node_id].pos)  # moved, the document not told yet
    ends = edge.endpoints()
    assert edge.path().pointAtPercent(0) == ends[0] and edge.path().pointAtPercent(1) == ends[1]
    assert window.scene.content_rect() == window.scene.itemsBoundingRect() != before
    qtbot.mouseRelease(viewport, Qt.MouseButton.LeftButton, pos=start + type(start)(300, 20))


def test_zoom_fit_and_layout(qtbot, window):
    _chain(window)
    view = window.view
    view.resetTransform()
    window.actions_by_name["zoom_in"].trigger()
    assert view.zoom > 1.2
    window.actions_by_name["zoom_out"].trigger()
    window.actions_by_name["zoom_out"].trigger()
    assert view.zoom < 1.0
    view.setFocus()
    qtbot.keyClick(view, Qt.Key.Key_F)
    visible = view.visible_scene_rect()
    assert all(visible.contains(i.sceneBoundingRect()) for i in window.scene.node_items.values())
    design = window.document.design
    for node in list(design.nodes.values()):
        window.document.move_nodes({node.id: (node.pos, (0, 0))})  # everything in a heap
    window.actions_by_name["layout"].trigger()
    ys = sorted(n.pos[1] for n in design.nodes.values())
    assert len(set(ys)) == len(ys)  # a chain: one layer each


def test_open_edit_close_composite_and_group(qtbot, window):
    design = _chain(window)
    params_before = analyze(design).total_params
    block = next(n for n in design.nodes if design.nodes[n].block == "residual_basic")
    window.scene.node_activated.emit(block)  # the double-click path
    inner = window.document.open_composites[block].inner_ids
    assert block not in design.nodes and all(i in design.nodes for i in inner)
    settle(qtbot)
    assert analyze(design).total_params == params_before
    assert all(window.scene.node_items[i].opened_part for i in inner)
    window.scene.node_activated.emit(inner[0])  # double-click an inner node: close again
    assert block in design.nodes and design.nodes[block].block == "residual_basic"
    # Open, edit a conv inside, close: it becomes a new user block with the edit.
    window.document.open_composite(block)
    conv = next(i for i in window.document.open_composites[block].inner_ids if design.nodes[i].block == "conv2d")
    window.document.set_params(conv, {"kernel": 5, "padding": 2})
    assert window.document.close_composite(block)
    assert design.nodes[block].block.startswith("user:")
    assert analyze(design).total_params > params_before
    # Group two nodes into a new block.
    relu = next(n for n in design.nodes if design.nodes[n].block == "relu")
    conv1 = next(n for n in design.nodes if design.nodes[n].block == "conv2d")
    window.document.set_selection([conv1, relu])
    window.actions_by_name["group"].trigger()
    new = window.document.selection[0]
    assert design.nodes[new].block in design.composites
    assert design.composites[design.nodes[new].block].title == "My block"
    settle(qtbot)
    assert analyze(design).valid
    before = snapshot(design)
    window.document.undo_stack.undo()
    assert relu in design.nodes
    window.document.undo_stack.redo()
    assert snapshot(design) == before


def test_error_badge_tooltip_has_message_and_fix(qtbot, window):
    d = Design("broken", num_classes=10)
    d.chain(("input", {"shape": [1, 8, 8]}), ("conv2d", {"kernel": 11}), "output")
    window.document.replace_design(d)
    d = window.document.design
    settle(qtbot)
    conv = next(n for n in d.nodes if d.nodes[n].block == "conv2d")
    report = analyze(d).nodes[conv]
    item = window.scene.node_items[conv]
    assert item.status == "error" and item.problem
    tip = window.scene.tooltip_for(conv)
    assert report.diagnostics[0].message.split("(")[0][:30] in tip.replace("&gt;", ">").replace("&lt;", "<")
    assert "fix:" in tip
    assert "error" in window.totals_label.text()
    assert window.diagnostics.list.count() >= 1
