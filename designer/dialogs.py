"""The questions the app asks the user, in one object so tests can answer them."""
from __future__ import annotations

from PySide6.QtWidgets import QFileDialog, QInputDialog, QMessageBox

from .plain_text import plain_html

FILE_FILTER = "Network designs (*.json);;All files (*)"


class Prompts:
    def ask_save_changes(self, parent, name: str) -> str:
        """'save', 'discard' or 'cancel'."""
        box = QMessageBox(QMessageBox.Icon.Warning, "Unsaved changes",
                          plain_html(f"Save the changes to “{name}” before closing?"),
                          QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard
                          | QMessageBox.StandardButton.Cancel, parent)
        box.setInformativeText("Your changes are lost if you don't save them.")
        answer = box.exec()
        return {QMessageBox.StandardButton.Save: "save", QMessageBox.StandardButton.Discard: "discard"}.get(
            QMessageBox.StandardButton(answer), "cancel")

    def ask_restore(self, parent, description: str) -> bool:
        answer = QMessageBox.question(parent, "Restore unsaved work?",
                                      plain_html(f"Network Designer did not close normally. Restore {description}?"))
        return answer == QMessageBox.StandardButton.Yes

    def error(self, parent, title: str, message: str) -> None:
        QMessageBox.critical(parent, title, plain_html(message))

    def open_path(self, parent, folder: str = "") -> str | None:
        path, _ = QFileDialog.getOpenFileName(parent, "Open design", folder, FILE_FILTER)
        return path or None

    def save_path(self, parent, suggested: str = "") -> str | None:
        path, _ = QFileDialog.getSaveFileName(parent, "Save design", suggested, FILE_FILTER)
        if path and not path.lower().endswith(".json"):
            path += ".json"
        return path or None

    def text(self, parent, title: str, label: str, default: str = "") -> str | None:
        text, ok = QInputDialog.getText(parent, title, label, text=default)
        return text.strip() if ok and text.strip() else None

    def choose_template(self, parent):
        """(name, input_shape, num_classes) or None."""
        from .gallery import TemplateGallery
        dialog = TemplateGallery(parent)
        try:
            return dialog.choice() if dialog.exec() else None
        finally:
            dialog.deleteLater()
