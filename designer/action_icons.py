"""The app's icon (resources/icons/network-designer.svg) and the toolbar's icons, drawn in code:
line icons in the palette's text colour (light and dark alike), Train green and Stop red so the
run controls are found at a glance. Drawn per size, so they are crisp at any device pixel ratio
and need no icon theme (most Windows and macOS machines and every offscreen test have none)."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QIcon, QPainter, QPainterPath, QPen, QPixmap, QPolygonF

APP_ICON_PATH = Path(__file__).resolve().parents[1] / "resources" / "icons" / "network-designer.svg"
SIZES = (16, 20, 24, 32, 40, 48)  # toolbar and menu sizes, at 1× and 2×
RUN_COLORS = {  # (light, dark): the canvas theme's ok and error colours
    "train": ("#1a8f41", "#3ddc84"),
    "stop": ("#d93025", "#ff6b5e"),
}


@lru_cache(maxsize=1)
def app_icon() -> QIcon:
    """The application's mark, from its SVG (PySide6-Essentials ships the SVG icon engine)."""
    return QIcon(str(APP_ICON_PATH))


DISABLED_COLOR = {False: "#b3bac4", True: "#555d68"}


def line_color(dark: bool) -> str:
    return "#d0d5dc" if dark else "#3b4656"


@lru_cache(maxsize=None)
def action_icon(kind: str, dark: bool) -> QIcon:
    """``kind``: new, open, save, undo, redo, fit, train, pause, stop, evaluate, export."""
    color = RUN_COLORS[kind][dark] if kind in RUN_COLORS else line_color(dark)
    icon = QIcon()
    for size in SIZES:
        icon.addPixmap(_drawn(kind, color, size))
        # Qt's own greying of a light icon on a dark toolbar looks enabled: a dimmed drawing instead.
        icon.addPixmap(_drawn(kind, DISABLED_COLOR[dark], size), QIcon.Mode.Disabled)
    return icon


def _drawn(kind: str, color: str, size: int) -> QPixmap:
    pixmap = QPixmap(size, size)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.scale(size / 24, size / 24)  # every drawing below is on a 24-unit grid
    pen = QPen(QColor(color), 2.0 if size >= 20 else 2.3, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap,
               Qt.PenJoinStyle.RoundJoin)
    painter.setPen(pen)
    painter.setBrush(Qt.BrushStyle.NoBrush)
    DRAWINGS[kind](painter, QColor(color))
    painter.end()
    return pixmap


def _lines(painter: QPainter, *polylines) -> None:
    for points in polylines:
        painter.drawPolyline(QPolygonF([QPointF(x, y) for x, y in points]))


def _fill(painter: QPainter, color: QColor, path: QPainterPath) -> None:
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(color)
    painter.drawPath(path)


def _new(p, _c):
    _lines(p, [(14, 3), (5.5, 3), (5.5, 21), (18.5, 21), (18.5, 7.5), (14, 3), (14, 7.5), (18.5, 7.5)])


def _open(p, _c):
    _lines(p, [(3, 19), (3, 5), (9, 5), (11, 7.5), (19, 7.5), (19, 10)], [(3, 19), (6.5, 10.5), (21.5, 10.5), (18, 19), (3, 19)])


def _save(p, _c):  # an arrow down into a tray; Export is the same tray with the arrow going out
    _lines(p, [(4, 14), (4, 20), (20, 20), (20, 14)], [(12, 3.5), (12, 14.5)], [(7.5, 10), (12, 14.5), (16.5, 10)])


def _export(p, _c):
    _lines(p, [(4, 14), (4, 20), (20, 20), (20, 14)], [(12, 15), (12, 3.5)], [(7.5, 8), (12, 3.5), (16.5, 8)])


def _undo(p, _c, mirror=False):
    path = QPainterPath(QPointF(6, 9))
    path.lineTo(14, 9)
    path.cubicTo(QPointF(21, 9), QPointF(21, 19), QPointF(14, 19))
    path.lineTo(9, 19)
    head = [(9.5, 4.5), (5, 9), (9.5, 13.5)]
    if mirror:
        p.translate(24, 0)
        p.scale(-1, 1)
    p.drawPath(path)
    _lines(p, head)


def _redo(p, c):
    _undo(p, c, mirror=True)


def _fit(p, _c):  # four corners around the content
    _lines(p, [(3, 8), (3, 3), (8, 3)], [(16, 3), (21, 3), (21, 8)], [(21, 16), (21, 21), (16, 21)],
           [(8, 21), (3, 21), (3, 16)])
    p.drawRoundedRect(QRectF(8, 8, 8, 8), 1.5, 1.5)


def _train(_p, c):
    path = QPainterPath()
    path.addPolygon(QPolygonF([QPointF(6.5, 3.5), QPointF(20.5, 12), QPointF(6.5, 20.5)]))
    path.closeSubpath()
    _fill(_p, c, path)


def _stop(p, c):
    path = QPainterPath()
    path.addRoundedRect(QRectF(5, 5, 14, 14), 2.5, 2.5)
    _fill(p, c, path)


def _pause(p, c):
    path = QPainterPath()
    path.addRoundedRect(QRectF(5.5, 4, 4.5, 16), 1.2, 1.2)
    path.addRoundedRect(QRectF(14, 4, 4.5, 16), 1.2, 1.2)
    _fill(p, c, path)


def _evaluate(p, _c):  # a target: how well the weights hit
    p.drawEllipse(QPointF(12, 12), 8.5, 8.5)
    p.drawEllipse(QPointF(12, 12), 4, 4)
    _lines(p, [(12, 12), (12, 12.01)])


DRAWINGS = {"new": _new, "open": _open, "save": _save, "export": _export, "undo": _undo, "redo": _redo,
            "fit": _fit, "train": _train, "stop": _stop, "pause": _pause, "evaluate": _evaluate}

__all__ = ["APP_ICON_PATH", "action_icon", "app_icon", "line_color"]
