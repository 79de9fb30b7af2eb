"""The training views as one tabbed widget: curves, health, inside the network, kernel playground,
runs, explain."""
from __future__ import annotations

from PySide6.QtWidgets import QTabWidget

from .explain_view import ExplainView
from .feature_maps import FeatureMapView
from .health_view import HealthView
from .kernel_playground import KernelPlayground
from .plots import CurvesView
from .run_history import RunHistoryView


class TrainingViews(QTabWidget):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.curves = CurvesView()
        self.feature_maps = FeatureMapView()
        self.kernels = KernelPlayground()
        self.runs = RunHistoryView()
        self.addTab(self.curves, "Curves")
        self.health = HealthView()  # its own tab: under the curves, the dock left neither readable
        self.addTab(self.health, "Health")
        self.addTab(self.feature_maps, "Inside the network")
        self.addTab(self.kernels, "Kernel playground")
        self.addTab(self.runs, "Runs")
        self.explain = ExplainView()
        self.addTab(self.explain, "Explain")

    def mark_health(self, problem: bool) -> None:
        """The Health tab says when the run's health raised a diagnostic (the Problems list names it)."""
        index = self.indexOf(self.health)
        self.setTabText(index, "Health ⚠" if problem else "Health")
        self.setTabToolTip(index, "Training health found a problem: see the Problems list" if problem else
                           "Each layer's gradient norm and dead ReLU units, sampled during training")
