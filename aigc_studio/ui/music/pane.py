"""Piano-roll pane."""

from __future__ import annotations

from PySide6.QtWidgets import QGraphicsScene, QGraphicsView, QHBoxLayout, QLabel, QVBoxLayout

from aigc_studio.ui.model_picker import ModelPicker
from aigc_studio.ui.pane import StudioPane


class MusicPane(StudioPane):
    """Edit notes in a piano roll, generate, continue, infill, play and export MIDI."""

    title = "Music"
    key = "music"
    model_kinds = ("music-transformer", "music-vae")

    def __init__(self, engine, settings, parent=None) -> None:
        super().__init__(engine, settings, parent)
        self.model_picker = ModelPicker(self.model_kinds)
        self.scene = QGraphicsScene(self)
        self.view = QGraphicsView(self.scene)
        top = QHBoxLayout()
        top.addWidget(QLabel("Model:"))
        top.addWidget(self.model_picker, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.view, 1)
