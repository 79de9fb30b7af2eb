"""What the File menu does: new, open, save, recent files, templates, autosave and recovery,
and the question before losing unsaved changes."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, Signal

from engine.errors import DesignFileError

from .canvas.layout import layered_layout
from .files import Autosave, RecentFiles, pending_recovery


class FileActions(QObject):
    recent_changed = Signal()

    def __init__(self, window, document, settings, prompts, recovery_path: Path, autosave_ms: int):
        super().__init__(window)
        self.window, self.document, self.prompts = window, document, prompts
        self.recent = RecentFiles(settings)
        self.autosave = Autosave(document, recovery_path, autosave_ms, self)
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
        self.document.new()
        self.autosave.discard()
        return True

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
        """Open without asking about the current document; a corrupt file opens nothing."""
        try:
            self.document.open(path)
        except DesignFileError as e:
            self.prompts.error(self.window, "Cannot open the design", f"{Path(path).name}: {e}")
            if not Path(path).exists():
                self.recent.remove(path)
                self.recent_changed.emit()
            return False
        self.recent.add(self.document.path)
        self.recent_changed.emit()
        self.autosave.discard()
        return True

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
        self.document.replace_design(design)
        self.autosave.discard()
        return True

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
        self.document.replace_design(design, original)
        # Restored work is unsaved work: mark it modified so closing asks and Save writes it.
        self.document.undo_stack.resetClean()
        return True

    def _on_clean_changed(self, clean: bool) -> None:
        if clean:
            self.autosave.discard()

    def shutdown(self) -> None:
        """A normal close: no recovery file is left behind."""
        self.autosave.stop()
        self.autosave.discard()


def lay_out(design) -> None:
    """Templates come laid out left to right for the command line; the canvas flows downward."""
    for node_id, pos in layered_layout(design).items():
        design.move(node_id, pos)
