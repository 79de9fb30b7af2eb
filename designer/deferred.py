"""Plot widgets that cost nothing until they are first painted.

Importing pyqtgraph takes about half a second (it makes every Qt enum at import), and none of
the app's plots are in its first frame: they sit in docks and tabs that are not in front at
start. So each plot is a :class:`Deferred` widget that makes its pyqtgraph content when it is
first painted (or its content is asked for) and keeps what it was given to show until then.
``pg`` imports pyqtgraph on first use; the start-up warm-up (:mod:`designer.training.torch_runtime`)
imports it in the background once the window is up, so a first look at a plot only builds it.
``np`` does the same for numpy, which the panels need only once they have data to show.

First *painted*, not first shown: Qt shows every dock of a tabbed dock area, the ones behind
the front tab included, but paints only the front one.
"""
from __future__ import annotations

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QVBoxLayout, QWidget

from engine.blocks.lazy import LazyModule

pg = LazyModule("pyqtgraph")
np = LazyModule("numpy")


class Deferred(QWidget):
    """Subclasses make their content in :meth:`_build` (adding widgets to ``self.body``) and
    draw what they were given so far; :meth:`ensure_built` runs it once: on demand, or on the
    turn of the event loop after the widget's first paint (not during a paint: new child
    widgets would change the layout being painted)."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.body = QVBoxLayout(self)
        self.body.setContentsMargins(0, 0, 0, 0)
        self._built = self._build_scheduled = False

    @property
    def is_built(self) -> bool:
        return self._built

    def ensure_built(self) -> None:
        if not self._built:
            self._built = True
            self._build()

    def _build(self) -> None:
        raise NotImplementedError

    def paintEvent(self, event) -> None:
        if not self._built and not self._build_scheduled:
            self._build_scheduled = True
            QTimer.singleShot(0, self, self.ensure_built)
        super().paintEvent(event)


__all__ = ["Deferred", "np", "pg"]
