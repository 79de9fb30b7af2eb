"""The app keeps its runs where the command line does (runs/ here, or $ND_RUNS_DIR), so the run
table and `tensorboard --logdir runs/` see both; a folder it cannot write sends them to the
user's application data, never to the temporary folder."""
from __future__ import annotations

from designer.training import controller
from engine.training.run_folders import RUNS_ENV, default_runs_dir


def test_the_environment_names_the_folder(monkeypatch, tmp_path):
    monkeypatch.setenv(RUNS_ENV, str(tmp_path / "mine"))
    assert default_runs_dir() == tmp_path / "mine"
    assert controller.app_runs_dir() == (tmp_path / "mine").resolve()


def test_without_it_runs_go_to_runs_in_the_current_folder(monkeypatch, tmp_path):
    monkeypatch.delenv(RUNS_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    assert default_runs_dir().resolve() == (tmp_path / "runs").resolve()
    assert controller.app_runs_dir() == (tmp_path / "runs").resolve()


def test_a_folder_the_app_cannot_write_sends_runs_to_application_data(monkeypatch, tmp_path):
    monkeypatch.delenv(RUNS_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(controller.os, "access", lambda path, mode: False)
    monkeypatch.setattr(controller.QStandardPaths, "writableLocation", lambda where: str(tmp_path / "appdata"))
    assert controller.app_runs_dir() == tmp_path / "appdata" / "runs"
