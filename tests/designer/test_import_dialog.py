"""File ▸ Import…: random or pretrained weights for a torchvision model or a module factory
(issue 16 item 2). The dialog says which it got; a missing hub file is a message naming where
it was looked for."""
from __future__ import annotations

import pytest
import torch
import torchvision


@pytest.fixture(scope="module")
def resnet18_file(tmp_path_factory):
    torch.manual_seed(5)
    model = torchvision.models.resnet18()
    path = tmp_path_factory.mktemp("weights") / "resnet18-f37072fd.pth"
    torch.save(model.state_dict(), path)
    return path, model


def _import(qtbot, window, name="resnet18", shape="3,32,32", pretrained=False, weights_file=""):
    window.actions_by_name["import"].trigger()
    importer = window.import_dialog
    importer.kinds["torchvision"].setChecked(True)
    importer.torchvision_name.setCurrentText(name)
    importer.input_shape.setText(shape)
    importer.pretrained.setChecked(pretrained)
    importer.weights_file.setText(weights_file)
    importer.import_button.click()
    qtbot.waitUntil(lambda: not importer.is_busy(), timeout=60_000)
    return importer


def test_pretrained_weights_from_a_file_are_said_and_kept(qtbot, window, resnet18_file, monkeypatch, tmp_path):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))  # an empty hub cache
    path, reference = resnet18_file
    importer = _import(qtbot, window, pretrained=True, weights_file=str(path))
    outcome = importer.outcome
    assert outcome is not None, importer.status.text()
    assert outcome.weights_origin == f"pretrained weights from {path}"
    assert f"with pretrained weights from {path}" in importer.status.text()
    assert f"weights: pretrained weights from {path}" in importer.report.toPlainText()
    conv = next(k for k in outcome.state if k.endswith("weight") and outcome.state[k].dim() == 4)
    assert torch.equal(outcome.state[conv], reference.conv1.weight)
    importer.open_button.click()
    assert "pretrained weights from" in window.training.weights_origin


def test_random_weights_are_said_and_a_missing_hub_file_is_a_message(qtbot, window, monkeypatch, tmp_path):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    importer = _import(qtbot, window)
    assert importer.outcome is not None, importer.status.text()
    assert "with random (untrained) weights" in importer.status.text()
    importer.close()
    importer = _import(qtbot, window, pretrained=True)
    expected = tmp_path / "torch" / "hub" / "checkpoints" / "resnet18-f37072fd.pth"
    assert importer.outcome is None and importer.status.text().startswith("Cannot import")
    assert str(expected) in importer.status.text() and "download.pytorch.org" in importer.status.text()
    assert not importer.open_button.isEnabled()
    importer.close()


def test_weights_choice_follows_the_source_kind(qtbot, window):
    window.actions_by_name["import"].trigger()
    importer = window.import_dialog
    importer.kinds["bundle"].setChecked(True)
    assert not importer.pretrained.isEnabled() and not importer.weights_file.isEnabled()
    importer.kinds["python"].setChecked(True)
    assert importer.pretrained.isEnabled() and not importer.weights_file.isEnabled()
    importer.pretrained.setChecked(True)
    assert importer.weights_file.isEnabled() and importer.browse_weights.isEnabled()
    importer.factory.setText("tests.designer.test_export_dialog:tiny_net")
    importer.import_button.click()  # a module's pretrained weights need a file: refused at once
    assert not importer.is_busy() and "weights file" in importer.status.text()
    importer.close()
