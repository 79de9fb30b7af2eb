"""Datasets are prepared when training needs them (issue 13): opening a design whose input is
another size resizes only the preview's few samples; the run resizes the data in its own thread
and the next run or evaluation reuses that copy. Loads run one at a time and only the latest
choice is applied."""
import dataclasses
import threading

from engine import Design


def _classifier(input_shape, classes=10) -> Design:
    d = Design("imagenet-sized", num_classes=classes)
    d.chain(("input", {"shape": list(input_shape)}), ("conv2d", {"out_channels": 4, "kernel": 3, "padding": 1}),
            "relu", ("adaptive_avgpool2d", {"output_size": 1}), "flatten", ("linear", {"out_features": classes}),
            "output")
    return d


def test_opening_a_224_design_prepares_no_dataset(qtbot, training_app, monkeypatch):
    import engine.data
    from designer.training import controller as controller_module

    controller, _ = training_app
    calls = []
    real_adapt, real_load = engine.data.adapt, engine.data.load
    monkeypatch.setattr(engine.data, "adapt", lambda *a, **k: (calls.append("adapt"), real_adapt(*a, **k))[1])
    monkeypatch.setattr(engine.data, "load", lambda *a, **k: (calls.append("load"), real_load(*a, **k))[1])
    assert controller_module.datasets.adapt is not real_adapt  # the controller reaches the patched ones
    bundle = controller.bundle
    controller.document.replace_design(_classifier((3, 224, 224)))
    fm = controller.views.feature_maps
    # The preview's samples are resized (cheaply, off the UI thread) for the views that feed them.
    qtbot.waitUntil(lambda: len(fm.samples) and tuple(fm.samples.shape[1:]) == (3, 224, 224), timeout=20_000)
    qtbot.wait(100)
    assert calls == [], "opening a design prepared a dataset"
    assert controller.bundle is bundle and tuple(bundle.input_shape) == (1, 8, 8)
    assert controller._prepared is None
    warning = controller.panel.findChild(type(controller.panel.start_button), "fix_input_shape")
    assert warning is not None, "the size difference is said, with its one-click fix"
    # An export describes the data as a run would resize it, without resizing it.
    described = controller.describe_data((3, 224, 224))
    assert described["input_shape"] == [3, 224, 224] and len(described["mean"]) == len(described["std"]) == 3
    assert described["adapted_from"] == [1, 8, 8] and calls == []


def test_a_run_resizes_in_its_thread_and_the_next_run_reuses_it(qtbot, training_app, monkeypatch):
    import engine.data

    controller, _ = training_app
    threads = []
    real_adapt = engine.data.adapt
    monkeypatch.setattr(engine.data, "adapt",
                        lambda *a, **k: (threads.append(threading.current_thread()), real_adapt(*a, **k))[1])
    controller.document.replace_design(_classifier((1, 12, 12)))
    controller.panel.epochs.setValue(1)
    for run in range(2):
        controller.panel.start_button.click()
        session = controller.session
        qtbot.waitUntil(lambda s=session: not s.is_running() and controller.panel.start_button.isEnabled(),
                        timeout=60_000)
        assert controller.record.status == "finished", controller.record.message
    assert len(threads) == 1 and threads[0] is not threading.main_thread(), threads
    source, shape, prepared = controller._prepared
    assert source is controller.bundle and shape == (1, 12, 12) == tuple(prepared.input_shape)
    controller.evaluate()  # uses the run's copy: no third resize
    qtbot.waitUntil(lambda: "Validation accuracy" in controller.panel.status.text(), timeout=30_000)
    assert len(threads) == 1


def test_a_dataset_chosen_mid_load_waits_and_only_the_latest_is_applied(qtbot, training_app, monkeypatch):
    from designer.training import controller as controller_module

    controller, _ = training_app
    digits = controller.bundle
    gate = {name: threading.Event() for name in ("digits", "shapes", "signal")}
    started, active, most = [], [0], [0]
    lock = threading.Lock()

    def slow_load(name, *args, **kwargs):
        with lock:
            started.append(name)
            active[0] += 1
            most[0] = max(most[0], active[0])
        try:
            assert gate[name].wait(20), f"the test never released {name}"
            return dataclasses.replace(digits, name=name)
        finally:
            with lock:
                active[0] -= 1

    monkeypatch.setattr(controller_module.datasets, "load", slow_load)
    controller.choose_dataset("shapes")
    qtbot.waitUntil(lambda: started == ["shapes"], timeout=5000)
    controller.choose_dataset("digits")  # waits behind the running load…
    controller.choose_dataset("signal")  # …and is replaced by this one
    qtbot.wait(100)
    assert started == ["shapes"], "a second load started while one was running"
    gate["shapes"].set()
    gate["signal"].set()
    qtbot.waitUntil(lambda: not controller.dataset_loading(), timeout=20_000)
    assert started == ["shapes", "signal"] and most[0] == 1
    assert controller.bundle.name == "signal", "only the latest choice is applied"
    # Choosing again what is loading starts nothing more and keeps the running load's result.
    gate["shapes"].clear()
    controller.choose_dataset("shapes")
    qtbot.waitUntil(lambda: len(started) == 3, timeout=5000)
    controller.choose_dataset("digits")
    controller.choose_dataset("shapes")  # back to the one loading: the waiting digits is dropped
    gate["shapes"].set()
    qtbot.waitUntil(lambda: not controller.dataset_loading(), timeout=20_000)
    qtbot.wait(100)
    assert started == ["shapes", "signal", "shapes"] and controller.bundle.name == "shapes"
