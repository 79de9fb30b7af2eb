"""Evaluate in the panel is the trainer's own validation (same weights, same accuracy), and a
single-output design that the panel's loss cannot train is refused in the problems list, with
the one-click fix (offscreen Qt)."""
import torch

from engine.data import DatasetBundle, TensorSet, channel_stats


def _problem_texts(panel) -> list[str]:
    texts = []
    for i in range(panel.problems.count()):
        item = panel.problems.itemAt(i)
        widgets = [item.widget()] if item.widget() else [item.layout().itemAt(j).widget()
                                                          for j in range(item.layout().count())]
        texts += [w.text() for w in widgets if w is not None and hasattr(w, "text")]
    return texts


def _two_classes() -> DatasetBundle:
    g = torch.Generator().manual_seed(0)
    y = torch.randint(0, 2, (200,), generator=g)
    x = torch.rand(200, 1, 8, 8, generator=g) + y.view(-1, 1, 1, 1) * 0.5
    full = TensorSet(x, y)
    train, val = full.subset(range(150)), full.subset(range(150, 200))
    mean, std = channel_stats(train.x)
    return DatasetBundle("two", train, val, (1, 8, 8), ["a", "b"], mean, std, {"name": "two"})


def test_evaluate_reports_the_runs_last_validation_accuracy(qtbot, training_app):
    controller, _ = training_app
    panel = controller.panel
    panel.epochs.setValue(1)
    panel.start_button.click()
    qtbot.waitUntil(lambda: controller.session is not None and not controller.session.is_running()
                    and panel.start_button.isEnabled() and controller.trained_state is not None, timeout=60000)
    record = controller.record
    assert record.status == "finished", record.message
    last_val = record.curves["val_acc"].last()[1]
    panel.evaluate_button.click()
    qtbot.waitUntil(lambda: "Validation accuracy" in panel.status.text(), timeout=30000)
    assert abs(record.summary["evaluated_val_accuracy"] - last_val) < 1e-9


def test_a_single_output_with_cross_entropy_is_a_problem_with_its_fix(qtbot, training_app):
    controller, _ = training_app
    panel, document = controller.panel, controller.document
    controller.raw_bundle = controller.bundle = _two_classes()
    head = next(n for n, node in document.design.nodes.items() if node.block == "linear")
    document.set_params(head, {"out_features": 1})
    document.refresh()
    controller.recheck()
    qtbot.waitUntil(lambda: any("single output with cross-entropy" in t for t in _problem_texts(panel)),
                    timeout=10000)
    fix = panel.findChild(type(panel.start_button), "fix_num_classes")
    assert fix is not None and "give the last layer 2 outputs" in fix.toolTip()
    fix.click()
    assert dict(document.design.nodes[head].params)["out_features"] == 2
    qtbot.waitUntil(lambda: any("fits the design" in t for t in _problem_texts(panel)), timeout=10000)
