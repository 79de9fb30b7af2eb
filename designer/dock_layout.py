"""Room to work: where the docks go on a first start, the layout remembered across sessions,
View ▸ Reset layout, and a Problems dock that is one line until there is something to say.

The canvas comes first (MATLAB's Deep Network Designer: palette left, properties right,
nothing below until there is something to say). Bottom docks other than Problems start
hidden (View menu); the side docks share their corners so the bottom strip is only as wide as
the canvas.
"""
from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt, QTimer
from PySide6.QtWidgets import QDockWidget, QTabBar

PALETTE_WIDTH, INSPECTOR_WIDTH = 220, 300
PROBLEMS_MIN_OPEN = 110  # px: the Problems dock with a list shows at least a few rows
PROBLEMS_MAX_SHARE = 0.3  # of the window height
WATCHED_SHARE = 0.4  # of the window height: a bottom dock brought forward to watch a run, at least
GEOMETRY_KEY, STATE_KEY = "window/geometry", "window/state"
PROBLEMS_BY_HAND_KEY = "window/problems_sized_by_hand"
# Bumped when the first-start arrangement changes: a layout saved by an older version (Problems
# tabbed with the layer summary, a third of the height) is not restored; the new one is used.
LAYOUT_VERSION = 2

Area = Qt.DockWidgetArea
Corner = Qt.Corner


class DockLayout(QObject):
    """``window.docks`` by title; ``problems`` is the diagnostics panel inside docks["Problems"]."""

    def __init__(self, window, settings, problems_panel, parent=None):
        super().__init__(parent or window)
        self.window, self.settings, self.problems = window, settings, problems_panel
        self._default_state = None
        self._size_on_show = True  # a first start: the side docks get their widths once laid out
        self._height_at_press: int | None = None
        self._problems_count = 0
        self._room_given = False
        self.sized_by_hand = _as_bool(settings.value(PROBLEMS_BY_HAND_KEY, False))
        self._sweep = QTimer(self, singleShot=True, interval=0)
        self._sweep.timeout.connect(lambda: hide_stray_tab_bars(self.window))
        problems_panel.problems_changed.connect(self._on_problems_changed)
        window.installEventFilter(self)  # separator drags are the main window's own mouse events

    @property
    def problems_dock(self):
        return self.window.docks["Problems"]

    # -- first start, memory, reset --------------------------------------------------------
    def arrange_first_start(self) -> None:
        """Call once every dock is added, before the window is shown and before ``restore``."""
        w = self.window
        for corner in (Corner.TopLeftCorner, Corner.BottomLeftCorner):
            w.setCorner(corner, Area.LeftDockWidgetArea)
        for corner in (Corner.TopRightCorner, Corner.BottomRightCorner):
            w.setCorner(corner, Area.RightDockWidgetArea)
        for title, dock in w.docks.items():
            if w.dockWidgetArea(dock) == Area.BottomDockWidgetArea and title != "Problems":
                dock.hide()  # nothing below the canvas until it has something to say
        self._size_side_docks()
        self._default_state = w.saveState(LAYOUT_VERSION)
        for dock in w.docks.values():
            dock.visibilityChanged.connect(self._sweep.start)
            dock.dockLocationChanged.connect(self._sweep.start)

    def restore(self) -> bool:
        """The last session's geometry and dock layout; False on a first start."""
        w = self.window
        geometry, state = self.settings.value(GEOMETRY_KEY), self.settings.value(STATE_KEY)
        if geometry is not None:
            w.restoreGeometry(geometry)
        restored = state is not None and w.restoreState(state, LAYOUT_VERSION)
        if not restored:
            self.sized_by_hand = False
        self._size_on_show = not restored
        self._fit_problems_later()
        return bool(restored)

    def save(self) -> None:
        self.settings.setValue(GEOMETRY_KEY, self.window.saveGeometry())
        self.settings.setValue(STATE_KEY, self.window.saveState(LAYOUT_VERSION))
        self.settings.setValue(PROBLEMS_BY_HAND_KEY, self.sized_by_hand)

    def reset(self) -> None:
        """View ▸ Reset layout: the first-start layout, the Problems dock fitted again."""
        w = self.window
        if self._default_state is not None:
            w.restoreState(self._default_state, LAYOUT_VERSION)
        for dock in w.docks.values():
            if dock.isFloating():
                dock.setFloating(False)
        self.sized_by_hand = False
        self.settings.remove(PROBLEMS_BY_HAND_KEY)
        self._size_side_docks()
        self.fit_problems()
        self._sweep.start()

    def bring_forward_to_watch(self, dock) -> None:
        """Show and raise a bottom dock the user is about to watch (the training views when a run
        starts). The first time, it also gets at least ``WATCHED_SHARE`` of the window's height:
        in the 230 px Qt gave it at 1440×900 the curves were 40–60 px tall under their legends,
        with their axis labels on top of each other. Later a size the user chose is kept."""
        dock.show()
        dock.raise_()
        if not self._room_given:
            self._room_given = True
            QTimer.singleShot(0, self, lambda: self._give_room(dock))  # once the layout has placed it

    def _give_room(self, dock) -> None:
        want = int(self.window.height() * WATCHED_SHARE)
        if dock.isVisible() and not dock.isFloating() and dock.height() < want:
            self.window.resizeDocks([dock], [want], Qt.Orientation.Vertical)

    def _size_side_docks(self) -> None:
        w, docks = self.window, self.window.docks
        w.resizeDocks([docks["Blocks"], docks["Inspector"]], [PALETTE_WIDTH, INSPECTOR_WIDTH],
                      Qt.Orientation.Horizontal)

    # -- the Problems dock -----------------------------------------------------------------
    def problems_height(self) -> int:
        """One line with nothing to say; the list's rows (within limits) with problems."""
        dock, panel = self.problems_dock, self.problems
        line = dock.minimumSizeHint().height()
        if not self._problems_count:
            return line
        top = max(PROBLEMS_MIN_OPEN, int(self.window.height() * PROBLEMS_MAX_SHARE))
        wanted = _title_height(dock) + panel.list_height() + 8
        return max(PROBLEMS_MIN_OPEN, min(top, wanted))

    def fit_problems(self) -> None:
        dock = self.problems_dock
        if self.sized_by_hand or dock.isFloating() or not dock.isVisible():
            return
        self.window.resizeDocks([dock], [self.problems_height()], Qt.Orientation.Vertical)

    def _on_problems_changed(self, count: int) -> None:
        grew_or_shrank = bool(count) != bool(self._problems_count)
        self._problems_count = count
        if grew_or_shrank:
            # After the list shows or hides and the layout has taken the dock's new minimum.
            self._fit_problems_later()

    def _fit_problems_later(self) -> None:
        # After a restore the dock's minimum is known only once the layout has run.
        QTimer.singleShot(0, self, self.fit_problems)

    def eventFilter(self, watched, event) -> bool:
        if watched is self.window:
            kind = event.type()
            if kind == QEvent.Type.Show:
                if self._size_on_show:
                    # Sizes given before the first show are lost when the style changes
                    # (a theme chosen before showing): give them again once shown.
                    self._size_on_show = False
                    QTimer.singleShot(0, self, self._size_side_docks)
                    self._fit_problems_later()
                self._sweep.start()
            elif kind == QEvent.Type.MouseButtonPress and self.window.childAt(event.position().toPoint()) is None:
                self._height_at_press = self.problems_dock.height()
            elif kind == QEvent.Type.MouseButtonRelease and self._height_at_press is not None:
                if self.problems_dock.height() != self._height_at_press:
                    self.sized_by_hand = True  # the user dragged its edge: leave it where they put it
                self._height_at_press = None
        return False


