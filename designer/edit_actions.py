"""What the Edit menu does with the canvas selection: clipboard, delete, duplicate, group,
open/close composites, layout. Every change goes through the document."""
from __future__ import annotations

from PySide6.QtCore import QObject
from PySide6.QtGui import QGuiApplication


class EditActions(QObject):
    def __init__(self, window, document, scene, view, prompts):
        super().__init__(window)
        self.window, self.document, self.scene, self.view, self.prompts = window, document, scene, view, prompts
        self._paste_count = 0

    @property
    def selection(self) -> list[str]:
        return list(self.document.selection)

    def copy(self) -> bool:
        if not self.selection:
            return False
        QGuiApplication.clipboard().setText(self.document.copy_payload(self.selection))
        self._paste_count = 0
        return True

    def cut(self) -> bool:
        return self.copy() and self.delete()

    def paste(self) -> list[str]:
        text = QGuiApplication.clipboard().text()
        if not self.document.holds_blocks(text):
            return []
        self._paste_count += 1  # successive pastes cascade instead of stacking exactly
        step = 40.0 * self._paste_count
        return self.document.paste(text, offset=(step, step))

    def duplicate(self) -> list[str]:
        return self.document.duplicate(self.selection) if self.selection else []

    def delete(self) -> bool:
        return self.document.remove(self.selection, self.scene.selected_edges())

    def select_all(self) -> None:
        self.document.set_selection(list(self.document.design.nodes))

    def group(self) -> str | None:
        if len(self.selection) < 1:
            return None
        title = self.prompts.text(self.window, "Group into a block", "Name of the new block:", "My block")
        return self.document.group(self.selection, title) if title else None

    def toggle_composite(self, node_id: str | None = None) -> None:
        """Open the selected composite, or close the opened one the selection belongs to."""
        node_id = node_id or (self.selection[0] if len(self.selection) == 1 else None)
        if node_id is None:
            return
        owner = self.document.open_composite_containing(node_id)
        if owner is not None:
            self.document.close_composite(owner)
            return
        if self.document.design.spec(self.document.design.node(node_id).block).is_composite:
            self.document.open_composite(node_id)

    def layout(self, selection_only: bool = False) -> bool:
        ids = self.selection if selection_only and len(self.selection) > 1 else None
        done = self.document.auto_layout(ids, self.scene.node_style)
        if ids is None:
            self.view.fit(readable=True)
        return done

    def append_block(self, block: str) -> str | None:
        after = self.selection[-1] if self.selection else None
        node_id = self.document.append_block(block, after)
        item = self.scene.node_items.get(node_id) if node_id else None
        if item is not None:
            self.view.center_on_node(item)
        return node_id

    def on_node_activated(self, node_id: str) -> None:
        """Double-click: open a composite (or close the one it belongs to); else edit its name."""
        design = self.document.design
        if node_id in design.nodes and (design.spec(design.nodes[node_id].block).is_composite
                                        or self.document.open_composite_containing(node_id)):
            self.toggle_composite(node_id)
