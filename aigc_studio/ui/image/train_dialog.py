"""The Train dialog: folder, model kind, resolution, size preset, steps, batch, output (or resume)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QWidget,
)

from aigc_studio.core.paths import user_models_dir
from aigc_studio.errors import InputError
from aigc_studio.image.settings import ImageTrainSettings
from aigc_studio.ui.file_dialogs import open_file
from aigc_studio.ui.gpu_choice import chosen_gpus, gpu_spin_box

KINDS = [("GAN (sharp, varied; needs more steps)", "image-gan"), ("VAE (encode your pictures; softer)", "image-vae")]
SIZES = [("Tiny (fast, CPU)", "tiny"), ("Small (CPU overnight)", "small"), ("Medium (GPU)", "medium")]


def _path_row(edit: QLineEdit, button: QPushButton) -> QWidget:
    row = QWidget()
    layout = QHBoxLayout(row)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.addWidget(edit, 1)
    layout.addWidget(button)
    return row


class TrainDialog(QDialog):
    """Collects :class:`ImageTrainSettings`; ``settings()`` raises InputError on bad input."""

    def __init__(self, parent=None, folder: str = "") -> None:
        super().__init__(parent)
        self.setWindowTitle("Train an image model")
        self.folder = QLineEdit(folder)
        self.folder.setPlaceholderText("Folder of PNG, JPEG or WebP pictures (sub-folders included)")
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse_folder)
        self.kind = QComboBox()
        for label, kind in KINDS:
            self.kind.addItem(label, kind)
        self.resolution = QComboBox()
        for res in (32, 64, 128, 256):
            self.resolution.addItem(f"{res} × {res}", res)
        self.resolution.setCurrentIndex(1)
        self.size = QComboBox()
        for label, size in SIZES:
            self.size.addItem(label, size)
        self.size.setCurrentIndex(1)
        self.fit = QComboBox()
        self.fit.addItem("Centre-crop to square", "crop")
        self.fit.addItem("Pad to square (white)", "pad")
        self.flip = QCheckBox("Mirror pictures at random (doubles small data sets)")
        self.flip.setChecked(True)
        self.steps = QSpinBox()
        self.steps.setRange(1, 10_000_000)
        self.steps.setValue(5000)
        self.batch = QSpinBox()
        self.batch.setRange(1, 1024)
        self.batch.setValue(32)
        self.out = QLineEdit(str(user_models_dir() / "my-image-model.safetensors"))
        out_browse = QPushButton("…")
        out_browse.clicked.connect(self._browse_out)
        self.resume = QLineEdit()
        self.resume.setPlaceholderText("optional: a checkpoint to continue exactly")
        resume_browse = QPushButton("…")
        resume_browse.clicked.connect(self._browse_resume)
        self.error = QLabel()
        self.error.setStyleSheet("color: #c92a2a")
        self.error.setWordWrap(True)
        form = QFormLayout(self)
        form.addRow("Pictures:", _path_row(self.folder, browse))
        form.addRow("Model kind:", self.kind)
        form.addRow("Resolution:", self.resolution)
        form.addRow("Model size:", self.size)
        form.addRow("Non-square pictures:", self.fit)
        form.addRow("", self.flip)
        form.addRow("Steps:", self.steps)
        form.addRow("Batch:", self.batch)
        self.gpus = gpu_spin_box()  # only with two or more GPUs
        if self.gpus is not None:
            form.addRow("GPUs:", self.gpus)
        form.addRow("Save as:", _path_row(self.out, out_browse))
        form.addRow("Resume from:", _path_row(self.resume, resume_browse))
        form.addRow(self.error)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Train")
        buttons.accepted.connect(self._accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)

    def _browse_folder(self) -> None:
        name = QFileDialog.getExistingDirectory(self, "Folder of pictures", self.folder.text())
        if name:
            self.folder.setText(name)

    def _browse_out(self) -> None:
        name, _ = QFileDialog.getSaveFileName(self, "Save model as", self.out.text(), "Models (*.safetensors)")
        if name:
            self.out.setText(name if name.endswith(".safetensors") else name + ".safetensors")

    def _browse_resume(self) -> None:
        path = open_file(self, "models", "Checkpoint to resume", "Models (*.safetensors)")
        if path is not None:
            self.resume.setText(str(path))
            self.out.setText(str(path))

    def gpu_count(self) -> int:
        """How many GPUs to train on (one process each; 1 when the choice is not shown)."""
        return chosen_gpus(self.gpus)

    def settings(self) -> ImageTrainSettings:
        """The chosen settings (checked)."""
        folder = self.folder.text().strip()
        if not folder or not Path(folder).expanduser().is_dir():
            raise InputError("Choose a folder of pictures to train on.")
        from aigc_studio.image.dataset import class_folders  # no torch: reads the folder listing only

        class_folders(Path(folder).expanduser())  # a bad class layout is refused here, before training starts
        settings = ImageTrainSettings(
            data=folder,
            out=self.out.text().strip(),
            kind=self.kind.currentData(),
            resolution=int(self.resolution.currentData()),
            size=self.size.currentData(),
            steps=self.steps.value(),
            batch_size=self.batch.value(),
            fit=self.fit.currentData(),
            flip=self.flip.isChecked(),
            resume=self.resume.text().strip() or None,
        )
        settings.check()
        return settings

    def _accept(self) -> None:
        try:
            self.settings()
        except InputError as exc:
            self.error.setText(str(exc))
            return
        self.accept()
