"""Train dialog for text-gpt and text-vae: data, length, output; live loss curve and samples."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from aigc_studio.core.events import HeldOutLoss, LossPoint, Sample, TrainingResult
from aigc_studio.core.paths import user_models_dir
from aigc_studio.core.registry import list_models
from aigc_studio.ui.file_dialogs import choose_folder, open_file
from aigc_studio.ui.gpu_choice import chosen_gpus, gpu_spin_box
from aigc_studio.ui.loss_chart import LossChart

SIZES = {  # name: (layers, heads, width, context)
    "Tiny (0.1 M parameters, minutes)": (2, 2, 64, 64),
    "Small (0.8 M, an hour on a CPU)": (4, 4, 128, 128),
    "Medium (1.8 M, a few hours on a CPU)": (4, 6, 192, 128),
    "Large (10 M, GPU)": (6, 6, 384, 256),
}


class TrainTextDialog(QDialog):
    """Set up and watch a text-gpt or text-vae training run (runs on the engine)."""

    model_trained = Signal(object)  # output path

    def __init__(self, engine, parent: QWidget | None = None, kind: str = "text-gpt") -> None:
        super().__init__(parent)
        self.engine = engine
        self.handle = None
        self.setWindowTitle("Train a text model")
        self.resize(640, 680)
        self.kind = QComboBox()
        self.kind.addItem("GPT (continues text)", "text-gpt")
        self.kind.addItem("Sentence VAE (blends sentences)", "text-vae")
        self.kind.setCurrentIndex(max(0, self.kind.findData(kind)))
        self.data = QLineEdit()
        self.data.setPlaceholderText("a .txt/.md file or a folder of them")
        browse_file, browse_folder = QPushButton("File…"), QPushButton("Folder…")
        browse_file.clicked.connect(self._browse_file)
        browse_folder.clicked.connect(self._browse_folder)
        self.steps = QSpinBox()
        self.steps.setRange(1, 1_000_000)
        self.steps.setValue(2000)
        self.size = QComboBox()
        self.size.addItems(list(SIZES))
        self.size.setCurrentIndex(1)
        self.tokenizer = QComboBox()
        self.tokenizer.addItem("automatic (characters below 2 MB of text, else BPE)", "auto")
        self.tokenizer.addItem("characters", "char")
        self.tokenizer.addItem("byte-level BPE (2048 tokens)", "bpe")
        self.init = QComboBox()
        self.init.addItem("from scratch", None)
        for entry in list_models("text-gpt"):
            self.init.addItem(f"fine-tune {entry.name}", str(entry.path))
        self.out = QLineEdit(str(user_models_dir() / "my-text-gpt.safetensors"))
        self.resume = QCheckBox("resume the output file if it is a checkpoint")
        self.start_button = QPushButton("Start training")
        self.stop_button = QPushButton("Stop (keeps a checkpoint)")
        self.stop_button.setEnabled(False)
        self.start_button.clicked.connect(self.start)
        self.stop_button.clicked.connect(self.stop)
        self.progress = QProgressBar()
        self.status = QLabel("")
        self.plot = LossChart()
        self.sample = QPlainTextEdit()
        self.sample.setReadOnly(True)
        self.sample.setPlaceholderText("Samples from the model appear here while it trains.")
        self.log = QPlainTextEdit()
        self.log.setReadOnly(True)
        self.log.setMaximumHeight(110)

        data_row = QHBoxLayout()
        data_row.addWidget(self.data, 1)
        data_row.addWidget(browse_file)
        data_row.addWidget(browse_folder)
        form = QFormLayout()
        form.addRow("Model type", self.kind)
        form.addRow("Training text", data_row)
        form.addRow("Steps", self.steps)
        form.addRow("Size", self.size)
        form.addRow("Tokenizer", self.tokenizer)
        form.addRow("Start from", self.init)
        form.addRow("Save as", self.out)
        self.gpus = gpu_spin_box()  # only with two or more GPUs
        if self.gpus is not None:
            form.addRow("GPUs", self.gpus)
        form.addRow("", self.resume)
        buttons = QHBoxLayout()
        buttons.addWidget(self.start_button)
        buttons.addWidget(self.stop_button)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addLayout(buttons)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        layout.addWidget(self.plot)
        layout.addWidget(QLabel("Samples"))
        layout.addWidget(self.sample, 1)
        layout.addWidget(self.log)
        self.kind.currentIndexChanged.connect(self._kind_changed)
        self._kind_changed()

    def _kind_changed(self) -> None:
        gpt = self.kind.currentData() == "text-gpt"
        self.size.setEnabled(gpt)
        self.init.setEnabled(gpt)
        self.tokenizer.setEnabled(gpt)
        name = "my-text-gpt" if gpt else "my-text-vae"
        if Path(self.out.text()).stem in ("my-text-gpt", "my-text-vae"):
            self.out.setText(str(user_models_dir() / f"{name}.safetensors"))

    def _browse_file(self) -> None:
        path = open_file(self, "training-data", "Training text", "Text (*.txt *.md);;All files (*)")
        if path is not None:
            self.data.setText(str(path))

    def _browse_folder(self) -> None:
        folder = choose_folder(self, "training-data", "Folder of training texts")
        if folder is not None:
            self.data.setText(str(folder))

    def build_job(self):
        """The job for the current form (run as one process per GPU when several are chosen)."""
        from aigc_studio.core.launched_job import on_gpus

        return on_gpus(self._build_job(), chosen_gpus(self.gpus))

    def _build_job(self):
        from aigc_studio.text.jobs import TrainGPTJob, TrainVAEJob

        out = self.out.text().strip()
        resume = out if self.resume.isChecked() and Path(out).exists() else None
        settings = {
            "data": [self.data.text().strip()],
            "steps": self.steps.value(),
            "out": out,
            "resume": resume,
            "checkpoint_every": 200,
        }
        if self.kind.currentData() == "text-vae":
            return TrainVAEJob({**settings, "sample_every": 100})
        layers, heads, width, context = SIZES[self.size.currentText()]
        settings.update(
            layers=layers,
            heads=heads,
            width=width,
            context=context,
            init=self.init.currentData(),
            tokenizer=self.tokenizer.currentData(),
            sample_every=max(50, self.steps.value() // 10),
            eval_every=max(25, self.steps.value() // 20),
        )
        return TrainGPTJob(settings)

    def start(self) -> None:
        """Submit the training job."""
        if not self.data.text().strip():
            self.status.setText("Choose the training text first.")
            return
        if not self.out.text().strip():
            self.status.setText("Choose where to save the model.")
            return
        self.plot.clear()
        self.handle = self.engine.submit(self.build_job())
        self.handle.progress.connect(self._on_progress)
        self.handle.partial.connect(self._on_partial)
        self.handle.log.connect(self.log.appendPlainText)
        self.handle.finished.connect(self._on_finished)
        self.handle.failed.connect(lambda message: self._done(f"Failed: {message}"))
        self.handle.cancelled.connect(lambda: self._done("Stopped; the checkpoint can be resumed."))
        self.start_button.setEnabled(False)
        self.stop_button.setEnabled(True)
        self.status.setText("Starting…")

    def stop(self) -> None:
        """Cancel the run (the job saves a checkpoint first)."""
        if self.handle is not None:
            self.handle.cancel()

    def _on_progress(self, fraction: float, message: str) -> None:
        if fraction >= 0:
            self.progress.setRange(0, 1000)
            self.progress.setValue(int(fraction * 1000))
        else:
            self.progress.setRange(0, 0)
        self.status.setText(message)

    def _on_partial(self, event) -> None:
        if isinstance(event, LossPoint):  # a HeldOutLoss is a LossPoint too
            self.plot.add(
                event.step, {"held-out" if isinstance(event, HeldOutLoss) else "training": event.values["loss"]}
            )
        elif isinstance(event, Sample):
            self.sample.setPlainText(f"— step {event.step} —\n{event.text}")

    def _on_finished(self, result: TrainingResult) -> None:
        bits = [f"{k}: {v:.3f}" if isinstance(v, float) else f"{k}: {v}" for k, v in result.flat_metrics().items()]
        self._done(f"Done: {result.steps} steps. " + ", ".join(bits))
        self.model_trained.emit(Path(result.path))

    def _done(self, message: str) -> None:
        self.status.setText(message)
        self.start_button.setEnabled(True)
        self.stop_button.setEnabled(False)
        self.handle = None

    def is_busy(self) -> bool:
        """True while training runs."""
        return self.handle is not None
