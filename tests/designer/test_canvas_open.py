"""Opening a big design: the status bar says the UI thread is busy taking it in only when that
lasts (LARGE_DESIGN blocks and more); below, no message and no forced repaint of the bar."""
from __future__ import annotations

from designer.file_loading import LARGE_DESIGN, DesignLoader, LoadingIndicator


def test_the_drawing_message_shows_only_for_a_design_of_large_design_blocks(qtbot):
    assert LARGE_DESIGN > 2000  # a 2,000-block design is taken in within a few frames: no message
    indicator = LoadingIndicator(DesignLoader())
    qtbot.addWidget(indicator)
    indicator.show_building("chain.json", LARGE_DESIGN - 1)
    assert not indicator.isVisible()
    indicator.show_building("chain.json", LARGE_DESIGN)
    assert indicator.isVisible()
    assert indicator.label.text() == f"Drawing {LARGE_DESIGN:,} blocks of chain.json…"
