"""Whole networks readable on one screen: the layout and Fit (zoom targets at 1440×900), edges
that never run under a node (templates and opened blocks), the overview map, and diagnostics that
do not change when a block is opened or closed."""
from collections import Counter

import pytest
from PySide6.QtCore import QLineF, QPointF, QRectF, Qt
from PySide6.QtWidgets import QApplication, QWidget

from designer.canvas import CanvasView, DesignScene
from designer.canvas.layout import edge_path, layered_layout
from designer.document import Document
from engine import Design, templates
from engine.layout.node_style import node_size

from .helpers import settle

TARGETS = {"lenet5": 0.75, "resnet50": 0.5, "googlenet": 0.5}


def _load(window, name, **options):
    window.document.undo_stack.setClean()
    info = templates.info(name)
    assert window.files.new_from_template((name, info.default_input, info.default_classes, options))
    QApplication.processEvents()
    return window.document.design


def _boxes(scene) -> dict[str, QRectF]:
    width, height = node_size(scene.node_style)
    return {n: QRectF(item.pos().x(), item.pos().y(), width, height) for n, item in scene.node_items.items()}


def _samples(path, step: float = 3.0) -> list[QPointF]:
    count = max(int(path.length() / step), 8)
    return [path.pointAtPercent(path.percentAtLength(path.length() * i / count)) for i in range(count + 1)]


def _label_rect(path, text: str) -> QRectF:
    from designer.canvas.items import metrics  # the label's font, as the edge item draws it
    m = metrics("label")
    mid = path.pointAtPercent(0.5)
    w, h = m.horizontalAdvance(text) + 10, m.height() + 4
    return QRectF(mid.x() - w / 2, mid.y() - h / 2, w, h)


def _problems(scene, paths, only=None) -> list[str]:
    """Edges (drawn as ``paths``) that pass under a node, labels on a node, edges that cross."""
    boxes = _boxes(scene)
    problems = []
    lines = {}
    for edge, path in paths.items():
        if only is not None and not ({edge.src, edge.dst} & only):
            continue
        points = _samples(path)
        lines[edge] = [QLineF(a, b) for a, b in zip(points, points[1:])]
        inner = points[2:-2]  # the ends sit on the ports, on the boxes' edges
        for node_id, box in boxes.items():
            shrunk = box.adjusted(2, 2, -2, -2)
            if any(shrunk.contains(p) for p in inner):
                problems.append(f"{edge.src}→{edge.dst} runs under {node_id}")
            label = scene.edge_items[edge].label
            if label and _label_rect(path, label).intersects(shrunk):
                problems.append(f"the label of {edge.src}→{edge.dst} covers {node_id}")
    edges = list(lines)
    for i, a in enumerate(edges):
        for b in edges[i + 1:]:
            if {a.src, a.dst} & {b.src, b.dst}:
                continue  # edges that share a node meet at its port
            if any(la.intersects(lb)[0] == QLineF.IntersectionType.BoundedIntersection
                   for la in lines[a] for lb in lines[b]):
                problems.append(f"{a.src}→{a.dst} crosses {b.src}→{b.dst}")
    return problems


def _routed(scene) -> dict:
    """Each edge as the layout means it to be drawn (layout.edge_path between its ports)."""
    return {edge: edge_path(*item.endpoints()) for edge, item in scene.edge_items.items()}


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_fit_shows_whole_templates_readably_at_1440x900(qtbot, make_window, name):
    window = make_window(training=False)
    window.resize(1440, 900)
    _load(window, name)
    window.view.fit()
    QApplication.processEvents()
    visible = window.view.visible_scene_rect()
    assert all(visible.contains(i.sceneBoundingRect()) for i in window.scene.node_items.values())
    assert window.view.zoom == pytest.approx(window.view.fit_zoom())
    assert window.view.zoom >= TARGETS[name], f"{name} fits at {window.view.zoom:.0%}"


def _canvas(qtbot, width=1000, height=700):
    document = Document()
    scene = DesignScene(document)
    view = CanvasView(scene)
    host = QWidget()
    qtbot.addWidget(host)
    view.setParent(host)
    host.resize(width, height)
    view.resize(width, height)
    host.show()
    QApplication.processEvents()
    view.resize(width + (width - view.viewport().width()), height + (height - view.viewport().height()))
    QApplication.processEvents()
    assert (view.viewport().width(), view.viewport().height()) == (width, height)
    view.host = host  # the view lives as long as its window
    return document, scene, view


def _replace(document, design):
    for node_id, pos in layered_layout(design).items():
        design.move(node_id, pos)
    document.replace_design(design)
    QApplication.processEvents()


def test_fit_zoom_on_a_1000x700_canvas_meets_the_targets(qtbot):
    document, scene, view = _canvas(qtbot)
    for name, least in TARGETS.items():
        _replace(document, templates.build(name))
        view.fit()
        assert view.zoom >= least, f"{name}: {view.zoom:.0%}"
    scene.detach()


def test_readable_fit_of_a_huge_design_starts_at_the_top(qtbot):
    document, scene, view = _canvas(qtbot)
    d = Design()
    ids = d.chain(("input", {"shape": [3, 32, 32]}), *(["relu"] * 600), "output")
    _replace(document, d)
    view.fit(readable=True)
    assert view.zoom >= 0.5
    assert view.visible_scene_rect().contains(scene.node_items[ids[0]].sceneBoundingRect())
    view.fit()
    visible = view.visible_scene_rect()
    assert all(visible.contains(i.sceneBoundingRect()) for i in scene.node_items.values())
    scene.detach()


