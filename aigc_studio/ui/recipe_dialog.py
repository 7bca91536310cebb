"""*Recipe…*: the provenance record of the selection, the same in every studio, with *Regenerate*."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QFormLayout, QLabel, QVBoxLayout, QWidget

from aigc_studio.core.provenance import Provenance

RECIPE_SHORTCUT = "Ctrl+Shift+I"


class RecipeDialog(QDialog):
    """Shows one record; *Regenerate* (when the studio can) closes the dialog and runs it again."""

    def __init__(
        self,
        record: Provenance,
        parent: QWidget | None = None,
        regenerate: Callable[[], None] | None = None,
        why_not: str = "",
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Recipe — {record.media}")
        self.record = record
        form = QFormLayout()
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        self.rows: dict[str, QLabel] = {}
        for label, value in record.lines():
            shown = QLabel(value)
            shown.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            shown.setWordWrap(True)
            form.addRow(f"{label}:", shown)
            self.rows[label] = shown
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.regenerate_button = buttons.addButton("Regenerate", QDialogButtonBox.ButtonRole.ActionRole)
        self.regenerate_button.setEnabled(regenerate is not None)
        self.regenerate_button.setToolTip(
            why_not if regenerate is None else "Run this recipe again: same model, seed and settings"
        )
        if regenerate is not None:
            self.regenerate_button.clicked.connect(lambda: (self.accept(), regenerate()))
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(buttons)
        self.setMinimumWidth(460)


def recipe_action(parent: QWidget, slot: Callable[[], None]) -> QAction:
    """The studio's *Recipe…* menu action (Generate menu)."""
    action = QAction("Recipe…", parent)
    action.setShortcut(RECIPE_SHORTCUT)
    action.setStatusTip("The model, seed and settings that made the selection; Regenerate runs them again")
    action.triggered.connect(slot)
    return action
