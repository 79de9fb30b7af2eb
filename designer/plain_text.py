"""User text shown as it is. Qt guesses rich text from a tag (``Qt::mightBeRichText``): a layer
named "a<b>c" would lose "<b>" and turn bold. Labels that show names are made plain, and tooltips
(always rich text) escape what they show."""
from __future__ import annotations

import html

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel


def plain_html(text: str) -> str:
    """``text`` for a tooltip, label or message box that shows it as it is: escaped and wrapped
    in a paragraph that keeps its line breaks."""
    return "<p style='white-space:pre-wrap'>" + html.escape(text) + "</p>"


def plain_label(text: str = "") -> QLabel:
    """A QLabel that shows ``text`` (and whatever is set later) as plain text."""
    label = QLabel(text)
    label.setTextFormat(Qt.TextFormat.PlainText)
    return label
