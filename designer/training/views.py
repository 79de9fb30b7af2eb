"""The training views as one tabbed widget: curves, inside the network, kernel playground, runs."""
from __future__ import annotations

from PySide6.QtWidgets import QTabWidget

from .feature_maps import FeatureMapView
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
        self.addTab(self.feature_maps, "Inside the network")
        self.addTab(self.kernels, "Kernel playground")
        self.addTab(self.runs, "Runs")
