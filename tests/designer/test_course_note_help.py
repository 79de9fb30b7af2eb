"""The inspector shows a block's help with the course notes' slips about it, and a template's
design notes carry the slips about that network (issue 15 item 7)."""
from engine import templates
from engine.course_notes import slip


def _inspector(qtbot, design):
    from designer.document import Document
    from designer.inspector import InspectorPanel
    document = Document(design)
    panel = InspectorPanel(document)
    qtbot.addWidget(panel)
    panel.resize(360, 700)
    panel.show()
    return document, panel


def _plain(html: str) -> str:
    from PySide6.QtGui import QTextDocument
    doc = QTextDocument()
    doc.setHtml(html)
    return doc.toPlainText()


def test_selecting_a_block_shows_its_slips(qtbot):
    design = templates.build("lenet5")
    document, panel = _inspector(qtbot, design)
    for block, key in (("relu", "relu_positive"), ("conv2d", "dilation_field")):
        node = next(n for n in design.nodes.values() if n.block == block)
        document.set_selection([node.id])
        assert panel.help_label.isVisible()
        assert slip(key).explanation() in _plain(panel.help_label.text()).replace("\n", " ")
    pool = next(n for n in design.nodes.values() if n.block == "maxpool2d")
    document.set_selection([pool.id])
    assert "Course-notes slip" not in panel.help_label.text()


def test_a_templates_notes_show_its_slips_in_the_design_form(qtbot):
    document, panel = _inspector(qtbot, templates.build("googlenet"))
    document.set_selection([])
    notes = panel.notes_edit.toPlainText()
    assert slip("googlenet_params").explanation() in notes and slip("inception_reduction").explanation() in notes


def test_showing_a_blocks_help_opens_no_window_of_its_own(qtbot):
    """The help label was shown before it had a parent: a window of its own flashed on screen for
    a moment and took the main window's activation (its Ctrl+Z stopped working)."""
    from PySide6.QtCore import QEvent, QObject
    from PySide6.QtWidgets import QApplication

    class Shown(QObject):
        windows: list = []

        def eventFilter(self, obj, event):  # noqa: N802 - Qt's name
            if event.type() == QEvent.Type.Show and getattr(obj, "isWindow", lambda: False)():
                self.windows.append(type(obj).__name__)
            return False

    design = templates.build("lenet5")
    document, panel = _inspector(qtbot, design)
    spy = Shown()
    QApplication.instance().installEventFilter(spy)
    try:
        for node in design.nodes.values():
            document.set_selection([node.id])
    finally:
        QApplication.instance().removeEventFilter(spy)
    assert spy.windows == []
