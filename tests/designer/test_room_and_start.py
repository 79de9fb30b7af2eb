"""Room to work and a friendly start (issue 11, items 2 and 7): the canvas gets most of the
window on a first start, the Problems dock is one line until there are problems, the dock
layout is remembered and View ▸ Reset Layout brings the first-start one back; an empty window
shows a start page (a card per template, recent files) and an empty design a hint, not an error."""
from __future__ import annotations

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent
from PySide6.QtWidgets import QApplication, QTabBar

from engine import templates

from .helpers import settle


def load_template(qtbot, window, name: str = "lenet5") -> None:
    info = templates.info(name)
    assert window.files.new_from_template((name, info.default_input, info.default_classes))
    settle(qtbot)


def laid_out(qtbot) -> None:
    """Let the deferred layout work (first-start sizes, fitting the Problems dock) run."""
    for _ in range(3):
        qtbot.wait(5)
        QApplication.processEvents()


def canvas_share(window) -> float:
    view = window.view
    return view.width() * view.height() / (window.width() * window.height())


def problems_line(window) -> int:
    return window.diagnostics.title_bar.sizeHint().height()


def break_conv1(window) -> None:
    conv = next(n.id for n in window.document.design.nodes.values() if n.block == "conv2d")
    assert window.document.set_params(conv, {"kernel": 40})  # larger than the 32×32 input


# -- room to work ----------------------------------------------------------------------------
def test_canvas_gets_most_of_the_window_on_a_first_start(qtbot, make_window):
    window = make_window()  # with the training docks, as the app starts
    load_template(qtbot, window)
    laid_out(qtbot)
    assert (window.width(), window.height()) == (1440, 900)
    share_1440 = canvas_share(window)
    assert share_1440 >= 0.55, f"the canvas has {share_1440:.1%} of a 1440×900 window"
    assert window.docks["Blocks"].width() == pytest.approx(220, abs=12)
    assert window.docks["Inspector"].width() <= 345  # ~300; the Training tab beside it needs 340
    assert not window.docks["Layer summary"].isVisible()  # nothing below until there is something to say
    window.resize(1920, 1080)
    laid_out(qtbot)
    assert canvas_share(window) > share_1440 + 0.05


def test_problems_dock_is_one_line_grows_with_an_error_and_shrinks_back(qtbot, make_window):
    window = make_window(training=False)
    load_template(qtbot, window)
    laid_out(qtbot)
    dock = window.docks["Problems"]
    one_line = dock.height()
    assert one_line <= problems_line(window) + 4
    assert window.diagnostics.summary.text().startswith("✔ No problems")
    break_conv1(window)
    settle(qtbot)
    laid_out(qtbot)
    assert window.diagnostics.list.isVisible() and window.diagnostics.list.count() >= 1
    assert dock.height() >= one_line + 80, "the problems list has no room"
    assert dock.height() <= 0.31 * window.height()
    assert "error" in window.diagnostics.summary.text()
    window.document.undo_stack.undo()
    settle(qtbot)
    laid_out(qtbot)
    assert dock.height() == one_line
    assert not window.diagnostics.list.isVisible()


