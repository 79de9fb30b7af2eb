"""Summary bar charts read (issue 15 item 4): a value on each bar, layer names that fit under the
bars without touching (the tallest bars named first), the full name and value on hover."""
from engine import templates
from engine.analysis import analyze
from engine.summary import human


def _panel(qtbot, name, key, width=820):
    from designer.document import Document
    from designer.summary import SummaryPanel
    document = Document(templates.build(name))
    panel = SummaryPanel(document)
    qtbot.addWidget(panel)
    panel.resize(width, 420)
    panel.show()
    panel.tabs.setCurrentWidget(panel.plots[key])
    chart = panel.plots[key]
    chart.ensure_built()
    qtbot.wait(20)
    chart._place_names()
    return document, chart


def test_lenet5_bars_carry_their_values_and_every_named_layer(qtbot):
    document, chart = _panel(qtbot, "lenet5", "macs")
    report = analyze(document.design)
    rows = [report.nodes[i] for i in report.order if i in report.nodes]
    assert chart.value_texts() == [human(r.macs) for r in rows if r.macs]
    named = [name for _i, name in chart.name_ticks()]
    for layer in ("conv1", "conv2", "conv3", "fc1"):
        assert layer in named


def test_vgg16_names_never_crowd_and_the_biggest_layer_is_named(qtbot):
    _document, chart = _panel(qtbot, "vgg16", "params", width=600)
    ticks = chart.name_ticks()
    positions = [i for i, _name in ticks]
    label_px = 10 * 7 + 10
    assert len(ticks) * label_px <= chart.plot.width() - 80
    spacing = min(b - a for a, b in zip(positions, positions[1:]))
    assert spacing * (chart.plot.width() - 80) / len(chart._names) >= label_px * 0.99
    assert "fc6" in [name for _i, name in ticks]
    assert all(len(name) <= 10 for _i, name in ticks)
