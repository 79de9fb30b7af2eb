"""Training in the app: the panel (data, settings, run control), live curves, feature maps and
other views inside the network, the kernel playground, and the run history.

``install(main_window, document)`` adds them to the designer's main window as two docks.
"""
from __future__ import annotations


def build_training_ui(document, runs_root=None, parent=None):
    """(panel, views, controller) for a document, not yet placed in any window."""
    from .controller import TrainingController
    from .panel import TrainingPanel
    from .views import TrainingViews

    panel = TrainingPanel(parent)
    views = TrainingViews(parent)
    controller = TrainingController(document, panel, views, runs_root=runs_root, parent=parent)
    return panel, views, controller


def install(window, runs_root=None):
    """Add the training panel and views to the designer's main window (its ``add_dock``
    extension point) and stop any run when the window closes or the app quits. Returns the
    controller."""
    import logging

    from PySide6.QtCore import QEvent, QObject, Qt, QTimer
    from PySide6.QtWidgets import QApplication

    try:
        panel, views, controller = build_training_ui(window.document, runs_root=runs_root, parent=window)
    except ImportError as exc:  # the designer must open even if the training engine is broken
        logging.getLogger(__name__).warning("training is unavailable: %s", exc)
        return None
    panel.use_settings(window.settings)  # recent datasets are remembered with the window's settings
    panel_dock = window.add_dock(panel, "Training", Qt.DockWidgetArea.RightDockWidgetArea)
    if "Inspector" in window.docks:  # a tab beside the inspector, which stays in front
        window.tabifyDockWidget(window.docks["Inspector"], panel_dock)
        window.docks["Inspector"].raise_()
    views_dock = window.add_dock(views, "Training views", Qt.DockWidgetArea.BottomDockWidgetArea)
    if "Layer summary" in window.docks:
        window.tabifyDockWidget(window.docks["Layer summary"], views_dock)
    if "Problems" in window.docks:
        window.docks["Problems"].raise_()
    panel.start_clicked.connect(views_dock.raise_)  # the curves come to the front when a run starts

    class _CloseWatcher(QObject):
        def eventFilter(self, obj, event):  # noqa: N802 - Qt's name
            if event.type() == QEvent.Type.Close:
                # The window may refuse to close (unsaved changes): stop only once it is gone.
                QTimer.singleShot(0, lambda: None if window.isVisible() else controller.shutdown())
            return False

    watcher = _CloseWatcher(window)
    window.installEventFilter(watcher)
    app = QApplication.instance()
    if app is not None:
        app.aboutToQuit.connect(controller.shutdown)
    controller._close_watcher = watcher
    return controller
