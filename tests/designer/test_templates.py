"""Every template loads into the canvas: one item per node and edge, every label filled."""
import pytest

from engine import templates

from .helpers import settle, snapshot


@pytest.mark.parametrize("name", templates.names())
def test_template_loads_into_canvas(qtbot, make_window, name):
    window = make_window(training=False)  # the training preview's torch probes are not under test here
    info = templates.info(name)
    assert window.files.new_from_template((name, info.default_input, info.default_classes))
    settle(qtbot)
    design, scene = window.document.design, window.scene
    assert set(scene.node_items) == set(design.nodes)
    assert set(scene.edge_items) == set(design.edges)
    assert all(item.label and item.label != "?" for item in scene.edge_items.values())
    assert all(item.info.startswith("→") and not item.problem for item in scene.node_items.values())
    assert not window.isWindowModified()
    if info.reference_params:
        assert f"{info.reference_params:,}" in window.totals_label.text()
    # The canvas lays templates out top to bottom without overlapping nodes.
    rects = [item.sceneBoundingRect().adjusted(6, 12, -6, -6) for item in scene.node_items.values()]
    assert not any(a.intersects(b) for i, a in enumerate(rects) for b in rects[i + 1:])


def test_gallery_shows_count_for_chosen_input(qtbot):
    from designer.gallery import TemplateGallery

    gallery = TemplateGallery()
    qtbot.addWidget(gallery)
    names = [gallery.list.item(i).data(0x0100) for i in range(gallery.list.count())]
    assert names == templates.names()
    gallery.list.setCurrentRow(names.index("lenet5"))
    assert "61,706" in gallery.count.text()
    gallery.classes.setValue(2)
    assert "61,706" not in gallery.count.text()
    name, shape, classes, options = gallery.choice()
    assert (name, shape, classes) == ("lenet5", (1, 32, 32), 2)


def test_template_choice_from_prompt(qtbot, window, prompts):
    prompts.template_answer = ("resnet18", (3, 64, 64), 10, {})
    window.actions_by_name["template"].trigger()
    assert window.document.design.num_classes == 10
    assert snapshot(window.document.design)["design"]["name"]