def hide_stray_tab_bars(window) -> int:
    """Qt 6.11 leaves a copy of a dock tab bar behind when a second group of docks is tabified
    or a layout is restored: the copy stays where the group once was, over the canvas or a
    panel, and its tabs do nothing. The live bars are those Qt rewrites when a dock's title
    changes; every other bar that still shows tabs is hidden. Returns how many were hidden."""
    if not window.isVisible():
        return 0  # before the first layout the live bars still list hidden docks
    bars = [b for b in window.findChildren(QTabBar, "", Qt.FindChildOption.FindDirectChildrenOnly)
            if not b.isHidden() and b.count()]
    live = set()
    for dock in window.findChildren(QDockWidget, "", Qt.FindChildOption.FindDirectChildrenOnly):
        if dock.isHidden() or dock.isFloating() or not bars:
            continue
        title = dock.windowTitle()
        marker = title + "\u2060"  # an invisible word joiner: the bar Qt updates is the live one
        dock.setWindowTitle(marker)
        live.update(b for b in bars if any(b.tabText(i) == marker for i in range(b.count())))
        dock.setWindowTitle(title)
    stray = [b for b in bars if b not in live]
    for bar in stray:
        bar.hide()
    return len(stray)


def _title_height(dock) -> int:
    bar = dock.titleBarWidget()
    if bar is not None:
        return bar.sizeHint().height()
    return dock.style().pixelMetric(dock.style().PixelMetric.PM_TitleBarHeight, None, dock)


def _as_bool(value) -> bool:
    return value in (True, "true", "1", 1)
