"""The block palette: every catalog block grouped by category, a search field, drag to the
canvas or double-click to append after the selection."""
from __future__ import annotations

from html import escape

from PySide6.QtCore import QMimeData, Qt, Signal
from PySide6.QtWidgets import QAbstractItemView, QLineEdit, QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget

from engine import blocks

from .canvas.scene import BLOCK_MIME
from .icons import category_icon

KEY_ROLE = Qt.ItemDataRole.UserRole


def block_tooltip(spec) -> str:
    text = f"<b>{escape(spec.title)}</b> <span style='color:gray'>({spec.key})</span><br><i>{escape(spec.formula)}</i>"
    if spec.doc and spec.doc != spec.formula:
        text += f"<br>{escape(spec.doc)}"
    if spec.params:
        text += "<br>parameters: " + ", ".join(p.name for p in spec.params)
    return text


# Made only by the importer (it wraps a layer no block describes): nothing a user could configure.
IMPORT_ONLY = {"opaque"}


class _BlockTree(QTreeWidget):
    def mimeData(self, items):
        data = QMimeData()
        keys = [i.data(0, KEY_ROLE) for i in items if i.data(0, KEY_ROLE)]
        if keys:
            data.setData(BLOCK_MIME, keys[0].encode())
            data.setText(keys[0])
        return data

    def mimeTypes(self):
        return [BLOCK_MIME]


class PalettePanel(QWidget):
    block_activated = Signal(str)  # double-click / Enter: append this block after the selection

    def __init__(self, specs=None, parent=None):
        super().__init__(parent)
        self.search = QLineEdit(placeholderText="Search blocks (Ctrl+F)")
        self.search.setClearButtonEnabled(True)
        self.tree = _BlockTree()
        self.tree.setHeaderHidden(True)
        self.tree.setDragEnabled(True)
        self.tree.setDragDropMode(QAbstractItemView.DragDropMode.DragOnly)
        self.tree.setIndentation(14)
        self.tree.setUniformRowHeights(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.search)
        layout.addWidget(self.tree)
        self.categories: dict[str, QTreeWidgetItem] = {}
        self.set_blocks(blocks.catalog() if specs is None else specs)
        self.search.textChanged.connect(self.filter)
        self.search.returnPressed.connect(self._activate_first_visible)
        self.tree.itemActivated.connect(self._on_item_activated)

    def set_blocks(self, specs) -> None:
        """(Re)fill the tree; user-defined blocks of the open design join the Composite group."""
        self.tree.clear()
        self.categories.clear()
        for spec in specs:
            if spec.key in IMPORT_ONLY:
                continue
            parent = self.categories.get(spec.category)
            if parent is None:
                parent = QTreeWidgetItem([spec.category])
                parent.setIcon(0, category_icon(spec.category))
                parent.setFlags(Qt.ItemFlag.ItemIsEnabled)
                font = parent.font(0)
                font.setBold(True)
                parent.setFont(0, font)
                self.tree.addTopLevelItem(parent)
                self.categories[spec.category] = parent
            item = QTreeWidgetItem(parent, [spec.title])
            item.setData(0, KEY_ROLE, spec.key)
            item.setIcon(0, category_icon(spec.category))
            item.setToolTip(0, block_tooltip(spec))
            item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemIsDragEnabled)
        self.tree.expandAll()
        self.filter(self.search.text())

    def block_items(self) -> list[QTreeWidgetItem]:
        return [cat.child(i) for cat in self.categories.values() for i in range(cat.childCount())]

    def item_for(self, key: str) -> QTreeWidgetItem | None:
        return next((i for i in self.block_items() if i.data(0, KEY_ROLE) == key), None)

    def filter(self, text: str) -> None:
        words = text.lower().split()
        for cat in self.categories.values():
            visible = 0
            for i in range(cat.childCount()):
                item = cat.child(i)
                haystack = f"{item.text(0)} {item.data(0, KEY_ROLE)} {cat.text(0)} {item.toolTip(0)}".lower()
                hidden = not all(w in haystack for w in words)
                item.setHidden(hidden)
                visible += not hidden
            cat.setHidden(visible == 0)
            cat.setExpanded(True)

    def focus_search(self) -> None:
        self.search.setFocus()
        self.search.selectAll()

    def _on_item_activated(self, item, _column=0) -> None:
        key = item.data(0, KEY_ROLE)
        if key:
            self.block_activated.emit(key)

    def _activate_first_visible(self) -> None:
        for item in self.block_items():
            if not item.isHidden() and not item.parent().isHidden():
                self.block_activated.emit(item.data(0, KEY_ROLE))
                return
