"""Run comparison (issue 15 item 5): the runs table sorts numbers as numbers, lists runs made by
`main.py train` (also ones that appear while it watches), deletes exactly the chosen folder
after asking, opens a run's folder, and overlays the ticked and selected runs."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from designer.training import run_history
from designer.training.background import LatestOnly
from designer.training.run_history import AUTO_OVERLAYS, KEYS, RunHistoryView
from engine import Design
from engine.persistence import save
from engine.run_table import COLUMNS
from engine.runs import RunHistory
from tests.training_ui.conftest import small_cnn

ROOT = Path(__file__).resolve().parents[2]
SHOTS = os.environ.get("RUNS_SCREENSHOTS", "/tmp/runs15")


def tiny(name="net") -> Design:
    d = Design(name, num_classes=3)
    d.chain(("input", {"shape": [1, 8, 8]}), "flatten", ("linear", {"out_features": 3}), "output")
    return d


def saved_run(history: RunHistory, batch: int, best, lr=1e-3, name="net", seconds=1.0):
    """An app run saved in the history's folder: one epoch's points and a summary."""
    run = history.new_run(tiny(name), {"dataset": "digits", "optimizer": "sgd", "lr": lr, "batch_size": batch,
                                       "epochs": 1, "augment": {"hflip": True}})
    run.add_point("train_loss_epoch", 1, 0.5 + batch / 1e4)
    if best is not None:
        run.add_point("val_acc", 1, best)
        run.summary["best_val_accuracy"] = best
    run.summary.update({"epochs_done": 1, "seconds": seconds, "device": "cpu"})
    run.status = "finished"
    history.save(run)
    return run


@pytest.fixture
def watched(qtbot, tmp_path, no_leaked_threads):
    """(view, history, jobs) watching tmp_path/runs; the jobs are waited for at the end."""
    history = RunHistory(tmp_path / "runs")
    view = RunHistoryView()
    qtbot.addWidget(view)
    view.resize(1100, 360)
    view.show()  # the runs folder is looked at while the table is on screen
    jobs = LatestOnly()
    yield view, history, jobs
    view.timer.stop()
    jobs.wait_all()


def column_text(view, key):
    col = KEYS.index(key)
    return [view.model.index(r, col).data() for r in range(view.model.rowCount())]


def test_numeric_columns_sort_as_numbers(qtbot, watched):
    view, history, jobs = watched
    for batch, best in ((8, 0.9), (1024, 0.5), (64, None), (128, 0.85)):
        saved_run(history, batch, best)
    view.watch(history, jobs)
    qtbot.waitUntil(lambda: view.count() == 4, timeout=10_000)
    view.table.sortByColumn(KEYS.index("batch"), Qt.SortOrder.AscendingOrder)
    assert column_text(view, "batch") == ["8", "64", "128", "1024"]  # as text: 1024, 128, 64, 8
    chosen = view.run_ids_in_view_order()[1]
    view.select([chosen])
    view.table.sortByColumn(KEYS.index("batch"), Qt.SortOrder.DescendingOrder)
    assert column_text(view, "batch") == ["1024", "128", "64", "8"]
    assert view.selected_ids() == [chosen]  # the selection follows its run
    view.table.sortByColumn(KEYS.index("best_val"), Qt.SortOrder.DescendingOrder)
    assert column_text(view, "best_val") == ["90.0%", "85.0%", "50.0%", "—"]  # unknown last
    assert {k for k, _h, numeric in COLUMNS if numeric} >= {"lr", "batch", "epochs", "best_val", "final_loss",
                                                            "seconds", "started"}
    row = {key: view.model.index(0, i).data() for i, key in enumerate(KEYS)}
    assert row["augmentation"] == "hflip" and row["device"] == "cpu" and row["dataset"] == "digits"
    assert row["optimizer"] == "sgd" and row["lr"] == "0.001" and row["seconds"] == "1.0 s"


def test_a_run_from_the_command_line_appears_while_the_table_watches(qtbot, watched, tmp_path):
    view, history, jobs = watched
    view.watch(history, jobs)
    assert view.count() == 0
    assert view.timer.isActive()
    design = tmp_path / "small.json"
    save(small_cnn(), design)
    env = dict(os.environ, ND_RUNS_DIR=str(history.root))
    done = subprocess.run([sys.executable, "main.py", "train", str(design), "--dataset", "digits", "--epochs", "2",
                           "--quiet", "--threads", "1"], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    qtbot.waitUntil(lambda: view.count() == 1, timeout=15_000)  # found by the poll, no call needed
    (folder,) = [p for p in history.root.iterdir() if p.is_dir()]
    rows = [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines()]
    record = view.records[folder.name]
    assert record.folder == str(folder) and record.status == "finished"
    row = {key: view.model.index(0, i).data() for i, key in enumerate(KEYS)}
    assert row["run"] == folder.name and row["design"] == "small cnn" and row["epochs"] == "2"
    assert row["best_val"] == f"{max(r['val_accuracy'] for r in rows):.1%}"
    assert row["final_loss"] == f"{rows[-1]['train_loss']:.4g}"
    assert record.curves["val_acc"].y.tolist() == [r["val_accuracy"] for r in rows]
    view.select([folder.name])
    assert view.explain_button.isEnabled() and view.open_button.isEnabled()
    # Removed outside the app: gone from the table at the next look.
    import shutil
    shutil.rmtree(folder)
    qtbot.waitUntil(lambda: view.count() == 0, timeout=15_000)


def test_delete_asks_and_removes_exactly_the_selected_folder(qtbot, watched, monkeypatch):
    view, history, jobs = watched
    runs = [saved_run(history, b, 0.5) for b in (16, 32, 48)]
    outside = history.root.parent / "keep-me"
    outside.mkdir()
    (outside / "run.json").write_text("{}")
    view.watch(history, jobs)
    qtbot.waitUntil(lambda: view.count() == 3, timeout=10_000)
    victim = runs[1]
    view.select([victim.run_id])
    assert view.selected_ids() == [victim.run_id] and view.delete_button.isEnabled()

    monkeypatch.setattr(view, "confirm_delete", lambda records: False)  # the user says Cancel
    view.delete_button.click()
    assert all(Path(r.folder).is_dir() for r in runs) and view.count() == 3

    asked = []
    monkeypatch.setattr(view, "confirm_delete", lambda records: asked.append(records) or True)
    monkeypatch.setattr(run_history, "_move_to_trash", lambda path: False)  # no trash here: deleted
    view.delete_button.click()
    assert [r.run_id for r in asked[0]] == [victim.run_id]
    assert not Path(victim.folder).exists()
    assert [Path(r.folder).is_dir() for r in runs] == [True, False, True]
    assert outside.is_dir() and history.root.is_dir()
    assert view.count() == 2 and victim.run_id not in view.records
    assert "1 run(s)" in view.message.text()


def test_delete_moves_to_the_trash_where_there_is_one(qtbot, watched, monkeypatch, tmp_path):
    view, history, jobs = watched
    run = saved_run(history, 16, 0.5)
    view.watch(history, jobs)
    qtbot.waitUntil(lambda: view.count() == 1, timeout=10_000)
    trashed = []
    monkeypatch.setattr(run_history, "_move_to_trash", lambda path: trashed.append(path) or True)
    monkeypatch.setattr(view, "confirm_delete", lambda records: True)
    view.select([run.run_id])
    view.delete_selected()
    assert trashed == [str(Path(run.folder).resolve())] and view.count() == 0


def test_open_folder_opens_the_selected_runs_folder(qtbot, watched, monkeypatch):
    view, history, jobs = watched
    run = saved_run(history, 16, 0.5)
    view.watch(history, jobs)
    qtbot.waitUntil(lambda: view.count() == 1, timeout=10_000)
    opened = []
    monkeypatch.setattr(run_history.QDesktopServices, "openUrl", lambda url: opened.append(url.toLocalFile()))
    view.select([run.run_id])
    view.open_button.click()
    assert opened == [run.folder]


def test_overlay_is_the_ticked_and_the_selected_runs(qtbot, watched):
    view, history, jobs = watched
    runs = [history.new_run(tiny(), {"lr": 0.1}) for _ in range(AUTO_OVERLAYS + 3)]
    emitted = []
    view.selection_changed.connect(lambda: emitted.append(1))
    for run in runs:
        view.add_run(run)
    newest = [r.run_id for r in runs[-(AUTO_OVERLAYS + 1):]]
    assert [r.run_id for r in view.chosen_runs()] == newest  # oldest first, a bounded number
    view.select([runs[0].run_id])
    assert emitted, "selecting rows changes the overlay"
    assert [r.run_id for r in view.chosen_runs()] == [runs[0].run_id] + newest
    # Unticking a run the user ticked is kept when new runs come.
    col0 = view.model.index(view.run_ids_in_view_order().index(runs[-1].run_id), 0)
    view.model.setData(col0, Qt.CheckState.Unchecked.value, Qt.ItemDataRole.CheckStateRole)
    view.add_run(history.new_run(tiny(), {"lr": 0.1}))
    assert runs[-1].run_id not in [r.run_id for r in view.chosen_runs()]
    # A click on a row's box ticks it (the box is drawn by the view's delegate).
    from PySide6.QtCore import QPoint
    view.show()
    row = view.run_ids_in_view_order().index(runs[1].run_id)
    rect = view.table.visualRect(view.model.index(row, 0))
    assert runs[1].run_id not in view.model.checked
    qtbot.mouseClick(view.table.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(rect.left() + 10, rect.center().y()))
    assert runs[1].run_id in view.model.checked


def test_screenshots_light_and_dark(qtbot, watched):
    from PySide6.QtWidgets import QApplication

    from designer import theme as themes
    view, history, jobs = watched
    for batch, best, lr in ((32, 0.912, 1e-3), (64, 0.874, 3e-3), (128, None, 0.01)):
        saved_run(history, batch, best, lr=lr, name="LeNet-5", seconds=batch * 1.7)
    view.watch(history, jobs)
    qtbot.waitUntil(lambda: view.count() == 3, timeout=10_000)
    view.show()
    view.model.set_checked(view.run_ids_in_view_order()[0], True)
    view.select([view.run_ids_in_view_order()[1]])
    os.makedirs(SHOTS, exist_ok=True)
    try:
        for mode in ("light", "dark"):
            themes.apply(QApplication.instance(), themes.current(mode == "dark"))
            qtbot.wait(50)
            assert view.grab().save(os.path.join(SHOTS, f"runs-{mode}.png"))
    finally:
        themes.apply(QApplication.instance(), themes.current(False))


def test_the_folder_is_not_read_while_the_table_is_hidden(qtbot, watched):
    view, history, jobs = watched
    saved_run(history, 16, 0.5)
    view.hide()
    view.watch(history, jobs)
    view.poll()
    qtbot.wait(300)
    assert view.count() == 0 and jobs.running_tag("runs folder") is None
    view.show()  # looked at as soon as it is shown
    qtbot.waitUntil(lambda: view.count() == 1, timeout=10_000)
