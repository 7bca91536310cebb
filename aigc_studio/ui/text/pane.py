"""Writer pane."""

from __future__ import annotations

from PySide6.QtWidgets import QHBoxLayout, QLabel, QPlainTextEdit, QVBoxLayout

from aigc_studio.ui.model_picker import ModelPicker
from aigc_studio.ui.pane import StudioPane


class TextPane(StudioPane):
    """Write, continue at the cursor, retry and blend sentences."""

    title = "Text"
    key = "text"
    model_kinds = ("text-gpt", "text-vae")

    def __init__(self, engine, settings, parent=None) -> None:
        super().__init__(engine, settings, parent)
        self.model_picker = ModelPicker(self.model_kinds)
        self.editor = QPlainTextEdit()
        top = QHBoxLayout()
        top.addWidget(QLabel("Model:"))
        top.addWidget(self.model_picker, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.editor, 1)
