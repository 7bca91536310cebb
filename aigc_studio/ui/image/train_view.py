"""The training view: live preview grid, loss curves, log and a Stop button."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QLabel,
    QListWidget,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from aigc_studio.core.events import LossPoint, Preview, TrainingResult
from aigc_studio.ui.image.qimage import to_pixmap
from aigc_studio.ui.loss_chart import LossChart


class TrainingView(QWidget):
    """Follows one training job handle; Stop keeps a resumable checkpoint."""

    model_ready = Signal(str)  # path of the trained model

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.handle = None
        self.title = QLabel("No training running. Train → Train image model… starts one.")
        self.title.setWordWrap(True)
        self.preview = QLabel()
        self.preview.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.preview.setMinimumSize(200, 200)
        self.preview.setToolTip("Samples from fixed latents, redrawn every few hundred steps")
        self.chart = LossChart()
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.status = QLabel()
        self.log = QListWidget()
        # Long paths and big preview grids must not widen the side panel past the window.
        for label in (self.title, self.status, self.preview):
            label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.stop = QPushButton("Stop (keeps a resumable checkpoint)")
        self.stop.setEnabled(False)
        self.stop.clicked.connect(self._stop)
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(self.preview)
        splitter.addWidget(self.chart)
        splitter.addWidget(self.log)
        layout = QVBoxLayout(self)
        layout.addWidget(self.title)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        layout.addWidget(splitter, 1)
        layout.addWidget(self.stop)

    @property
    def running(self) -> bool:
        """True while the followed job is not done."""
        return self.handle is not None and not self.handle.done

    def attach(self, handle, description: str) -> None:
        """Follow a submitted training job."""
        self.handle = handle
        self.title.setText(description)
        self.title.setToolTip(description)
        self.chart.clear()
        self.log.clear()
        self.progress.setValue(0)
        self.stop.setEnabled(True)
        handle.progress.connect(self._on_progress)
        handle.partial.connect(self._on_partial)
        handle.log.connect(self.log.addItem)
        handle.finished.connect(self._on_finished)
        handle.failed.connect(lambda message: self._done(f"Training failed: {message}"))
        handle.cancelled.connect(lambda: self._done("Training stopped. Resume it with the same output file."))

    def _on_progress(self, fraction: float, message: str) -> None:
        if fraction >= 0:
            self.progress.setValue(int(fraction * 1000))
        self.status.setText(message)

    def _on_partial(self, event) -> None:
        if isinstance(event, LossPoint):
            # KL is in nats per image, on another scale than the per-pixel terms; it stays in the status line.
            self.chart.add(event.step, {k: v for k, v in event.values.items() if k != "kl"})
        elif isinstance(event, Preview):
            self.preview.setPixmap(to_pixmap(event.image, max(200, min(self.preview.width(), self.preview.height()))))

    def _on_finished(self, result: TrainingResult) -> None:
        self._done(f"Finished {result.steps} steps → {result.path}")
        self.model_ready.emit(result.path)

    def _done(self, message: str) -> None:
        self.status.setText(message)
        self.log.addItem(message)
        self.stop.setEnabled(False)

    def _stop(self) -> None:
        if self.running:
            self.handle.cancel()
            self.status.setText("Stopping…")
