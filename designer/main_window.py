"""The main window: composition of the canvas, docks, menus, actions and status bar. The work
happens in the document, the scene, the panels and the File/Edit action objects.

Extension points for later panels (training, plots, feature maps): ``add_dock(widget, title)``,
``window.document`` (its ``design``, ``report_changed``) and ``window.selection_changed``.
"""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings, Qt, Signal
from PySide6.QtGui import QAction, QGuiApplication, QKeySequence
from PySide6.QtWidgets import QApplication, QDockWidget, QMainWindow, QMenu, QSpinBox

from . import theme as themes
from .canvas import CanvasView, DesignScene
from .diagnostics import DiagnosticsPanel
from .dialogs import Prompts
from .dock_layout import DockLayout
from .document import Document
from .edit_actions import EditActions
from .export_dialog import install_export_actions
from .file_actions import FileActions
from .file_loading import FileDrops, LoadingIndicator
from .files import AUTOSAVE_MS, default_recovery_path
from .help_menu import install_help_menu
from .inspector import InspectorPanel
from .palette import PalettePanel
from .plain_text import plain_html
from .run_actions import install_run_actions
from .start_page import EmptyCanvasHint, StartPage
from .status_totals import TotalsHolder, totals_text
from .summary import SummaryPanel
from .toolbar import install_toolbar
from .training import install as install_training

APP_NAME = "Network Designer"


