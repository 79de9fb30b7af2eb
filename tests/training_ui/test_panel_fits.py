"""The training panel on one screen, and the user's own data in it (issue 15 items 1 and 2):
Start and the live status in view at 1440×900; Image folder… and CSV… through the file dialog;
the mosaic or feature table, the class balance and the engine's fit check; recent datasets
remembered; a download's progress; bad input named without losing the choice."""
from __future__ import annotations

import threading

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QPoint, QRect, QSettings
from PySide6.QtWidgets import QFileDialog

from .conftest import small_cnn


def _visible_in_scroll(panel, widget) -> bool:
    viewport = panel.scroll.viewport()
    top_left = widget.mapTo(viewport, QPoint(0, 0))
    return viewport.rect().contains(QRect(top_left, widget.size()))


def _problem_texts(panel) -> list[str]:
    texts = []
    for i in range(panel.problems.count()):
        item = panel.problems.itemAt(i)
        widgets = [item.widget()] if item.widget() else [item.layout().itemAt(j).widget()
                                                          for j in range(item.layout().count())]
        texts += [w.text() for w in widgets if w is not None and hasattr(w, "text")]
    return texts


def _image_folder(root, per_class=5, size=8):
    for c, (name, value) in enumerate((("cat", 30), ("dog", 220))):
        (root / name).mkdir(parents=True)
        for i in range(per_class + c * 3):  # 5 cats, 8 dogs: an unbalanced set
            Image.fromarray(np.full((size, size), value + i, np.uint8)).save(root / name / f"{i}.png")
    return root


def _table(path, rows=30, text_at=None):
    lines = ["a,b,c,label"]
    for i in range(rows):
        b = "oops" if i == text_at else f"{i * 0.1:.2f}"
        lines.append(f"{i},{b},{-i},{'yes' if i % 2 else 'no'}")
    path.write_text("\n".join(lines) + "\n")
    return path


def _choose(qtbot, controller, data):
    panel = controller.panel
    panel.dataset.setCurrentIndex(panel.dataset.findData(data))
    qtbot.waitUntil(lambda: not controller.dataset_loading(), timeout=60_000)


def test_start_and_status_are_in_view_at_1440x900(qtbot, tmp_path, no_leaked_threads):
    from designer.document import Document
    from designer.main_window import MainWindow
    from designer.training.dataset_chooser import PICK_CSV

    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    window = MainWindow(Document(small_cnn()), settings=settings, recovery_path=tmp_path / "recovery.json")
    qtbot.addWidget(window)
    window.show()
    assert (window.width(), window.height()) == (1440, 900)
    window.docks["Training"].raise_()
    controller, panel = window.training, window.training.panel
    qtbot.waitUntil(lambda: controller.bundle is not None and not controller.dataset_loading(), timeout=60_000)
    qtbot.wait(100)  # the dock's first-start width is given once the window is laid out
    assert not panel.advanced.isVisible(), "the rarely changed settings start folded"
    for widget in (panel.start_button, panel.status, panel.progress, panel.dataset, panel.epochs):
        assert _visible_in_scroll(panel, widget), f"{widget} needs scrolling at 1440×900"
    _choose(qtbot, controller, "volumes")  # two problems under the samples: still in view
    assert len(_problem_texts(panel)) >= 2
    assert _visible_in_scroll(panel, panel.start_button) and _visible_in_scroll(panel, panel.status)
    assert panel.dataset.findData(PICK_CSV) >= 0
    panel.advanced_button.click()
    assert panel.advanced.isVisible() and panel.seed.isVisible() and panel.augment["random crop"].isVisible()
    window.document.undo_stack.setClean()
    controller.shutdown()


