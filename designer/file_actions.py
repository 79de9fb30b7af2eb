"""What the File menu does: new, open, save, recent files, templates, autosave and recovery,
and the question before losing unsaved changes. Files open off the UI thread (file_loading)."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, Signal

from .canvas.layout import layered_layout
from .file_loading import SHOW_AFTER_MS, DesignLoader, LoadRequest
from .files import Autosave, RecentFiles, pending_recovery


class FileActions(QObject):
    recent_changed = Signal()
    replacing = Signal(str, int)  # file name, blocks: a loaded design is about to replace the document

    def __init__(self, window, document, settings, prompts, recovery_path: Path, autosave_ms: int):
        super().__init__(window)
        self.window, self.document, self.prompts = window, document, prompts
        self.recent = RecentFiles(settings)
        self.autosave = Autosave(document, recovery_path, autosave_ms, self)
        self.loader = DesignLoader(self)
        document.undo_stack.cleanChanged.connect(self._on_clean_changed)

    # -- questions -------------------------------------------------------------------------
    def maybe_discard(self) -> bool:
        """True when it is fine to replace or close the document (saved, or the user agreed)."""
        if not self.document.is_modified:
            return True
        answer = self.prompts.ask_save_changes(self.window, self.document.display_name)
        if answer == "save":
            return self.save()
        return answer == "discard"

    # -- commands --------------------------------------------------------------------------
    def new(self) -> bool:
        if not self.maybe_discard():
            return False
        self.loader.cancel()  # the latest request wins over a file still loading
        self.document.new()
        self.autosave.discard()
        return True

    def close(self) -> bool:
        """File ▸ Close: the design is put away (asking about unsaved changes) and the window
        shows the start page again."""
        return self.new()

    def open(self, path: str | None = None) -> bool:
        if not self.maybe_discard():
            return False
        if path is None:
            folder = str(Path(self.document.path).parent) if self.document.path else ""
            path = self.prompts.open_path(self.window, folder)
            if path is None:
                return False
        return self.open_path(path)

    def open_path(self, path: str) -> bool:
        """Open without asking about the current document. The file is read and parsed in a
        background thread; the current design stays until the new one is ready, and a corrupt
        file opens nothing (a message says why). A small file is open when this returns: it
        waits up to SHOW_AFTER_MS for the result, repainting but holding the user's input
        back. A bigger one goes on loading with the status bar's indicator, the window usable;
        another open, New or a template in the meantime wins over it.
        True when the file opened or is still loading, False when it could not be opened."""
        request = self.loader.load(path, self.document.design.version, self._on_loaded, self._on_load_failed)
        self.loader.wait(request, SHOW_AFTER_MS)
        return request.state in ("loading", "opened")

    def is_loading(self) -> bool:
        return self.loader.is_loading()

    def _on_loaded(self, request: LoadRequest, design, path: str) -> None:
        """On the UI thread, once the worker has parsed the file."""
        if self.document.design.version != request.version and not self.maybe_discard():
            request.state = "cancelled"  # edited while it loaded, and the user keeps the edits
            return
        # The copy into the document and the canvas rebuild run here, on the UI thread.
        self.replacing.emit(request.name, len(design.nodes))
        self.document.replace_design(design, path, take=True)  # parsed for us alone
        request.state = "opened"
        self.recent.add(path)
        self.recent_changed.emit()
        self.autosave.discard()

    def _on_load_failed(self, request: LoadRequest, message: str) -> None:
        request.state = "failed"
        self.prompts.error(self.window, "Cannot open the design", f"{request.name}: {message}")
        if not Path(request.path).exists():
            self.recent.remove(request.path)
            self.recent_changed.emit()

    def save(self) -> bool:
        if self.document.path is None:
            return self.save_as()
        return self._save_to(self.document.path)

    def save_as(self) -> bool:
        suggested = self.document.path or f"{self.document.design.name or 'design'}.json"
        path = self.prompts.save_path(self.window, suggested)
        return path is not None and self._save_to(path)

    def _save_to(self, path: str) -> bool:
        try:
            self.document.save(path)
        except OSError as e:
            self.prompts.error(self.window, "Cannot save the design", f"{path}: {e.strerror or e}")
            return False
        self.recent.add(self.document.path)
        self.recent_changed.emit()
        self.autosave.discard()
        return True

    def new_from_template(self, choice=None) -> bool:
        """``choice``: (name, input_shape, classes, options); asks with the gallery when None."""
        if not self.maybe_discard():
            return False
        choice = choice or self.prompts.choose_template(self.window)
        if not choice:
            return False
        name, shape, classes, *rest = choice
        options = rest[0] if rest else {}
        from engine import templates
        try:
            design = templates.build(name, input_shape=shape, num_classes=classes, **(options or {}))
        except ValueError as e:
            self.prompts.error(self.window, "Cannot build the template", str(e))
            return False
        lay_out(design)
        self.loader.cancel()
        self.document.replace_design(design, take=True)
        self.autosave.discard()
        return True

    def new_from_template_name(self, name: str) -> bool:
        """A start-page card: the template at its default input and class count."""
        from engine import templates
        info = templates.info(name)
        return self.new_from_template((name, info.default_input, info.default_classes, {}))

    # -- recovery --------------------------------------------------------------------------
    def offer_recovery(self) -> bool:
        """After a crash the recovery file is still there: offer to restore it (unsaved)."""
        found = pending_recovery(self.autosave.path)
        if found is None:
            return False
        design, original = found
        description = f"“{Path(original).name}”" if original else f"the unsaved design “{design.name}”"
        if not self.prompts.ask_restore(self.window, description):
            self.autosave.discard()
            return False
        self.loader.cancel()
        self.document.replace_design(design, original, take=True)
        # Restored work is unsaved work: mark it modified so closing asks and Save writes it.
        self.document.undo_stack.resetClean()
        return True

    def _on_clean_changed(self, clean: bool) -> None:
        if clean:
            self.autosave.discard()

    def shutdown(self) -> None:
        """A normal close: no recovery file is left behind, no file is still being read."""
        self.loader.shutdown()
        self.autosave.stop()
        self.autosave.discard()


def lay_out(design) -> None:
    """Templates come laid out left to right for the command line; the canvas flows downward."""
    for node_id, pos in layered_layout(design).items():
        design.move(node_id, pos)
