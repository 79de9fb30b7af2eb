"""Gestures as a user makes them: drag a block from the palette, drag an edge between ports."""
from __future__ import annotations

from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent
from PySide6.QtWidgets import QApplication

from engine import persistence


def drop_from_palette(window, block: str, scene_pos: QPointF) -> str:
    """Drag the palette entry of ``block`` onto the canvas at ``scene_pos``; returns the new id."""
    item = window.palette_panel.item_for(block)
    assert item is not None, f"{block} is not in the palette"
    mime = window.palette_panel.tree.mimeData([item])
    viewport = window.view.viewport()
    pos = window.view.mapFromScene(scene_pos)
    before = set(window.document.design.nodes)
    enter = QDragEnterEvent(pos, Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                            Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(viewport, enter)
    move = QDragMoveEvent(pos, Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                          Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(viewport, move)
    drop = QDropEvent(QPointF(pos), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                      Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(viewport, drop)
    added = set(window.document.design.nodes) - before
    assert len(added) == 1, "the drop did not add exactly one block"
    return added.pop()


def drag_edge(qtbot, window, src_id: str, dst_id: str, dst_port: str = "in", during=None) -> None:
    """Press on the source's output port, move to the target's input port, release.
    ``during(window)`` runs while the mouse is held down (to look at greyed-out ports)."""
    scene, view = window.scene, window.view
    start = view.mapFromScene(scene.node_items[src_id].output.scenePos())
    end = view.mapFromScene(scene.node_items[dst_id].inputs[dst_port].scenePos())
    viewport = view.viewport()
    qtbot.mousePress(viewport, Qt.MouseButton.LeftButton, pos=start)
    qtbot.mouseMove(viewport, (start + end) / 2)
    qtbot.mouseMove(viewport, end)
    if during is not None:
        during(window)
    qtbot.mouseRelease(viewport, Qt.MouseButton.LeftButton, pos=end)


def settle(qtbot) -> None:
    """Let the debounced analysis run (it is scheduled on the next event-loop turn)."""
    qtbot.wait(1)
    QApplication.processEvents()


def snapshot(design) -> dict:
    return persistence.to_dict(design)