def test_an_image_folder_from_the_dialog_shows_samples_balance_and_fit(qtbot, training_app, tmp_path,
                                                                        monkeypatch):
    from designer.training.dataset_chooser import PICK_FOLDER

    controller, _ = training_app
    panel = controller.panel
    folder = _image_folder(tmp_path / "pets")
    asked = []
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: asked.append(a) or str(folder))
    _choose(qtbot, controller, PICK_FOLDER)
    assert asked and controller.bundle is not None and controller.bundle.classes == ["cat", "dog"]
    assert panel.dataset.currentData() == str(folder.resolve()) and panel.dataset.recent() == [str(folder.resolve())]
    assert panel.view.stack.currentWidget() is panel.view.samples
    counts = panel.view.balance.counts()  # from the labels, no image decoded for it
    train_labels = [controller.bundle.train.dataset.labels[i] for i in controller.bundle.train.indices]
    assert counts == [train_labels.count(0), train_labels.count(1)] and sum(counts) == len(controller.bundle.train)
    texts = _problem_texts(panel)  # the engine's check: 10 outputs for 2 classes
    assert any("outputs 10 score(s) but the dataset has 2 classes" in t for t in texts)
    assert "Set class count" in texts
    assert "2 classes" in panel.dataset_info.text()


def test_a_csv_table_from_the_dialog_shows_its_first_rows_and_what_to_set(qtbot, training_app, tmp_path,
                                                                          monkeypatch):
    from designer.training.dataset_chooser import PICK_CSV

    controller, _ = training_app
    panel = controller.panel
    table = _table(tmp_path / "t.csv")
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(table), "CSV files (*.csv)"))
    _choose(qtbot, controller, PICK_CSV)
    assert controller.bundle.feature_names == ["a", "b", "c"]
    assert panel.view.stack.currentWidget() is panel.view.table
    shown = panel.view.table_text()
    assert shown[0] == ["a", "b", "c", "label"]
    x, y = controller.bundle.preview(8)
    first = shown[1]
    assert first[:3] == [f"{v:.4g}" for v in x[0]] and first[3] == controller.bundle.classes[int(y[0])]
    assert float(first[0]) == pytest.approx(float(first[1]) * 10, abs=0.01)  # the row's own values
    texts = _problem_texts(panel)
    assert any("the table has 3 feature column(s) but the design's Input is 1×8×8" in t for t in texts)
    panel.augment["random crop"].setChecked(True)  # a table takes no augmentation: greyed, left out
    assert not any(check.isEnabled() for check in panel.augment.values()) and panel.config().augment == {}
    assert panel.augment_caption.text() == "Augmentation (none for these samples)"
    panel.findChild(type(panel.start_button), "fix_input_features").click()
    assert list(controller.document.design.input_shape) == [3]


def test_a_cancelled_dialog_keeps_the_dataset_and_loads_nothing(qtbot, training_app, monkeypatch):
    from designer.training.dataset_chooser import PICK_FOLDER

    controller, _ = training_app
    panel = controller.panel
    bundle = controller.bundle
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: "")
    panel.dataset.setCurrentIndex(panel.dataset.findData(PICK_FOLDER))
    assert panel.dataset.currentData() == "digits" and not controller.dataset_loading()
    assert controller.bundle is bundle


def test_a_csv_with_a_text_column_is_named_and_the_choice_stays_offered(qtbot, training_app, tmp_path,
                                                                        monkeypatch):
    from designer.training.dataset_chooser import PICK_CSV

    controller, _ = training_app
    panel = controller.panel
    table = _table(tmp_path / "bad.csv", text_at=4)
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(table), ""))
    _choose(qtbot, controller, PICK_CSV)
    assert controller.bundle is None
    assert "line 6: the feature column 'b' holds the text 'oops'" in panel.error.text()
    assert panel.dataset.findData(str(table.resolve())) >= 0  # fixed in an editor, it is one click away
    table.write_text(table.read_text().replace("oops", "0.4"))
    _choose(qtbot, controller, "digits")
    _choose(qtbot, controller, str(table.resolve()))
    assert controller.bundle is not None and not panel.error.isVisible()