class MainWindow(QMainWindow):
    selection_changed = Signal(list)  # node ids selected on the canvas

    def __init__(self, document: Document | None = None, settings: QSettings | None = None,
                 prompts: Prompts | None = None, recovery_path: Path | None = None,
                 autosave_ms: int = AUTOSAVE_MS, training: bool = True, parent=None):
        super().__init__(parent)
        self.setObjectName("MainWindow")
        self._closed = False
        self.document = document or Document(parent=self)
        self.settings = settings or QSettings()
        self.prompts = prompts or Prompts()
        self.theme_mode = str(self.settings.value("theme", "system"))
        self.theme = themes.current(None if self.theme_mode == "system" else self.theme_mode == "dark")
        self.scene = DesignScene(self.document, self.theme, self)
        self.view = CanvasView(self.scene)
        self.setCentralWidget(self.view)
        # Over the canvas while the design is untitled and empty: templates, recent files, a hint.
        self.start_page = StartPage(self.document, self.view)
        self.canvas_hint = EmptyCanvasHint(self.document, self.view, self.start_page)
        self.files = FileActions(self, self.document, self.settings, self.prompts,
                                 recovery_path or default_recovery_path(), autosave_ms)
        self.edits = EditActions(self, self.document, self.scene, self.view, self.prompts)
        self.palette_panel = PalettePanel()
        self.inspector = InspectorPanel(self.document)
        self.diagnostics = DiagnosticsPanel(self.document)
        self.summary = SummaryPanel(self.document)
        self.docks: dict[str, QDockWidget] = {}
        self.menus: dict[str, QMenu] = {}
        self.actions_by_name: dict[str, QAction] = {}
        self._build_menus()
        self.add_dock(self.palette_panel, "Blocks", Qt.DockWidgetArea.LeftDockWidgetArea)
        self.add_dock(self.inspector, "Inspector", Qt.DockWidgetArea.RightDockWidgetArea)
        self.add_dock(self.summary, "Layer summary", Qt.DockWidgetArea.BottomDockWidgetArea)
        # Below the summary, full canvas width: one line until there are problems (dock_layout).
        self.add_dock(self.diagnostics, "Problems", Qt.DockWidgetArea.BottomDockWidgetArea, Qt.Orientation.Vertical)
        self.docks["Problems"].setTitleBarWidget(self.diagnostics.title_bar)  # the summary in the title line
        # Training panel and views (designer/training); tests of the canvas alone leave them out.
        self.training = install_training(self) if training else None
        if self.training is not None and "Training views" in self.docks:
            views = self.docks["Training views"]  # hidden on a first start: shown when a run starts
            self.training.panel.start_clicked.connect(lambda: self.dock_layout.bring_forward_to_watch(views))
        if self.training is not None:  # what a run's health shows goes to the Problems list, on its node
            self.training.health_diagnostic.connect(self.diagnostics.add_run_diagnostic)
            self.training.health_reset.connect(self.diagnostics.clear_run_diagnostics)
        install_export_actions(self)  # File ▸ Export… / Import…: designer/export_dialog
        install_run_actions(self)  # Run ▸ Train (F5), Pause, Stop, Evaluate: designer/run_actions
        install_help_menu(self)  # Help ▸ About, Keyboard Shortcuts, User Guide, diagnostics: designer/help_menu
        install_toolbar(self)  # New … Export, the menus' own actions: designer/toolbar
        self._build_status_bar()
        if self.training is not None:
            self._share_batch_size(self.training.panel.batch_size)
        self._connect()
        self.apply_theme(self.theme)
        self.resize(1440, 900)
        # First start: the canvas gets the room, panels take what they need (designer/dock_layout).
        self.dock_layout = DockLayout(self, self.settings, self.diagnostics)
        self.dock_layout.arrange_first_start()
        self.dock_layout.restore()
        self._update_title()
        self._update_totals(self.document.report)

    # -- extension point -------------------------------------------------------------------
    def add_dock(self, widget, title: str, area=Qt.DockWidgetArea.RightDockWidgetArea,
                 orientation: Qt.Orientation | None = None) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(f"dock_{title.lower().replace(' ', '_')}")  # saveState needs names
        dock.setWidget(widget)
        if orientation is None:
            self.addDockWidget(area, dock)
        else:
            self.addDockWidget(area, dock, orientation)
        self.docks[title] = dock
        self.menus["View"].addAction(dock.toggleViewAction())
        return dock

    # -- composition -----------------------------------------------------------------------
    def _action(self, menu: str, name: str, text: str, slot, shortcuts=(), tip: str = "") -> QAction:
        action = QAction(text, self)
        keys = [QKeySequence(s) for s in shortcuts]
        if keys:
            action.setShortcuts(keys)
        action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        if tip:
            action.setStatusTip(tip)
        action.triggered.connect(lambda _checked=False: slot())
        self.menus[menu].addAction(action)
        self.addAction(action)
        self.actions_by_name[name] = action
        return action

    def _build_menus(self) -> None:
        bar = self.menuBar()
        for title in ("File", "Edit", "View"):
            self.menus[title] = bar.addMenu(f"&{title}")
        f, e, v = self.files, self.edits, self.view
        K = QKeySequence.StandardKey
        self._action("File", "new", "&New", f.new, [K.New])
        self._action("File", "template", "New from &Template…", f.new_from_template, ["Ctrl+Shift+N"])
        self._action("File", "open", "&Open…", f.open, [K.Open])
        self.recent_menu = self.menus["File"].addMenu("Open &Recent")
        self._action("File", "close", "&Close", f.close, [K.Close], "put the design away and show the start page")
        self.menus["File"].addSeparator()
        self._action("File", "save", "&Save", f.save, [K.Save])
        self._action("File", "save_as", "Save &As…", f.save_as, ["Ctrl+Shift+S"])
        self.menus["File"].addSeparator()
        self._action("File", "quit", "&Quit", self.close, [K.Quit])
        undo = self.document.undo_stack.createUndoAction(self, "&Undo")
        undo.setShortcuts([QKeySequence(K.Undo)])
        redo = self.document.undo_stack.createRedoAction(self, "&Redo")
        redo.setShortcuts([QKeySequence("Ctrl+Y"), QKeySequence("Ctrl+Shift+Z")])
        for name, action in (("undo", undo), ("redo", redo)):
            self.menus["Edit"].addAction(action)
            self.addAction(action)
            self.actions_by_name[name] = action
        self.menus["Edit"].addSeparator()
        self._action("Edit", "cut", "Cu&t", e.cut, ["Ctrl+X"])
        self._action("Edit", "copy", "&Copy", e.copy, ["Ctrl+C"])
        self._action("Edit", "paste", "&Paste", e.paste, ["Ctrl+V"])
        self._action("Edit", "duplicate", "&Duplicate", e.duplicate, ["Ctrl+D"])
        self._action("Edit", "delete", "De&lete", e.delete, [QKeySequence(Qt.Key.Key_Delete),
                                                              QKeySequence(Qt.Key.Key_Backspace)])
        self._action("Edit", "select_all", "Select &All", e.select_all, ["Ctrl+A"])
        self.menus["Edit"].addSeparator()
        self._action("Edit", "group", "&Group into Block…", e.group, ["Ctrl+G"],
                     "make the selected blocks one reusable block")
        self._action("Edit", "open_composite", "Open / Close &Composite", e.toggle_composite, ["Ctrl+E"],
                     "show a composite block's inside to edit it, or fold it back")
        self._action("Edit", "find", "&Find Block…", self.palette_panel.focus_search, ["Ctrl+F"])
        self._action("View", "fit", "&Fit to View", lambda: v.fit(readable=False), ["F"])
        self._action("View", "zoom_in", "Zoom &In", v.zoom_in, ["Ctrl++", "Ctrl+="])
        self._action("View", "zoom_out", "Zoom &Out", v.zoom_out, ["Ctrl+-"])
        self._action("View", "layout", "Auto &Layout", e.layout, ["Ctrl+L"])
        self._action("View", "layout_selection", "Layout &Selection",
                     lambda: e.layout(selection_only=True), ["Ctrl+Shift+L"])
        self._action("View", "reset_layout", "&Reset Layout", lambda: self.dock_layout.reset(),
                     tip="put the panels back where they were on the first start")
        theme_menu = self.menus["View"].addMenu("&Theme")
        for mode in ("system", "light", "dark"):
            action = theme_menu.addAction(mode.capitalize(), lambda m=mode: self.set_theme_mode(m))
            action.setCheckable(True)
            action.setChecked(mode == self.theme_mode)
            self.actions_by_name[f"theme_{mode}"] = action
        style_menu = self.menus["View"].addMenu("&Node Style")
        for style, text in (("auto", "&Automatic (compact for big networks)"), ("full", "&Full"),
                            ("compact", "&Compact")):
            action = style_menu.addAction(text, lambda s=style: self.set_node_style(s, relayout=True))
            action.setCheckable(True)
            self.actions_by_name[f"node_style_{style}"] = action
        self.set_node_style(str(self.settings.value("node_style", "auto")))
        self.menus["View"].addSeparator()

    def set_node_style(self, style: str, relayout: bool = False) -> None:
        """Full nodes (name, type and parameters, shape and count) or compact ones (name and
        shape); "auto" picks compact above a few hundred nodes. Remembered across sessions.
        With ``relayout`` (the View menu) a design whose nodes change size is laid out again
        for the new size, as one undo step."""
        if style not in ("auto", "full", "compact"):
            style = "auto"
        self.settings.setValue("node_style", style)
        before = self.scene.node_style
        self.scene.set_node_style(style)
        if relayout and self.scene.node_style != before and self.document.design.nodes:
            self.edits.layout()
        for s in ("auto", "full", "compact"):
            self.actions_by_name[f"node_style_{s}"].setChecked(s == style)

    def _build_status_bar(self) -> None:
        self.totals = TotalsHolder()  # sized by steps: a new count does not lay the window out again
        self.totals_label = self.totals.label
        self.batch_spin = QSpinBox()
        self.batch_spin.setRange(1, 1 << 16)
        self.batch_spin.setValue(int(self.settings.value("batch", 32)))
        self.batch_spin.setPrefix("batch ")
        self.batch_spin.setToolTip("batch size for the activation memory figure")
        # Shown while a big file loads (designer/file_loading); permanent widgets stay visible
        # when a status message is shown.
        self.loading_indicator = LoadingIndicator(self.files.loader)
        self.statusBar().addPermanentWidget(self.loading_indicator)
        self.statusBar().addPermanentWidget(self.totals)
        self.statusBar().addPermanentWidget(self.batch_spin)
        self.summary.set_batch(self.batch_spin.value())

    def _share_batch_size(self, training_batch: QSpinBox) -> None:
        """One batch size on screen: the memory figure uses the training batch, and changing
        either spin box changes both (equal values emit nothing, so the two cannot loop)."""
        self.batch_spin.setValue(training_batch.value())
        self.summary.set_batch(training_batch.value())
        self.batch_spin.setToolTip("the training batch size, also used for the activation memory figure")
        training_batch.valueChanged.connect(self.batch_spin.setValue)
        self.batch_spin.valueChanged.connect(training_batch.setValue)

    def _connect(self) -> None:
        doc = self.document
        doc.report_changed.connect(self._update_totals)
        doc.undo_stack.cleanChanged.connect(self._update_title)
        doc.path_changed.connect(self._update_title)
        doc.design_replaced.connect(lambda: self.view.fit(readable=True))
        doc.edit_refused.connect(lambda message: self.statusBar().showMessage(message, 8000))
        doc.selection_changed.connect(self.selection_changed)
        self.batch_spin.valueChanged.connect(self._on_batch)
        self.palette_panel.block_activated.connect(self.edits.append_block)
        self.scene.node_activated.connect(self.edits.on_node_activated)
        self.diagnostics.node_chosen.connect(self.focus_node)
        self.files.recent_changed.connect(self._fill_recent_menu)
        self.files.replacing.connect(self.loading_indicator.show_building)
        page = self.start_page
        page.template_chosen.connect(self.files.new_from_template_name)
        page.empty_chosen.connect(self.view.setFocus)
        page.recent_chosen.connect(lambda path: self.files.open(path))
        page.open_chosen.connect(lambda: self.files.open())
        page.block_dropped.connect(lambda block, at: self.scene.drop_block(block, self.view.mapToScene(at)))
        # A file dragged from the file manager onto the window or the canvas opens like File ▸ Open.
        self.file_drops = FileDrops(self.files.open, self)
        self.setAcceptDrops(True)
        self.installEventFilter(self.file_drops)
        self.view.viewport().installEventFilter(self.file_drops)
        page.installEventFilter(self.file_drops)
        self._fill_recent_menu()
        hints = QGuiApplication.styleHints()
        hints.colorSchemeChanged.connect(self._on_system_scheme)

    # -- small reactions -------------------------------------------------------------------
    def _update_title(self, *_args) -> None:
        self.setWindowTitle(f"{self.document.display_name}[*] — {APP_NAME}")
        self.setWindowModified(self.document.is_modified)

    def _update_totals(self, report) -> None:
        self.totals.set_text(totals_text(self.document.design, report, self.batch_spin.value()))

    def _on_batch(self, batch: int) -> None:
        self.settings.setValue("batch", batch)
        self.summary.set_batch(batch)
        self._update_totals(self.document.report)

    def focus_node(self, node_id: str) -> None:
        self.document.set_selection([node_id])
        item = self.scene.node_items.get(node_id)
        if item is not None:
            self.view.center_on_node(item)

    def _fill_recent_menu(self) -> None:
        self.recent_menu.clear()
        for path in self.files.recent.paths():
            self.recent_menu.addAction(Path(path).name, lambda p=path: self.files.open(p)).setToolTip(plain_html(path))
        self.recent_menu.setEnabled(bool(self.files.recent.paths()))
        self.start_page.set_recent(self.files.recent.paths())

    def set_theme_mode(self, mode: str) -> None:
        self.theme_mode = mode
        self.settings.setValue("theme", mode)
        for m in ("system", "light", "dark"):
            self.actions_by_name[f"theme_{m}"].setChecked(m == mode)
        self.apply_theme(themes.current(None if mode == "system" else mode == "dark"))

    def _on_system_scheme(self, _scheme) -> None:
        if self.theme_mode == "system":
            self.apply_theme(themes.current())

    def apply_theme(self, theme: themes.Theme) -> None:
        self.theme = theme
        app = QApplication.instance()
        if app is not None:
            themes.apply(app, theme)
        self.scene.set_theme(theme)
        self.summary.set_theme(theme)
        self.start_page.set_theme(theme)
        self.canvas_hint.set_theme(theme)

    # -- layout memory and closing ---------------------------------------------------------
    def closeEvent(self, event) -> None:
        if self._closed:
            event.accept()
            return
        if not self.files.maybe_discard():
            event.ignore()
            return
        self.dock_layout.save()
        self.files.shutdown()
        self.scene.detach()
        self.inspector.detach()
        self._closed = True
        event.accept()
