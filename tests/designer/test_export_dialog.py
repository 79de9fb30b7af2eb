"""The Export and Import dialogs (offscreen Qt): a small trained model exported in the
background and verified, File ▸ Export… / Import… in the main window, the ONNX install hint."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from designer.export_dialog import ExportDialog, ExportSource
from engine import Design, compile_design
from engine.export import load_bundle, read_pt


def small_cnn() -> Design:
    d = Design("small cnn", num_classes=4)
    d.chain(("input", {"shape": [1, 8, 8]}), ("conv2d", {"out_channels": 4, "kernel": 3, "padding": 1}), "relu",
            ("maxpool2d", {"kernel": 2}), "flatten", ("linear", {"out_features": 4}), "output")
    return d


def trained_state(design: Design, steps: int = 5) -> dict:
    """A few SGD steps on random data: weights no fresh initialisation would give."""
    torch.manual_seed(1)
    model = compile_design(design)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
    for _ in range(steps):
        loss = nn.functional.cross_entropy(model(torch.randn(16, 1, 8, 8)), torch.randint(0, 4, (16,)))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


class TinyNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 3, 3, padding=1)
        self.fc = nn.Linear(3 * 8 * 8, 5)

    def forward(self, x):
        return self.fc(torch.flatten(torch.relu(self.conv(x)), 1))


def tiny_net() -> nn.Module:
    """A python:MODULE:FACTORY import target (used by the import test below)."""
    return TinyNet()


def sequential_net() -> nn.Module:
    """The same layers as a Sequential with nn.Flatten (how most course code writes it)."""
    return nn.Sequential(nn.Conv2d(1, 3, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(3 * 8 * 8, 5))


def _export(qtbot, dialog: ExportDialog, fmt: str, path) -> object:
    dialog.set_format(fmt)
    dialog.set_path(str(path))
    dialog.export_button.click()
    assert dialog.is_busy() or dialog.result is not None
    qtbot.waitUntil(lambda: not dialog.is_busy(), timeout=60_000)
    assert dialog.result is not None, dialog.status.text()
    return dialog.result


def test_the_dialog_exports_a_trained_model_as_bundle_and_python_and_shows_the_difference(qtbot, tmp_path,
                                                                                            shots_dir):
    design = small_cnn()
    state = trained_state(design)
    dialog = ExportDialog(ExportSource(design, state, "the trained weights of run test"))
    qtbot.addWidget(dialog)
    dialog.show()
    assert "trained weights of run test" in dialog.weights_label.text()
    assert dialog.format == "bundle"  # safetensors is the default
    progress_seen = []
    dialog.progress.valueChanged.connect(progress_seen.append)

    result = _export(qtbot, dialog, "bundle", tmp_path / "bundle")
    assert result.verified and result.max_abs_diff <= 1e-5
    assert "max |difference|" in dialog.status.text() and "verified" in dialog.status.text()
    assert str(tmp_path / "bundle" / "weights.safetensors") in dialog.status.text()
    assert progress_seen and max(progress_seen) == 100 and len(set(progress_seen)) > 2
    loaded_design, loaded = load_bundle(tmp_path / "bundle")
    assert set(loaded_design.nodes) == set(design.nodes)
    assert all(torch.equal(loaded[k], state[k]) for k in state), "the given weights, not fresh ones"

    result = _export(qtbot, dialog, "python", tmp_path / "model.py")
    assert result.verified and (tmp_path / "model.py").is_file() and (tmp_path / "model.pt").is_file()
    assert f"{result.max_abs_diff:.3g}" in dialog.status.text()
    assert all(torch.equal(read_pt(tmp_path / "model.pt")[k], state[k]) for k in state)
    assert dialog.grab().save(str(shots_dir / "export_dialog.png"))


def test_a_failed_export_is_a_message(qtbot, tmp_path):
    d = small_cnn()
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    dialog = ExportDialog(ExportSource(d, trained_state(d, 1), "some weights"))
    qtbot.addWidget(dialog)
    dialog.set_format("bundle")
    dialog.set_path(str(blocker / "inside"))  # a folder under a file cannot be made
    dialog.export_button.click()
    qtbot.waitUntil(lambda: not dialog.is_busy(), timeout=30_000)
    assert dialog.result is None and dialog.status.text().startswith("Export failed")
    assert dialog.export_button.isEnabled()


def test_onnx_is_disabled_with_an_install_hint_when_its_packages_are_missing(qtbot, monkeypatch):
    from PySide6.QtWidgets import QLabel

    import designer.export_dialog as export_dialog

    monkeypatch.setattr(export_dialog, "missing_onnx_packages", lambda: ["onnxscript"])
    dialog = ExportDialog(ExportSource(small_cnn(), None, "freshly initialised weights"))
    qtbot.addWidget(dialog)
    assert not dialog.format_buttons["onnx"].isEnabled()
    assert "pip install" in dialog.format_buttons["onnx"].toolTip()
    hint = dialog.findChild(QLabel, "onnx_hint")
    assert hint is not None and "onnxscript" in hint.text()
    dialog._set_busy(False)  # finishing an export must not re-enable it
    assert not dialog.format_buttons["onnx"].isEnabled() and dialog.format_buttons["pt2"].isEnabled()


def test_file_export_without_a_run_says_fresh_weights_and_file_import_opens_the_bundle(qtbot, window, tmp_path,
                                                                                       shots_dir):
    window.document.replace_design(small_cnn())
    assert {"export", "import"} <= set(window.actions_by_name)
    window.actions_by_name["export"].trigger()
    dialog = window.export_dialog
    assert "freshly initialised" in dialog.weights_label.text()
    result = _export(qtbot, dialog, "pt", tmp_path / "fresh.pt")
    assert result.verified
    dialog.close()

    # A bundle with trained weights, opened through File ▸ Import…
    other = small_cnn()
    other.name = "imported net"
    state = trained_state(other, 3)
    bundle_dialog = ExportDialog(ExportSource(other, state, "trained"))
    qtbot.addWidget(bundle_dialog)
    _export(qtbot, bundle_dialog, "bundle", tmp_path / "bundle")
    window.actions_by_name["import"].trigger()
    importer = window.import_dialog
    importer.bundle_path.setText(str(tmp_path / "bundle"))
    importer.import_button.click()
    qtbot.waitUntil(lambda: not importer.is_busy(), timeout=30_000)
    assert importer.outcome is not None, importer.status.text()
    assert "weights for" in importer.report.toPlainText() and importer.open_button.isEnabled()
    assert importer.grab().save(str(shots_dir / "import_dialog.png"))
    importer.open_button.click()
    assert window.document.design.name == "imported net"
    controller = window.training
    assert all(torch.equal(controller.trained_state[k], state[k]) for k in state)
    assert controller.initial_weights_path and "imported" in controller.weights_origin
    # Export… now exports the imported weights.
    window.actions_by_name["export"].trigger()
    assert "latest run" in window.export_dialog.weights_label.text() or \
        "weights" in window.export_dialog.weights_label.text()
    window.export_dialog.close()


@pytest.mark.parametrize("factory", ["tiny_net", "sequential_net"])
def test_importing_a_python_factory_shows_the_report_and_opens_it(qtbot, window, factory):
    window.actions_by_name["import"].trigger()
    importer = window.import_dialog
    importer.kinds["python"].setChecked(True)
    importer.factory.setText(f"tests.designer.test_export_dialog:{factory}")
    importer.input_shape.setText("1,8,8")
    importer.import_button.click()
    qtbot.waitUntil(lambda: not importer.is_busy(), timeout=30_000)
    outcome = importer.outcome
    assert outcome is not None, importer.status.text()
    assert outcome.complete and "0 opaque" in importer.report.toPlainText()
    importer.open_button.click()
    blocks = sorted(n.block for n in window.document.design.nodes.values())
    assert blocks.count("conv2d") == 1 and blocks.count("linear") == 1
    assert window.document.report.total_params == sum(p.numel() for p in tiny_net().parameters())


def test_an_import_that_fails_is_a_message(qtbot, window):
    window.actions_by_name["import"].trigger()
    importer = window.import_dialog
    importer.bundle_path.setText("/nonexistent/bundle")
    importer.import_button.click()
    qtbot.waitUntil(lambda: not importer.is_busy(), timeout=30_000)
    assert importer.outcome is None and importer.status.text().startswith("Cannot import")
    assert not importer.open_button.isEnabled()
    importer.close()


def test_the_dialog_shows_both_differences_with_their_tolerances_and_bakes_the_normalisation(qtbot, tmp_path,
                                                                                             shots_dir):
    """Issue 16: the verification as the command line prints it (absolute and relative, atol and
    rtol), and 'normalisation inside the model' for Python, ONNX and .pt2 when the run had one."""
    import types

    from designer.export_dialog import BAKE_FORMATS
    from engine.export import BAKE_FORMATS as ENGINE_BAKE_FORMATS
    assert BAKE_FORMATS == ENGINE_BAKE_FORMATS
    design = small_cnn()
    state = trained_state(design)
    data = {"name": "digits", "input_shape": [1, 8, 8], "classes": ["a", "b", "c", "d"], "mean": [0.3], "std": [0.2]}
    dialog = ExportDialog(ExportSource(design, state, "the trained weights of run test", data, {"normalize": True}))
    qtbot.addWidget(dialog)
    dialog.show()
    assert not dialog.bake.isEnabled()  # bundle: design + weights for the app, the README says how to normalise
    dialog.set_format("python")
    assert dialog.bake.isEnabled()
    dialog.bake.setChecked(True)
    result = _export(qtbot, dialog, "python", tmp_path / "m.py")
    text = dialog.status.text()
    assert result.verified
    for part in (f"max |difference| from the in-app model = {result.max_abs_diff:.3g}",
                 f"max relative difference = {result.max_rel_diff:.3g}", f"atol {result.tolerance:g}",
                 f"rtol {result.rtol:g}", "inside the model"):
        assert part in text, part
    module = types.ModuleType("m")
    exec((tmp_path / "m.py").read_text(), module.__dict__)
    net = module.build(str(tmp_path / "m.pt")).eval()
    model = compile_design(design)
    model.load_state_dict(state)
    x = torch.rand(3, 1, 8, 8)
    with torch.no_grad():
        assert torch.equal(net(x), model.eval()((x - torch.tensor([0.3]).view(1, -1, 1, 1))
                                                / torch.tensor([0.2]).view(1, -1, 1, 1)))
    assert dialog.grab().save(str(shots_dir / "export_dialog_baked.png"))
    dialog.set_format("bundle")
    assert not dialog.bake.isEnabled() and not dialog.bake.isChecked()
    # untrained weights: no normalisation to bake, and the export says so
    fresh = ExportDialog(ExportSource(design, None, "freshly initialised weights"))
    qtbot.addWidget(fresh)
    fresh.set_format("python")
    assert not fresh.bake.isEnabled()
    _export(qtbot, fresh, "pt", tmp_path / "fresh.pt")
    assert "untrained" in fresh.status.text() and "untrained" in (tmp_path / "fresh.README.md").read_text()