def test_recent_datasets_are_remembered_in_the_settings(qtbot, tmp_path):
    from designer.training.dataset_chooser import DatasetChooser

    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    folder = _image_folder(tmp_path / "pets")
    table = _table(tmp_path / "t.csv")
    first = DatasetChooser(settings)
    qtbot.addWidget(first)
    chosen = []
    first.chosen.connect(chosen.append)
    first.remember(str(folder))
    first.remember(str(table))
    first.remember(str(folder))
    assert chosen == [str(folder), str(table), str(folder)]
    again = DatasetChooser(settings)
    qtbot.addWidget(again)
    assert again.recent() == [str(folder), str(table)]
    assert again.findData(str(table)) >= 0 and again.currentData() == "digits"
    table.unlink()  # a file gone since is not offered
    assert DatasetChooser(settings).recent() == [str(folder)]


def test_a_download_shows_its_progress(qtbot, training_app, monkeypatch):
    from designer.training import controller as controller_module

    controller, _ = training_app
    panel = controller.panel
    digits = controller.bundle
    reported, release = threading.Event(), threading.Event()

    def downloading(name, *args, progress=None, **kwargs):
        progress(0.25, "downloading mnist: 2.5 of 9.9 MB")
        reported.set()
        assert release.wait(20)
        return digits

    monkeypatch.setattr(controller_module.datasets, "load", downloading)
    controller.choose_dataset("mnist")
    qtbot.waitUntil(lambda: panel.loading.format() == "downloading mnist: 2.5 of 9.9 MB", timeout=20_000)
    assert panel.loading.maximum() == 1000 and panel.loading.value() == 250
    release.set()
    qtbot.waitUntil(lambda: not controller.dataset_loading(), timeout=20_000)
    assert not panel.loading.isVisibleTo(panel)


def test_the_class_balance_follows_the_theme(qtbot):
    import pyqtgraph as pg
    from PySide6.QtGui import QColor

    from designer import theme as themes
    from designer.training.dataset_view import ClassBalance

    balance = ClassBalance()
    qtbot.addWidget(balance)
    balance.ensure_built()
    balance.show_counts([3, 5], ["a", "b"])
    try:
        for theme in (themes.DARK, themes.LIGHT):
            themes.apply_to_plots(theme)
            assert pg.mkBrush(balance.bars.opts["brush"]).color() == QColor(theme.selection)
            assert balance.plot.backgroundBrush().color() == QColor(themes.plot_background(theme))
    finally:
        themes.apply_to_plots(themes.current())


def test_a_folder_without_images_is_named_and_the_design_is_untouched(qtbot, training_app, tmp_path, monkeypatch):
    from designer.training.dataset_chooser import PICK_FOLDER

    controller, _ = training_app
    panel = controller.panel
    empty = tmp_path / "empty"
    (empty / "cat").mkdir(parents=True)
    (empty / "dog").mkdir()
    (empty / "dog" / "notes.txt").write_text("not an image")
    from engine.persistence import dumps

    design_before = dumps(controller.document.design)
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: str(empty))
    _choose(qtbot, controller, PICK_FOLDER)
    assert controller.bundle is None and "hold no images" in panel.error.text()
    assert "dog/notes.txt" in panel.error.text() and dumps(controller.document.design) == design_before


def test_a_conv3d_design_trains_on_the_volumes_in_the_app(qtbot, training_app):
    from engine import Design

    controller, _ = training_app
    panel = controller.panel
    voxnet = Design("voxnet", num_classes=3)
    voxnet.chain(("input", {"shape": [1, 16, 16, 16]}), ("conv3d", {"out_channels": 4, "kernel": 3, "padding": 1}),
                 "relu", ("maxpool3d", {"kernel": 2}), "flatten", ("linear", {"out_features": 3}), "output")
    controller.document.replace_design(voxnet)
    _choose(qtbot, controller, "volumes")
    assert controller.bundle.input_shape == (1, 16, 16, 16)
    assert _problem_texts(panel) == ["✓ the dataset fits the design"]
    assert "16 volumes" in panel.view.samples._title_text
    assert [name for name, check in panel.augment.items() if check.isEnabled()] == ["horizontal flip"]
    panel.epochs.setValue(1)
    panel.start_button.click()
    qtbot.waitUntil(lambda: controller.session is not None and not controller.session.is_running()
                    and panel.start_button.isEnabled(), timeout=120_000)
    assert controller.record.status == "finished", controller.record.message