def test_templates_laid_out_without_overlaps_or_edges_under_nodes(qtbot, make_window):
    window = make_window(training=False)
    for name, options in (("lenet5", {}), ("resnet50", {}), ("googlenet", {"aux_heads": True})):
        _load(window, name, **options)
        settle(qtbot)
        boxes = list(_boxes(window.scene).values())
        assert not any(a.intersects(b) for i, a in enumerate(boxes) for b in boxes[i + 1:])
        assert _problems(window.scene, _routed(window.scene)) == [], name


def test_the_canvas_draws_edges_as_the_layout_routes_them(qtbot, make_window):
    window = make_window(training=False)
    _load(window, "resnet50")
    settle(qtbot)
    drawn = {edge: item.path() for edge, item in window.scene.edge_items.items()}
    assert _problems(window.scene, drawn) == []


def _open(window, node_id):
    inner = window.document.open_composite(node_id)
    QApplication.processEvents()
    return set(inner)


@pytest.mark.parametrize("template, block", [("resnet18", "layer1_0"), ("resnet18", "layer2_0"),
                                             ("resnet18", "layer3_1"), ("googlenet", "inception4a"),
                                             ("googlenet", "inception3a"), ("googlenet", "inception5b")])
def test_opened_blocks_have_no_crossings_and_visible_labels(qtbot, make_window, template, block):
    window = make_window(training=False)
    design = _load(window, template)
    inner = _open(window, block)
    settle(qtbot)
    scene = window.scene
    boxes = list(_boxes(scene).values())
    assert not any(a.intersects(b) for i, a in enumerate(boxes) for b in boxes[i + 1:])
    assert _problems(scene, _routed(scene), only=inner) == []
    assert all(item.label for edge, item in scene.edge_items.items() if edge.dst in inner)
    # The branches stand side by side in the order of the join's inputs.
    join = next(n for n in inner if design.nodes[n].block in ("add", "concat"))
    feeding = [e.src for e in design.edges if e.dst == join]
    xs = [design.nodes[n].pos[0] for n in feeding]
    assert xs == sorted(xs)


def test_opening_and_closing_keeps_diagnostics_and_positions(qtbot, make_window):
    window = make_window(training=False)
    design = _load(window, "resnet18")
    settle(qtbot)
    doc = window.document

    def diagnostics():
        report = doc.report
        return Counter((d.severity, d.code) for d in report.diagnostics), len(report.errors), len(report.warnings)
    before, positions = diagnostics(), {n: node.pos for n, node in design.nodes.items()}
    blocks = [n for n in design.nodes if design.spec(design.nodes[n].block).is_composite]
    assert "layer2_0" in blocks  # the 1×1 stride-2 projection shortcut on an even (56×56) input
    for block in blocks:
        assert doc.open_composite(block)
        settle(qtbot)
        assert diagnostics() == before, f"opening {block}"
        assert doc.close_composite(block)
        settle(qtbot)
        assert diagnostics() == before, f"closing {block}"
        assert {n: node.pos for n, node in design.nodes.items()} == positions, f"{block} left nodes moved"


def test_minimap_shows_the_view_and_dragging_it_pans(qtbot, make_window):
    window = make_window(training=False)
    _load(window, "resnet50")
    view, minimap = window.view, window.view.minimap
    view.fit()
    minimap.rebuild()
    assert not minimap.isVisible()  # the whole design is in view
    view.set_zoom(1.0)
    view.centerOn(0, 0)
    minimap.rebuild()
    QApplication.processEvents()
    assert minimap.isVisible()
    viewport = view.viewport().geometry()
    assert viewport.contains(minimap.geometry())  # in the canvas's corner
    assert minimap.geometry().right() > viewport.center().x() and minimap.geometry().bottom() > viewport.center().y()
    frame = minimap.view_rect()
    start_centre = view.visible_scene_rect().center()
    press = frame.center().toPoint()
    qtbot.mousePress(minimap, Qt.MouseButton.LeftButton, pos=press)
    for step in (10, 25, 40):
        qtbot.mouseMove(minimap, press + type(press)(step, step // 2))
    qtbot.mouseRelease(minimap, Qt.MouseButton.LeftButton, pos=press + type(press)(40, 20))
    moved = view.visible_scene_rect().center() - start_centre
    assert moved.x() > 100 and moved.y() > 50  # dragged right and down: the view followed
    assert minimap.view_rect().center().x() == pytest.approx(frame.center().x() + 40, abs=3)
    # A click elsewhere moves the view there.
    target = QPointF(minimap.width() - 12, minimap.height() - 12)
    qtbot.mouseClick(minimap, Qt.MouseButton.LeftButton, pos=target.toPoint())
    centre = minimap.to_map(view.visible_scene_rect().center())
    assert centre.x() > minimap.width() / 2 and centre.y() > minimap.height() / 2
    for mode in ("dark", "light"):  # both themes paint
        window.set_theme_mode(mode)
        minimap.rebuild()
        assert not minimap.grab().isNull()