def _drag_separator_above(qtbot, window, dock, dy: int) -> None:
    """Drag the splitter line between the canvas and ``dock`` by ``dy`` pixels, as a user does."""
    top = dock.geometry().top()
    start = QPoint(dock.geometry().center().x(), top - 3)
    assert window.childAt(start) is None, "no separator there"
    qtbot.mousePress(window, Qt.MouseButton.LeftButton, pos=start)
    qtbot.mouseMove(window, start + QPoint(0, dy // 2))
    qtbot.wait(10)  # Qt moves the separator on a timer after each mouse move
    qtbot.mouseMove(window, start + QPoint(0, dy))
    qtbot.wait(10)
    qtbot.mouseRelease(window, Qt.MouseButton.LeftButton, pos=start + QPoint(0, dy))
    laid_out(qtbot)


def test_problems_dock_sized_by_hand_is_left_alone_until_reset(qtbot, make_window):
    window = make_window(training=False)
    load_template(qtbot, window)
    laid_out(qtbot)
    dock = window.docks["Problems"]
    one_line = dock.height()
    _drag_separator_above(qtbot, window, dock, -150)
    by_hand = dock.height()
    assert by_hand >= one_line + 100
    assert window.dock_layout.sized_by_hand
    break_conv1(window)
    settle(qtbot)
    laid_out(qtbot)
    window.document.undo_stack.undo()
    settle(qtbot)
    laid_out(qtbot)
    assert dock.height() == by_hand  # fixed problems do not fold the user's panel away
    window.actions_by_name["reset_layout"].trigger()
    laid_out(qtbot)
    assert not window.dock_layout.sized_by_hand
    assert dock.height() == one_line


def test_layout_is_restored_from_settings_and_reset_restores_the_first_start(qtbot, make_window):
    first = make_window(training=False)
    laid_out(qtbot)
    default_palette = first.docks["Blocks"].width()
    first.docks["Layer summary"].show()
    first.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, first.docks["Blocks"])  # the user moved it
    laid_out(qtbot)
    first.close()

    # (The offscreen screen is smaller than 1440×900, so restoreGeometry shrinks the window:
    # compare places, not pixels.)
    second = make_window(training=False)
    laid_out(qtbot)
    assert second.docks["Layer summary"].isVisible()
    assert second.dockWidgetArea(second.docks["Blocks"]) == Qt.DockWidgetArea.RightDockWidgetArea
    reset = second.actions_by_name["reset_layout"]
    assert reset in second.menus["View"].actions()
    reset.trigger()
    laid_out(qtbot)
    assert not second.docks["Layer summary"].isVisible()
    assert second.dockWidgetArea(second.docks["Blocks"]) == Qt.DockWidgetArea.LeftDockWidgetArea
    assert second.docks["Blocks"].width() == default_palette
    assert second.docks["Problems"].height() <= problems_line(second) + 4
    assert not visible_stray_tab_bars(second)


def test_a_layout_saved_by_an_older_version_gives_way_to_the_first_start(qtbot, make_window, settings):
    old = make_window(training=False)
    old.tabifyDockWidget(old.docks["Problems"], old.docks["Layer summary"])  # the old arrangement
    settings.setValue("window/state", old.saveState())  # version 0, as the old app saved it
    old.document.undo_stack.setClean()
    old.dock_layout.save = lambda: None  # closing must not overwrite the old state
    old.close()
    window = make_window(training=False)
    laid_out(qtbot)
    assert not window.docks["Layer summary"].isVisible()
    assert window.docks["Problems"].height() <= problems_line(window) + 4


def visible_stray_tab_bars(window) -> list:
    """Dock tab bars on screen that name a dock which is not shown (Qt leaves copies behind)."""
    shown = {d.windowTitle() for d in window.docks.values() if d.isVisible()}
    return [[b.tabText(i) for i in range(b.count())]
            for b in window.findChildren(QTabBar, "", Qt.FindChildOption.FindDirectChildrenOnly)
            if b.isVisible() and b.count() and b.geometry().bottom() > 0
            and any(b.tabText(i) not in shown for i in range(b.count()))]


def test_hidden_bottom_docks_leave_no_tab_bar_on_screen(qtbot, make_window):
    window = make_window()  # the training docks make the second tab group
    laid_out(qtbot)
    assert not visible_stray_tab_bars(window)
    window.docks["Training views"].show()
    window.docks["Layer summary"].show()
    laid_out(qtbot)
    assert not visible_stray_tab_bars(window)
    bars = [b for b in window.findChildren(QTabBar) if b.isVisible() and b.geometry().bottom() > 0]
    assert any({b.tabText(i) for i in range(b.count())} == {"Layer summary", "Training views"} for b in bars)


# -- a friendly start ------------------------------------------------------------------------
def test_start_page_has_a_card_per_template_and_a_card_opens_it(qtbot, make_window):
    window = make_window(training=False)
    page = window.start_page
    assert page.isVisible()
    assert [card.name for card in page.template_cards] == templates.names()
    qtbot.waitUntil(page.sketches_done, timeout=5000)
    for card in page.template_cards:
        assert card.sketch is not None and card.sketch.bars
        assert "params" in card.lines[0]
        assert "×".join(map(str, card.info.default_input)) in card.lines[1]
    resnet = next(c for c in page.template_cards if c.name == "resnet50")
    assert resnet.lines[0].startswith("25.6 M params")
    card = next(c for c in page.template_cards if c.name == "lenet5")
    qtbot.mouseClick(card, Qt.MouseButton.LeftButton)
    settle(qtbot)
    assert len(window.document.design.nodes) == len(templates.build("lenet5").nodes)
    assert not page.isVisible()
    assert not window.isWindowModified()
    window.actions_by_name["close"].trigger()  # File ▸ Close: back to the start page
    settle(qtbot)
    assert page.isVisible() and not window.document.design.nodes


def test_start_page_lists_recent_files_and_opens_them(qtbot, make_window, settings, tmp_path):
    from engine import persistence
    path = tmp_path / "mine.json"
    persistence.save(templates.build("lenet5"), path)
    settings.setValue("recent_files", [str(path)])
    window = make_window(training=False)
    page = window.start_page
    assert [link.property("path") for link in page.recent_links] == [str(path)]
    assert "mine.json" in page.recent_links[0].text()
    page.recent_links[0].linkActivated.emit("recent")
    qtbot.waitUntil(lambda: len(window.document.design.nodes) > 0, timeout=5000)
    assert not page.isVisible()


def test_empty_design_shows_a_hint_not_an_error(qtbot, make_window):
    window = make_window(training=False)
    settle(qtbot)
    status = window.totals_label.text()
    assert "error" not in status.lower() and "Drag an Input block" in status
    assert "Empty design" in window.diagnostics.summary.text()
    assert window.diagnostics.list.count() == 0
    qtbot.mouseClick(window.start_page.empty_card, Qt.MouseButton.LeftButton)  # New empty design
    laid_out(qtbot)
    assert not window.start_page.isVisible()
    assert window.canvas_hint.isVisible() and "Drag an Input block" in window.canvas_hint.text()
    assert window.docks["Problems"].height() <= problems_line(window) + 4
    window.document.add_node("input", {"shape": [1, 28, 28]})
    settle(qtbot)
    laid_out(qtbot)
    assert not window.canvas_hint.isVisible()


def test_a_block_dropped_on_the_start_page_lands_on_the_canvas(qtbot, make_window):
    window = make_window(training=False)
    page = window.start_page
    item = window.palette_panel.item_for("input")
    mime = window.palette_panel.tree.mimeData([item])
    pos = page.rect().center()
    for event in (QDragEnterEvent(pos, Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                                  Qt.KeyboardModifier.NoModifier),
                  QDragMoveEvent(pos, Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                                 Qt.KeyboardModifier.NoModifier),
                  QDropEvent(pos.toPointF(), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                             Qt.KeyboardModifier.NoModifier)):
        QApplication.sendEvent(page, event)
    settle(qtbot)
    assert [n.block for n in window.document.design.nodes.values()] == ["input"]
    assert not page.isVisible()


def test_template_names_show_the_year_once(qtbot):
    from designer.gallery import TemplateGallery, template_title
    from designer.start_page import TemplateCard

    gallery = TemplateGallery()
    qtbot.addWidget(gallery)
    texts = [gallery.list.item(i).text() for i in range(gallery.list.count())]
    assert texts == [template_title(info) for info in templates.catalog()]
    assert len(set(texts)) == len(texts)
    for info, text in zip(templates.catalog(), texts):
        assert info.title in text
        if info.year:
            assert text.count(str(info.year)) == 1, text
        card = TemplateCard(info)
        shown = " ".join([card.title, *card.lines])
        assert not info.year or shown.count(str(info.year)) == 1, shown
        card.deleteLater()
    assert "LeNet-5 (1998) (1998)" not in texts


def test_short_counts_and_sketches():
    from designer.start_page import short_count, sketch

    assert [short_count(n) for n in (950, 61706, 4231976, 25557032, 138357544)] == \
        ["950", "61.7 k", "4.23 M", "25.6 M", "138 M"]
    resnet = sketch("resnet50")
    assert resnet.params == 25557032
    assert {bar.category for bar in resnet.bars} >= {"Convolution", "Pooling", "Composite"}
    assert resnet.bars[0].size == 224 and resnet.bars[-1].dense


def test_the_inspector_totals_of_an_empty_design_show_no_errors(window):
    window.document.new()
    text = window.inspector.report_label.text()
    assert "0 errors, 0 warnings" in text
