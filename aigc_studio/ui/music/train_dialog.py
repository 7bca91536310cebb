"""Train dialog: pick a model kind, a folder of MIDI files, steps and an output file."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QWidget,
)

from aigc_studio.core.paths import user_models_dir
from aigc_studio.ui.file_dialogs import choose_folder
from aigc_studio.ui.gpu_choice import chosen_gpus, gpu_spin_box


class MusicTrainDialog(QDialog):
    """Collects the settings of a music training run (the pane submits the job)."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Train a music model")
        self.kind = QComboBox()
        self.kind.addItems(["music-transformer", "music-vae"])
        self.data = QLineEdit()
        browse = QPushButton("Folder…")
        browse.clicked.connect(self._browse)
        row = QWidget()
        h = QHBoxLayout(row)
        h.setContentsMargins(0, 0, 0, 0)
        h.addWidget(self.data, 1)
        h.addWidget(browse)
        self.steps = QSpinBox(minimum=1, maximum=1_000_000, value=1000)
        self.out = QLineEdit(str(user_models_dir() / "my-music.safetensors"))
        self.resume = QLineEdit()
        self.resume.setPlaceholderText("optional: checkpoint to resume")
        form = QFormLayout(self)
        form.addRow("Model", self.kind)
        form.addRow("MIDI folder", row)
        form.addRow("Steps", self.steps)
        form.addRow("Save as", self.out)
        form.addRow("Resume", self.resume)
        self.gpus = gpu_spin_box()  # only with two or more GPUs
        if self.gpus is not None:
            form.addRow("GPUs", self.gpus)
        buttons = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)

    def _browse(self) -> None:
        folder = choose_folder(self, "training-data", "Folder of MIDI files")
        if folder is not None:
            self.data.setText(str(folder))

    def gpu_count(self) -> int:
        """How many GPUs to train on (one process each; 1 when the choice is not shown)."""
        return chosen_gpus(self.gpus)

    def settings(self):
        """The training settings the user chose."""
        from aigc_studio.music.train_settings import train_settings_for

        return train_settings_for(
            self.kind.currentText(),
            data=[self.data.text()],
            steps=self.steps.value(),
            out=self.out.text(),
            resume=self.resume.text() or None,
        )


def default_out_dir() -> Path:
    """Where trained models go by default."""
    return user_models_dir()
