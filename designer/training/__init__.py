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
