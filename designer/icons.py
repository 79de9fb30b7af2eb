"""Icons drawn in code (crisp at any device pixel ratio, coloured like the canvas categories)."""
from __future__ import annotations

from functools import lru_cache

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QFont, QIcon, QPainter, QPixmap

from .theme import CATEGORY_COLORS, CATEGORY_GLYPHS


@lru_cache(maxsize=None)
def category_icon(category: str) -> QIcon:
    icon = QIcon()
    for size in (16, 24, 32, 48):
        icon.addPixmap(_badge(size, CATEGORY_COLORS.get(category, "#888888"), CATEGORY_GLYPHS.get(category, "•")))
    return icon


@lru_cache(maxsize=None)
def severity_icon(severity: str) -> QIcon:
    color = "#d93025" if severity == "error" else "#e0a100"
    icon = QIcon()
    for size in (16, 32):
        icon.addPixmap(_badge(size, color, "!", round_=True))
    return icon


def _badge(size: int, color: str, glyph: str, round_: bool = False) -> QPixmap:
    pixmap = QPixmap(size, size)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(QColor(color))
    rect = QRectF(1, 1, size - 2, size - 2)
    if round_:
        painter.drawEllipse(rect)
    else:
        painter.drawRoundedRect(rect, size * 0.22, size * 0.22)
    font = QFont()
    font.setPixelSize(int(size * 0.68))
    font.setBold(True)
    painter.setFont(font)
    painter.setPen(QColor("#ffffff"))
    painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, glyph)
    painter.end()
    return pixmap
