"""Canvas actions on many nodes cost one step: one undo command, one analysis, one change
notification and at most one selection change per action, whatever it touches (issue 13);
a big design is drawn a slice at a time and ends up whole; Fit's cached rectangle stays right.
Functional checks only: the timings are bench/canvas.py's."""
from __future__ import annotations

import pytest
from PySide6.QtCore import QPointF
from PySide6.QtWidgets import QApplication

import designer.document as document_module
from designer.canvas import DesignScene
from designer.canvas.layout import layered_layout
from designer.document import Document
from engine.graph import Design


def _chain(length: int) -> Design:
    design = Design(f"chain of {length}", num_classes=10)
    steps = [("input", {"shape": [3, 16, 16]})]
    steps += [("conv2d", {"out_channels": 4, "padding": 1}) if i % 2 == 0 else "relu" for i in range(length - 4)]
    steps += ["flatten", ("linear", {"out_features": 10}), "output"]
    design.chain(*steps)
    for node_id, pos in layered_layout(design).items():
        design.move(node_id, pos)
    return design


class Counts:
    """Analyses run by the document, and its notifications, from the moment it is made."""

    def __init__(self, document: Document, monkeypatch):
        self.analyses = self.changed = 0
        self.selections: list[list[str]] = []
        original = document_module.analysis.analyze

        def counted(design):
            self.analyses += 1
            return original(design)
        monkeypatch.setattr(document_module.analysis, "analyze", counted)
        document.changed.connect(self._on_changed)
        document.selection_changed.connect(self.selections.append)

    def _on_changed(self):
        self.changed += 1

    def reset(self):
        self.analyses = self.changed = 0
        self.selections.clear()


@pytest.fixture
def canvas(qtbot, monkeypatch):
    document = Document()
    scene = DesignScene(document)
    document.replace_design(_chain(80))
    scene.finish_building()
    QApplication.processEvents()
    counts = Counts(document, monkeypatch)
    yield document, scene, counts
    scene.detach()
    document.close()


def test_deleting_every_selected_node_is_one_step_one_analysis_one_notification(canvas):
    document, scene, counts = canvas
    design = document.design
    nodes_before, edges_before = list(design.nodes), design.edges
    document.set_selection(list(design.nodes))
    QApplication.processEvents()
    counts.reset()
    assert document.remove(document.selection)
    QApplication.processEvents()
    assert not design.nodes and not design.edges
    assert not scene.node_items and not scene.edge_items
    assert document.undo_stack.count() == 1
    assert counts.analyses == 1
    assert counts.changed == 1
    assert counts.selections == [[]]  # told once, not once per node

    counts.reset()
    document.undo_stack.undo()
    QApplication.processEvents()
    assert list(design.nodes) == nodes_before and design.edges == edges_before  # in their order
    assert set(scene.node_items) == set(nodes_before) and set(scene.edge_items) == set(edges_before)
    assert (counts.analyses, counts.changed) == (1, 1)
    design.lint()

    document.undo_stack.redo()
    QApplication.processEvents()
    assert not design.nodes and not scene.node_items


def test_undo_puts_back_items_that_show_the_design(canvas):
    document, scene, _counts = canvas
    design = document.design
    some = list(design.nodes)[10:30]
    document.remove(some)
    document.undo_stack.undo()
    QApplication.processEvents()
    for edge, item in scene.edge_items.items():
        assert item.src is scene.node_items[edge.src] and item.dst is scene.node_items[edge.dst]
        assert item in item.src.edges and item in item.dst.edges
        start, end = item.endpoints()
        assert item.path().pointAtPercent(0) == start and item.path().pointAtPercent(1) == end
    for node_id, item in scene.node_items.items():
        assert (item.pos().x(), item.pos().y()) == design.nodes[node_id].pos


def test_delete_then_undo_of_a_part_keeps_the_rest_and_the_edge_order(canvas):
    document, _scene, _counts = canvas
    design = document.design
    edges_before = design.edges
    middle = list(design.nodes)[40]
    document.remove([middle])
    assert all(middle not in (e.src, e.dst) for e in design.edges)
    document.undo_stack.undo()
    assert design.edges == edges_before


