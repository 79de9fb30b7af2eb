"""What one parameter edit costs the window (issue 13: edit → repaint in a frame at 500 nodes):
one analysis, one frame, and only the widgets whose words changed. Counted, not timed (the
timings are bench/canvas.py's): relayouts asked of the window, the status bar and the
inspector; widgets repainted; the problems list rebuilt; work done by a panel out of sight."""
from __future__ import annotations

import pytest
from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtWidgets import QApplication

import designer.document as document_module
from engine import templates


class Events(QObject):
    """Layout requests and paints the application delivers, by receiver."""

    def __init__(self):
        super().__init__()
        self.layouts: list[QObject] = []
        self.paints: list[QObject] = []

    def eventFilter(self, watched, event) -> bool:  # noqa: N802 - Qt's name
        kind = event.type()
        if kind == QEvent.Type.LayoutRequest:
            self.layouts.append(watched)
        elif kind == QEvent.Type.Paint:
            self.paints.append(watched)
        return False

    def clear(self) -> None:
        self.layouts.clear()
        self.paints.clear()


@pytest.fixture
def edited(make_window, monkeypatch):
    """A shown window on ResNet-18 with a convolution selected, and an edit function that
    changes its channels (its output shape, counts and the totals change) and lets the
    window settle; returns the layout requests and paints it caused, and the analyses."""
    window = make_window(training=False)
    window.document.replace_design(templates.build("resnet18"))
    design = window.document.design
    conv = next(n.id for n in design.nodes.values() if n.block == "conv2d" and n.params["out_channels"] == 64)
    window.document.set_selection([conv])
    for _ in range(3):
        QApplication.processEvents()
    analyses = []
    original = document_module.analysis.analyze
    monkeypatch.setattr(document_module.analysis, "analyze", lambda d: analyses.append(d) or original(d))
    events = Events()
    QApplication.instance().installEventFilter(events)

    def edit(channels: int, **more) -> Events:
        events.clear()
        analyses.clear()
        window.document.set_params(conv, {"out_channels": channels, **more})
        for _ in range(3):
            QApplication.processEvents()
        return events
    edit(72)  # the first edit may size the status line for its new text
    yield window, conv, edit, analyses
    QApplication.instance().removeEventFilter(events)


def _inside(widget, ancestor) -> bool:
    return widget is ancestor or (hasattr(widget, "isWidgetType") and widget.isWidgetType()
                                  and ancestor.isAncestorOf(widget))


def test_an_edit_runs_one_analysis_and_lays_out_nothing_around_it(edited):
    window, conv, edit, analyses = edited
    events = edit(80)
    assert len(analyses) == 1
    body = window.inspector.widget()
    status = window.statusBar()
    asked = [w for w in events.layouts if w in (window, status, body)]
    assert asked == [], f"an edit made {[type(w).__name__ for w in asked]} lay out again"
    # ... and what the user reads is the new analysis
    report = window.document.report
    node = report.nodes[conv]
    assert window.inspector.report_label.values["output"].text() == "×".join(map(str, node.shape))
    assert window.inspector.report_label.values["parameters"].text() == f"{node.params:,}"
    assert f"{report.total_params:,} params" in window.totals_label.text()


def test_an_edit_repaints_the_values_that_changed_not_the_panels_around_them(edited):
    window, _conv, edit, _analyses = edited
    inspector = window.inspector
    events = edit(88)
    painted = set(map(id, events.paints))
    values = inspector.report_label.values
    assert id(values["output"]) in painted and id(window.totals_label) in painted
    assert id(values["receptive field"]) not in painted  # its text did not change
    assert inspector.help_label.isVisible() and id(inspector.help_label) not in painted  # no relayout under it
    unchanged = inspector.editors["groups"]  # another parameter: its box is not set again
    assert not any(_inside(w, unchanged) for w in events.paints)
    assert not any(_inside(w, window.batch_spin) for w in events.paints)  # the status line was not laid out


def test_the_problems_list_is_rebuilt_only_when_the_problems_change(edited):
    window, conv, edit, _analyses = edited
    panel = window.diagnostics
    inserted = []
    panel.list.model().rowsInserted.connect(lambda *_args: inserted.append(1))
    edit(96, groups=5)  # 3 input channels in 5 groups: a problem appears, and is listed
    listed = [panel.list.item(i).text() for i in range(panel.count)]
    assert inserted and listed and not panel.summary.text().startswith("✔")
    inserted.clear()
    edit(100, groups=5)  # the same problem, the same words: the list stays as it is
    assert inserted == [] and [panel.list.item(i).text() for i in range(panel.count)] == listed
    edit(96, groups=1)  # fixed: the list empties
    assert panel.count == 0 and panel.summary.text().startswith("✔")


def test_an_inspector_out_of_sight_catches_up_when_shown(edited):
    window, conv, edit, _analyses = edited
    dock = window.docks["Inspector"]
    values = window.inspector.report_label.values
    before = values["output"].text()
    dock.hide()
    edit(104)
    assert values["output"].text() == before  # nothing done for no one to see
    assert window.inspector.editors["out_channels"].spin.value() != 104
    dock.show()
    QApplication.processEvents()
    assert "104" in values["output"].text()
    assert window.inspector.editors["out_channels"].spin.value() == 104


def test_the_layer_summary_draws_what_is_in_sight_and_the_rest_when_shown(edited):
    window, conv, edit, _analyses = edited
    panel = window.summary
    window.docks["Layer summary"].show()
    chart = panel.plots["params"]
    panel.tabs.setCurrentWidget(chart)
    chart.ensure_built()
    panel.refresh()
    drawn = chart.value_texts()
    panel.tabs.setCurrentIndex(0)  # the table in front, the charts behind it
    edit(160)
    panel.refresh()  # (its timer's work)
    name = window.document.design.nodes[conv].name
    row = next(r for r in range(panel.table.rowCount()) if panel.table.item(r, 0).text() == name)
    params = window.document.report.nodes[conv].params
    assert panel.table.item(row, 3).text() == f"{params:,}"  # the table in sight shows the edit
    assert chart.value_texts() == drawn  # the chart behind it waits
    panel.tabs.setCurrentWidget(chart)
    assert chart.value_texts() != drawn and any(t for t in chart.value_texts())
    edit(176)
    panel.refresh()  # now the table waits, until its tab is chosen
    assert panel.table.item(row, 3).text() == f"{params:,}"
    panel.tabs.setCurrentIndex(0)
    assert panel.table.item(row, 3).text() == f"{window.document.report.nodes[conv].params:,}"


def test_analysis_rows_wider_than_the_inspector_scroll_and_give_the_width_back(edited):
    """The rows are placed by hand (no relayout per edit) but the inspector still hears when
    their values need more width than it has, and when they need less again."""
    window, _conv, edit, _analyses = edited
    window.resizeDocks([window.docks["Inspector"]], [120], Qt.Orientation.Horizontal)
    QApplication.processEvents()
    rows = window.inspector.report_label
    for channels in (60000, 50000, 8, 60000, 64):  # (the same width twice, then narrower)
        edit(channels)
        need = rows.minimumSizeHint().width()
        assert need > window.inspector.viewport().width()  # narrow: the rows overflow
        assert rows.width() == need, channels  # as wide as they need: no more, no less
