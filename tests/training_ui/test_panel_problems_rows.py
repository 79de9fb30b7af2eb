"""The panel's dataset-vs-design rows are remade only when what they say changes (issue 13: the
check runs after every edit, and remaking its styled rows was a tenth of an edit on a big design)."""
from PySide6.QtCore import QEvent
from PySide6.QtWidgets import QApplication, QLabel, QPushButton

from designer import theme as themes
from engine.analysis import Diagnostic


def _problem():
    return Diagnostic("error", "num_classes", "the design outputs 10 scores but the dataset has 4 classes",
                      "set the classes to 4")


def test_rows_are_remade_only_when_what_they_say_changes(qtbot):
    from designer.training.panel import TrainingPanel
    panel = TrainingPanel()
    qtbot.addWidget(panel)
    panel.show_problems([_problem()])
    fix = panel.findChild(QPushButton, "fix_num_classes")
    assert fix is not None

    panel.show_problems([_problem()])  # an edit that changes nothing the check says (an equal copy)
    QApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)  # rows remade would be gone now
    assert panel.findChild(QPushButton, "fix_num_classes") is fix

    panel.show_problems([])  # fixed: the rows say so
    qtbot.waitUntil(lambda: panel.findChild(QPushButton, "fix_num_classes") is None)
    fits = panel.findChild(QLabel, "dataset_fits")
    assert fits is not None

    try:
        themes.apply(QApplication.instance(), themes.DARK)
        panel.show_problems([])  # another theme: made again in its colours
        qtbot.waitUntil(lambda: panel.findChild(QLabel, "dataset_fits") is not fits)
    finally:
        themes.apply(QApplication.instance(), themes.LIGHT)
