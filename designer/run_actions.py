"""Run ▸ Train (F5), Pause, Stop, Evaluate: the training panel's run buttons as window actions
(the toolbar shows Train and Stop), calling the training controller's own methods.

The actions follow the panel's buttons, which the controller enables for the run's state
(:meth:`TrainingPanel.set_state`): Train only when no run is going, Pause and Stop only during
one. Training is no fun to miss, so starting a run, from here or from the panel's Start, brings
the Training panel and the Curves view to the front.
"""
from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QAction, QKeySequence


class RunActions(QObject):
    def __init__(self, window, controller):
        super().__init__(window)
        self.window, self.controller = window, controller
        panel = controller.panel
        self.train = self._action("train", "&Train", "F5", self._train, "train the design on the chosen dataset")
        self.pause = self._action("pause", "&Pause", None, self._toggle_pause, "pause the run, or resume it")
        self.stop = self._action("stop", "&Stop", "Shift+F5", controller.stop, "stop the run after this batch")
        self.evaluate = self._action("evaluate", "&Evaluate", None, controller.evaluate,
                                     "evaluate the last run's weights on the validation set")
        self._buttons = {self.train: panel.start_button, self.pause: panel.pause_button,
                         self.stop: panel.stop_button, self.evaluate: panel.evaluate_button}
        for button in self._buttons.values():
            button.installEventFilter(self)  # set_state enables and disables them
        panel.start_clicked.connect(self.bring_forward)  # the panel's own Start too
        panel.pause_clicked.connect(self.sync)  # connected after the controller: reads the new state
        controller.run_finished.connect(self._on_run_finished)  # a bound method: gone with this object
        self.sync()

    @property
    def actions(self) -> list[QAction]:
        return [self.train, self.pause, self.stop, self.evaluate]

    def _action(self, name: str, text: str, shortcut: str | None, slot, tip: str) -> QAction:
        action = QAction(text, self.window)
        if shortcut:
            action.setShortcut(QKeySequence(shortcut))
        action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        action.setStatusTip(tip)
        action.triggered.connect(lambda _checked=False: slot())
        return action

    # -- what the actions do ---------------------------------------------------------------
    def _train(self) -> None:
        self.controller.start()
        self.bring_forward()

    def _toggle_pause(self) -> None:
        self.controller.toggle_pause()
        self.sync()

    def bring_forward(self) -> None:
        """The live view in front: the Training panel (its progress and status) and the
        Curves tab of the training views."""
        panel = self.window.docks.get("Training")
        if panel is not None:
            panel.show()
            panel.raise_()
        views_dock = self.window.docks.get("Training views")
        if views_dock is not None:
            self.window.dock_layout.bring_forward_to_watch(views_dock)
        views = self.controller.views
        views.setCurrentWidget(views.curves)

    def open_sweep(self) -> None:
        """Run ▸ Sweep…: the dialog imports the engine's sweep, which imports torch: it opens
        once the background import is done, never blocking the UI thread on it."""
        from .training import torch_runtime

        if torch_runtime.loader().state != "ready":
            self.window.statusBar().showMessage("The Sweep dialog opens as soon as PyTorch has loaded…", 5000)
        torch_runtime.when_ready(self._show_sweep, self._no_sweep)

    def _show_sweep(self, _devices=None) -> None:
        from .training.sweep_dialog import open_sweep_dialog

        open_sweep_dialog(self.window)

    def _no_sweep(self, message: str) -> None:
        self.window.statusBar().showMessage(f"Sweeps need PyTorch, which could not be loaded: {message}", 10000)

    # -- following the run's state -----------------------------------------------------------
    def eventFilter(self, watched, event) -> bool:
        if event.type() == QEvent.Type.EnabledChange:
            self.sync()
        return False

    def _on_run_finished(self, _status: str) -> None:
        self.sync()

    def sync(self) -> None:
        for action, button in self._buttons.items():
            action.setEnabled(button.isEnabled())
        self.pause.setText("&Resume" if self.controller.panel.pause_button.text() == "Resume" else "&Pause")


def install_run_actions(window) -> RunActions | None:
    """A Run menu after View (none when the window has no training: canvas-only tests, or a
    broken torch). The actions are added to the window, so their shortcuts work everywhere in
    it, and to ``window.actions_by_name`` for the toolbar."""
    if getattr(window, "training", None) is None:
        return None
    run = RunActions(window, window.training)
    menu = window.menuBar().addMenu("&Run")
    window.menus["Run"] = menu
    for action, name in zip(run.actions, ("train", "pause", "stop", "evaluate")):
        if name == "evaluate":
            menu.addSeparator()
        menu.addAction(action)
        window.addAction(action)
        window.actions_by_name[name] = action
    menu.addSeparator()
    sweep = run._action("sweep", "S&weep…", None, run.open_sweep,
                        "train the design under several settings and compare the runs")
    menu.addAction(sweep)
    window.actions_by_name["sweep"] = sweep
    window.run_actions = run
    return run


__all__ = ["RunActions", "install_run_actions"]
