"""Train → Evaluate model…: measure a model against reference data on the engine, show the four sections,
the reference's own figures, the nearest pairs side by side and a plain-words memorisation warning."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QUrl
from PySide6.QtGui import QImage, QTextDocument
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from aigc_studio.core.registry import list_models
from aigc_studio.ui.file_dialogs import choose_folder, open_file

DATA_HINTS = {
    "image": ("a folder of images", None),
    "text": ("a .txt/.md file or a folder of them", "Text (*.txt *.md *.markdown *.text)"),
    "music": ("a .mid file or a folder of them", "MIDI (*.mid *.midi *.kar)"),
}


class EvaluateDialog(QDialog):
    """Pick a model and reference data, run the evaluation as an engine job, read the figures."""

    def __init__(self, engine, kinds: tuple[str, ...], current: Path | None = None, parent: QWidget | None = None):
        super().__init__(parent)
        self.engine = engine
        self.handle = None
        self.result = None
        self.family = kinds[0].split("-")[0] if kinds else "image"
        self.setWindowTitle("Evaluate model")
        self.resize(900, 760)
        self.model = QComboBox()
        for kind in kinds:
            for entry in list_models(kind):
                self.model.addItem(f"{entry.name}  [{entry.kind}]", str(entry.path))
        if current is not None and self.model.findData(str(current)) < 0:
            self.model.addItem(f"{current.name}  [file]", str(current))
        if current is not None:
            self.model.setCurrentIndex(max(0, self.model.findData(str(current))))
        hint, self._filter = DATA_HINTS.get(self.family, ("reference data", None))
        self.data = QLineEdit()
        self.data.setPlaceholderText(f"{hint}: held-out data, or the training data to check for copies")
        browse_folder = QPushButton("Folder…")
        browse_folder.clicked.connect(self._browse_folder)
        row = QHBoxLayout()
        row.addWidget(self.data, 1)
        if self._filter:
            browse_file = QPushButton("File…")
            browse_file.clicked.connect(self._browse_file)
            row.addWidget(browse_file)
        row.addWidget(browse_folder)
        self.samples = QSpinBox()
        self.samples.setRange(4, 4096)
        self.samples.setValue(64 if self.family == "image" else 16)
        self.seed = QSpinBox()
        self.seed.setRange(0, 2**31 - 1)
        form = QFormLayout()
        form.addRow("Model", self.model)
        form.addRow("Reference data", row)
        form.addRow("Samples", self.samples)
        form.addRow("Seed", self.seed)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.status = QLabel(
            "Choose reference data and press Evaluate. Without it, only the figures that need no reference are given."
        )
        self.status.setWordWrap(True)
        self.run_button = QPushButton("Evaluate")
        self.run_button.setDefault(True)
        self.run_button.clicked.connect(self.start)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel)
        close = QPushButton("Close")
        close.clicked.connect(self.close)
        buttons = QHBoxLayout()
        buttons.addWidget(self.progress, 1)
        buttons.addWidget(self.run_button)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(close)
        self.view = QTextBrowser()
        self.view.setOpenLinks(False)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addLayout(buttons)
        layout.addWidget(self.status)
        layout.addWidget(self.view, 1)

    def _browse_folder(self) -> None:
        if folder := choose_folder(self, "evaluate-data", "Reference data folder"):
            self.data.setText(str(folder))

    def _browse_file(self) -> None:
        if path := open_file(self, "evaluate-data", "Reference data file", self._filter):
            self.data.setText(str(path))

    def start(self) -> None:
        """Submit the evaluation job."""
        from aigc_studio.evaluate.job import EvaluateJob

        model = self.model.currentData()
        if not model:
            self.status.setText("No model to evaluate: train one or open a model file first.")
            return
        job = EvaluateJob(model, self.data.text().strip() or None, self.samples.value(), self.seed.value())
        self.handle = self.engine.submit(job, seed=self.seed.value())
        self.handle.progress.connect(self._on_progress)
        self.handle.finished.connect(self._on_finished)
        self.handle.failed.connect(self._on_failed)
        self.handle.cancelled.connect(lambda: self._done("Cancelled."))
        self.run_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.progress.setValue(0)
        self.status.setText("Evaluating…")

    def cancel(self) -> None:
        """Stop the running evaluation (the engine confirms within a second)."""
        if self.handle is not None and not self.handle.done:
            self.handle.cancel()
            self.status.setText("Cancelling…")

    def is_running(self) -> bool:
        """True while an evaluation job is queued or running."""
        return self.handle is not None and not self.handle.done

    def _on_progress(self, fraction: float, message: str) -> None:
        if fraction >= 0:
            self.progress.setValue(int(fraction * 1000))
        self.status.setText(message)

    def _on_failed(self, message: str) -> None:
        self._done(message)

    def _done(self, message: str) -> None:
        self.run_button.setEnabled(True)
        self.cancel_button.setEnabled(False)
        self.status.setText(message)

    def _on_finished(self, result) -> None:
        self.result = result
        self.progress.setValue(1000)
        self._done(result.warning or "Done. The reference column is the reference data measured against itself.")
        self.show_result(result)

    def show_result(self, result) -> None:
        """Render the figures and pairs (pictures are added to the document as resources)."""
        from aigc_studio.evaluate.report import STYLE, html_body

        document = self.view.document()
        counter = iter(range(1_000_000))

        def image_src(png: bytes) -> str:
            name = f"evaluation-image-{next(counter)}.png"
            document.addResource(QTextDocument.ResourceType.ImageResource, QUrl(name), QImage.fromData(png))
            return name

        document.setDefaultStyleSheet(STYLE)
        self.view.setHtml(html_body(result, image_src))

    def closeEvent(self, event) -> None:  # noqa: N802 - Qt override
        """Closing the dialog cancels a running evaluation."""
        self.cancel()
        super().closeEvent(event)
