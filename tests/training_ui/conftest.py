"""Fixtures for the training UI: a document with a small CNN, the training panel and views
wired by the controller (the check that no QThread outlives its test is in tests/conftest.py)."""
import pytest

from engine import Design


def small_cnn(input_shape=(1, 8, 8), classes=10) -> Design:
    d = Design("small cnn", num_classes=classes)
    d.chain(("input", {"shape": list(input_shape)}), ("conv2d", {"out_channels": 8, "kernel": 3, "padding": 1}),
            "relu", ("maxpool2d", {"kernel": 2}), ("conv2d", {"out_channels": 16, "kernel": 3, "padding": 1}),
            "relu", "flatten", ("linear", {"out_features": classes}), "output")
    return d


@pytest.fixture(scope="module", autouse=True)
def _collect_on_ui_thread_only(ui_thread_collector):
    """As in the app: cycle collection on the UI thread only (designer/ui_collector.py)."""
    yield


@pytest.fixture
def training_app(qtbot, tmp_path, no_leaked_threads):
    """(controller, container widget): panel and views side by side on a small CNN design."""
    from PySide6.QtWidgets import QHBoxLayout, QWidget

    from designer.document import Document
    from designer.training import build_training_ui

    document = Document(small_cnn())
    container = QWidget()
    panel, views, controller = build_training_ui(document, runs_root=tmp_path / "runs", parent=container)
    layout = QHBoxLayout(container)
    layout.addWidget(panel, 1)
    layout.addWidget(views, 3)
    container.resize(1400, 820)
    qtbot.addWidget(container)
    container.show()
    # The dataset loads in a background thread (after torch's background import); the tests
    # start runs right away. A generous wait: on a loaded 2-core CI box this took over 30 s once.
    qtbot.waitUntil(lambda: controller.bundle is not None and not controller.dataset_loading(), timeout=120_000)
    yield controller, container
    controller.shutdown()