def test_paste_and_layout_are_one_step_and_one_notification_each(canvas):
    document, scene, counts = canvas
    design = document.design
    payload = document.copy_payload(list(design.nodes))
    counts.reset()
    pasted = document.paste(payload)
    QApplication.processEvents()
    assert len(pasted) == 80 and len(design.nodes) == 160
    assert (document.undo_stack.count(), counts.analyses, counts.changed) == (1, 1, 1)
    assert counts.selections == [pasted]

    counts.reset()
    assert document.auto_layout()
    QApplication.processEvents()
    assert (document.undo_stack.count(), counts.changed) == (2, 1)
    assert counts.analyses <= 1  # the layout reads the shapes (where stages start); moves analyse nothing
    for item in scene.edge_items.values():  # every edge routed once, at the end, to where its ports are now
        start, end = item.endpoints()
        assert item.path().pointAtPercent(0) == start and item.path().pointAtPercent(1) == end


def test_cut_is_one_step(qtbot, make_window):
    window = make_window(training=False)
    window.document.replace_design(_chain(40))
    window.scene.finish_building()
    window.edits.select_all()
    before = window.document.undo_stack.count()
    assert window.edits.cut()
    assert not window.document.design.nodes
    assert window.document.undo_stack.count() == before + 1
    window.document.undo_stack.undo()
    assert len(window.document.design.nodes) == 40


def test_fit_rectangle_equals_the_items_bounding_rectangle_after_moves(canvas):
    document, scene, _counts = canvas
    assert scene.content_rect() == scene.itemsBoundingRect()
    first, last = list(document.design.nodes)[0], list(document.design.nodes)[-1]
    document.move_nodes({first: (document.design.nodes[first].pos, (-900.0, -700.0))})
    assert scene.content_rect() == scene.itemsBoundingRect()
    scene.node_items[last].setPos(QPointF(5000.0, 4000.0))  # a drag, before the document hears of it
    scene.node_items[last].moved()  # (the scene's mouseMoveEvent tells the nodes a drag moves)
    assert scene.content_rect() == scene.itemsBoundingRect()
    document.undo_stack.undo()
    document.set_params(list(document.design.nodes)[1], {"out_channels": 4096})  # wider labels
    QApplication.processEvents()
    assert scene.content_rect() == scene.itemsBoundingRect()


def test_a_big_design_is_drawn_a_slice_at_a_time_and_ends_up_whole(qtbot):
    document = Document()
    scene = DesignScene(document)
    design = _chain(1200)
    nodes, edges = set(design.nodes), set(design.edges)
    document.replace_design(design, take=True)
    assert scene.building and 0 < len(scene.node_items) < len(nodes)
    top = min(document.design.nodes[n].pos[1] for n in nodes)
    assert all(document.design.nodes[n].pos[1] == top for n in list(scene.node_items)[:1])  # from the top
    # Edits while it is being drawn: a node not drawn yet is deleted, another renamed.
    undrawn = [n for n in document.design.nodes if n not in scene.node_items]
    document.remove([undrawn[-1]])
    document.set_label(undrawn[-5], "renamed")
    document.set_selection([undrawn[-6]])
    qtbot.waitUntil(lambda: not scene.building, timeout=30000)
    QApplication.processEvents()
    assert set(scene.node_items) == set(document.design.nodes) == nodes - {undrawn[-1]}
    assert set(scene.edge_items) == set(document.design.edges)
    assert set(scene.edge_items) == {e for e in edges if undrawn[-1] not in (e.src, e.dst)}
    assert scene.node_items[undrawn[-5]].title == "renamed"
    assert scene.node_items[undrawn[-6]].isSelected()
    assert scene.content_rect() == scene.itemsBoundingRect()
    scene.detach()
    document.close()


def test_replace_design_takes_a_given_away_design_without_copying_its_nodes():
    document = Document()
    design = _chain(20)
    node = next(iter(design.nodes.values()))
    document.replace_design(design, take=True)
    assert document.design.nodes[node.id] is node
    kept = _chain(20)
    document.replace_design(kept)  # the caller keeps it: copied
    assert document.design.nodes[node.id] is not kept.nodes[node.id]
    document.close()


def test_compact_node_style_lays_the_design_out_again(make_window):
    window = make_window(training=False)
    window.document.replace_design(_chain(30))
    window.set_node_style("full")
    before = window.document.undo_stack.count()
    window.set_node_style("compact", relayout=True)
    design = window.document.design
    assert {n: design.nodes[n].pos for n in design.nodes} == layered_layout(design, None, "compact")
    assert window.document.undo_stack.count() == before + 1
    window.set_node_style("full", relayout=True)
    assert {n: design.nodes[n].pos for n in design.nodes} == layered_layout(design, None, "full")
