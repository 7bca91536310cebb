"""Edit > Preferences: compute device and colour theme."""

from __future__ import annotations

from PySide6.QtWidgets import QComboBox, QDialog, QDialogButtonBox, QFormLayout, QLabel, QWidget

from aigc_studio.core.device import DEVICE_CHOICES
from aigc_studio.ui.palette import THEMES


class PreferencesDialog(QDialog):
    """Choose the device the engine uses and the light/dark theme."""

    def __init__(self, device: str, theme: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Preferences")
        self.device_box = QComboBox()
        for choice in DEVICE_CHOICES:
            self.device_box.addItem({"auto": "Automatic (GPU when available)"}.get(choice, choice.upper()), choice)
        self.device_box.setCurrentIndex(max(0, self.device_box.findData(device)))
        self.theme_box = QComboBox()
        for choice in THEMES:
            self.theme_box.addItem({"system": "Follow the system"}.get(choice, choice.capitalize()), choice)
        self.theme_box.setCurrentIndex(max(0, self.theme_box.findData(theme)))
        note = QLabel("A new device applies to the next job; loaded models are reloaded on it.")
        note.setWordWrap(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form = QFormLayout(self)
        form.addRow("Compute device:", self.device_box)
        form.addRow("Theme:", self.theme_box)
        form.addRow(note)
        form.addRow(buttons)

    @property
    def device(self) -> str:
        """The chosen device preference."""
        return self.device_box.currentData()

    @property
    def theme(self) -> str:
        """The chosen theme."""
        return self.theme_box.currentData()
