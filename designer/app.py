"""Start the designer: ``run(path_or_None) -> exit code`` (``python main.py [FILE]``)."""
from __future__ import annotations

import sys

from PySide6.QtCore import QCoreApplication, Qt, QTimer
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication

from .action_icons import app_icon
from .main_window import APP_NAME, MainWindow
from .ui_collector import collect_on_ui_thread


def make_application(argv=None) -> QApplication:
    app = QApplication.instance()
    if app is None:
        # Fractional scale factors (150 %) as they are, not rounded: crisp text on HiDPI screens.
        QGuiApplication.setHighDpiScaleFactorRoundingPolicy(Qt.HighDpiScaleFactorRoundingPolicy.PassThrough)
        app = QApplication(list(argv or sys.argv[:1]))
    QCoreApplication.setOrganizationName("network-designer")
    QCoreApplication.setApplicationName(APP_NAME)
    app.setWindowIcon(app_icon())  # every window's, and the taskbar's where the platform asks the app
    collect_on_ui_thread(app)  # never in a training or loading thread (see designer/ui_collector.py)
    return app


def run(path: str | None = None) -> int:
    app = make_application()
    window = MainWindow()
    window.setWindowIcon(app_icon())
    window.show()
    restored = window.files.offer_recovery()
    if path and not restored:
        window.files.open_path(path)
    QTimer.singleShot(0, lambda: window.view.fit(readable=True))
    return app.exec()
