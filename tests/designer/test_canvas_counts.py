"""What one canvas action costs, counted (issue 13): select all tells the scene's and the
document's listeners once, opening a design analyses it once and tells the views once, an undo
step redraws the overview once, an edit relabels only the nodes whose figures changed.
Functional counts only: the timings are bench/canvas.py's."""
from __future__ import annotations

import pytest
from PySide6.QtWidgets import QApplication

import designer.document as document_module
from designer.canvas import DesignScene
from designer.canvas.items import NodeItem
from designer.document import Document

from .test_big_edits import _chain


@pytest.fixture
def canvas(qtbot):
    document = Document()
    scene = DesignScene(document)
    document.replace_design(_chain(60))
    scene.finish_building()
    QApplication.processEvents()
    yield document, scene
    scene.detach()
    document.close()


def test_select_all_is_one_selection_notification(canvas):
    document, scene = canvas
    scene_told, document_told = [], []
    scene.selectionChanged.connect(lambda: scene_told.append(1))
    document.selection_changed.connect(document_told.append)
    document.set_selection(list(document.design.nodes))
    assert len(scene_told) == 1 and len(document_told) == 1
    assert all(item.isSelected() for item in scene.node_items.values())
    assert len(scene.selectedItems()) == len(document.design.nodes)
    document.set_selection([])  # and back: once again
    assert len(scene_told) == 2 and not scene.selectedItems()


def test_a_click_on_the_canvas_still_selects_through_the_document(canvas):
    document, scene = canvas
    first, second = list(scene.node_items)[:2]
    document.set_selection([first])
    scene.node_items[second].setSelected(True)  # what a ctrl+click does in Qt
    assert document.selection == [first, second]


def test_opening_analyses_once_and_tells_the_views_once(canvas, monkeypatch):
    document, scene = canvas
    design = _chain(40)  # laid out first (the layout analyses it)
    analyses, reports = [], []
    original = document_module.analysis.analyze
    monkeypatch.setattr(document_module.analysis, "analyze", lambda d: analyses.append(1) or original(d))
    document.report_changed.connect(reports.append)
    document.replace_design(design)
    QApplication.processEvents()
    assert len(analyses) == 1 and len(reports) == 1
    assert reports[0] is document.report
    scene.finish_building()
    # The canvas was drawn from that report: every node shows its figures.
    assert all(item.info for item in scene.node_items.values() if document.design.nodes[item.node_id].block != "output")


def test_an_undo_step_redraws_the_overview_once(canvas):
    document, scene = canvas
    told = []
    scene.outline_changed.connect(lambda: told.append(1))
    document.set_selection(list(document.design.nodes))
    assert document.remove(document.selection)
    assert len(told) == 1
    document.undo_stack.undo()
    assert len(told) == 2 and len(scene.node_items) == len(document.design.nodes)


def test_an_edit_relabels_the_nodes_whose_figures_changed_and_no_other(canvas, monkeypatch):
    document, scene = canvas
    design = document.design
    convs = [n for n, node in design.nodes.items() if node.block == "conv2d"]
    relabelled = []
    original = NodeItem.set_content
    monkeypatch.setattr(NodeItem, "set_content", lambda item, **c: relabelled.append(item.node_id) or original(item, **c))
    document.set_params(convs[3], {"out_channels": 8})
    QApplication.processEvents()
    # The conv itself (its output) and the next conv (its parameter count); the ReLU between
    # them shows a shape too: the nodes whose report changed, nothing else.
    changed = set(relabelled)
    assert convs[3] in changed and convs[4] in changed
    assert not changed - {convs[3], convs[4], *(e.dst for e in design.outgoing(convs[3]))}
    assert scene.node_items[convs[4]].info != "" and "8" in scene.edge_items[next(
        e for e in design.edges if e.src == convs[3])].label


def test_a_big_design_draws_the_nodes_the_fitted_view_shows_first(qtbot):
    from PySide6.QtCore import QRectF

    from designer.canvas import CanvasView
    from engine.layout.node_style import node_size
    document = Document()
    scene = DesignScene(document)
    view = CanvasView(scene)
    qtbot.addWidget(view)
    view.resize(1000, 800)
    view.show()
    design = _chain(1200)
    document.replace_design(design, take=True)
    assert scene.building
    shown = view.fitted_scene_rect(readable=True)
    width, height = node_size(scene.node_style)
    in_view = {n for n, node in document.design.nodes.items() if shown.intersects(QRectF(*node.pos, width, height))}
    assert 0 < len(in_view) < len(document.design.nodes)
    order = list(scene.node_items) + scene._pending  # drawn so far, then the order of the rest
    assert set(order[:len(in_view)]) == in_view  # every node in view before any other
    assert set(scene.node_items) == in_view  # the first paint waits for those and no other
    scene.finish_building()
    assert len(scene.node_items) == len(document.design.nodes)
    scene.detach()
    document.close()


def test_undo_of_a_delete_routes_no_edge_whose_ends_stayed_put(canvas, monkeypatch):
    from designer.canvas.items import EdgeItem
    document, scene = canvas
    routed = []
    original = EdgeItem.update_path
    monkeypatch.setattr(EdgeItem, "update_path", lambda self: (routed.append(self), original(self))[1])
    nodes = list(document.design.nodes)
    document.remove(nodes[10:30])
    document.undo_stack.undo()  # the same items back, where they were: no path made again
    assert not routed and set(scene.edge_items) == set(document.design.edges)
    document.remove(nodes[10:30])
    first = nodes[10]
    document.undo_stack.undo()
    document.move_nodes({first: (document.design.nodes[first].pos, (900.0, 900.0))})
    moved = {e for e in scene.edge_items.values() if first in (e.edge.src, e.edge.dst)}
    assert set(routed) == moved  # a move still routes the edges of the node it moved
    document.undo_stack.undo()  # the move
    document.remove(nodes[10:30])
    document.undo_stack.undo()  # put back after their node moved (by the undo before): routed
    assert all(item._ends == (*(lambda s, e: (s.x(), s.y(), e.x(), e.y()))(*item.endpoints()),)
               for item in scene.edge_items.values())
