"""Side panel: model picker (own GPT files or Hugging Face folders), sampling controls, counters."""

from __future__ import annotations

import random
from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from aigc_studio.errors import StudioError
from aigc_studio.ui.file_dialogs import choose_folder
from aigc_studio.ui.model_picker import ModelPicker
from aigc_studio.ui.settings import read_setting
from aigc_studio.ui.text.length_control import LengthControl


def confirm_pickle(parent: QWidget, message: str) -> bool:
    """Ask whether to load pickle weights anyway (default: no)."""
    box = QMessageBox(QMessageBox.Icon.Warning, "Unsafe model weights", message, parent=parent)
    box.setInformativeText("Load these weights anyway?")
    box.setStandardButtons(QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No)
    box.setDefaultButton(QMessageBox.StandardButton.No)
    box.button(QMessageBox.StandardButton.Yes).setText("Load anyway (I trust this file)")
    return box.exec() == QMessageBox.StandardButton.Yes


class SamplingPanel(QWidget):
    """Everything the Continue command reads: model, temperature, top-k/p, penalty, length, seed, stops."""

    model_changed = Signal(object)

    def __init__(self, settings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.settings = settings
        self.allowed_pickle: set[str] = set()
        self.picker = ModelPicker(("text-gpt",))
        self.picker.model_changed.connect(self.model_changed)
        self.folder_button = QPushButton("Open model folder…")
        self.folder_button.setToolTip(
            "A Hugging Face model folder on disk (config.json + safetensors + tokenizer), opened offline."
        )
        self.folder_button.clicked.connect(self.choose_folder)

        self.temperature = self._double(0.0, 2.0, 0.05, "temperature", 0.8, "0 = always the most likely word")
        self.top_k = self._int(0, 1000, "top_k", 0, "only the k most likely tokens (0 = off)")
        self.top_p = self._double(
            0.05, 1.0, 0.05, "top_p", 0.95, "nucleus: the smallest set of tokens with this much probability"
        )
        self.repetition = self._double(
            1.0, 2.0, 0.05, "repetition_penalty", 1.1, "make repeated tokens less likely (1 = off)"
        )
        self.length = LengthControl(settings)
        self.seed = self._int(0, 2**31 - 1, "seed", 1, "same seed + same settings = same text")
        self.random_seed = QCheckBox("random")
        self.random_seed.setToolTip("A new seed for each generation (the seed used is shown, so you can come back to it)")
        self.random_seed.setChecked(read_setting(settings, "text/random_seed", True, bool))
        self.random_seed.toggled.connect(lambda on: settings.setValue("text/random_seed", on))
        self.stops = QLineEdit(read_setting(settings, "text/stops", "", str))
        self.stops.setPlaceholderText(r"e.g. \n\n | THE END")
        self.stops.setToolTip("Stop before any of these (separate with |; \\n is a line break)")
        self.stops.editingFinished.connect(lambda: settings.setValue("text/stops", self.stops.text()))

        model_box = QGroupBox("Model")
        model_layout = QVBoxLayout(model_box)
        model_layout.addWidget(self.picker)
        model_layout.addWidget(self.folder_button)
        self.model_info = QLabel("")
        self.model_info.setWordWrap(True)
        model_layout.addWidget(self.model_info)

        sampling_box = QGroupBox("Sampling")
        form = QFormLayout(sampling_box)
        form.addRow("Temperature", self.temperature)
        form.addRow("Top-k", self.top_k)
        form.addRow("Top-p", self.top_p)
        form.addRow("Repeat penalty", self.repetition)
        form.addRow("Length", self.length)
        seed_row = QHBoxLayout()
        seed_row.addWidget(self.seed, 1)
        seed_row.addWidget(self.random_seed)
        form.addRow("Seed", seed_row)
        form.addRow("Stop at", self.stops)

        self.counter = QLabel("0 words")
        self.counter.setObjectName("wordCounter")
        self.counter.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(model_box)
        layout.addWidget(sampling_box)
        layout.addWidget(self.counter)
        self.model_changed.connect(self._describe_model)
        self.model_changed.connect(lambda path: settings.setValue("text/model", str(path) if path else ""))
        remembered = read_setting(settings, "text/model", "", str)
        if remembered and Path(remembered).exists() and Path(remembered) != self.picker.current_path():
            self.picker.select_path(Path(remembered))
        self._describe_model(self.picker.current_path())

    def _double(self, lo, hi, step, key, default, tip) -> QDoubleSpinBox:
        box = QDoubleSpinBox()
        box.setRange(lo, hi)
        box.setSingleStep(step)
        box.setDecimals(2)
        box.setValue(read_setting(self.settings, f"text/{key}", default, float))
        box.setToolTip(tip)
        box.valueChanged.connect(lambda v: self.settings.setValue(f"text/{key}", v))
        return box

    def _int(self, lo, hi, key, default, tip) -> QSpinBox:
        box = QSpinBox()
        box.setRange(lo, hi)
        box.setValue(read_setting(self.settings, f"text/{key}", default, int))
        box.setToolTip(tip)
        box.valueChanged.connect(lambda v: self.settings.setValue(f"text/{key}", v))
        return box

    def select_model(self, path: Path) -> None:
        """Select a model file or folder (adding it to the picker if needed)."""
        self.picker.select_path(Path(path))
        self.model_changed.emit(self.picker.current_path())

    def model_path(self) -> Path | None:
        """The chosen model file or folder."""
        return self.picker.current_path()

    def next_seed(self) -> int:
        """The seed for the next generation (a fresh one when 'random' is ticked)."""
        if self.random_seed.isChecked():
            self.seed.setValue(random.randrange(2**31 - 1))
        return self.seed.value()

    def stop_sequences(self) -> list[str]:
        """Stop sequences typed by the writer."""
        parts = [p.replace("\\n", "\n").replace("\\t", "\t") for p in self.stops.text().split("|")]
        return [p for p in (q.strip(" ") for q in parts) if p]

    def job_options(self) -> dict:
        """Keyword arguments for GenerateTextJob (model and prompt excluded)."""
        return {
            "temperature": self.temperature.value(),
            "top_k": self.top_k.value(),
            "top_p": self.top_p.value(),
            "repetition_penalty": self.repetition.value(),
            "stop": self.stop_sequences(),
            **self.length.job_options(),
        }

    def choose_folder(self) -> None:
        """Open a Hugging Face model folder (asks before allowing pickle weights)."""
        folder = choose_folder(self, "models", "Open a Hugging Face model folder")
        if folder is not None:
            self.use_folder(folder)

    def use_folder(self, folder: Path) -> bool:
        """Select a model folder after checking it; returns False when it cannot be used."""
        from aigc_studio.text.hf import PICKLE_WARNING, inspect_hf_folder

        try:
            info = inspect_hf_folder(folder)
        except StudioError as exc:
            QMessageBox.warning(self, "Cannot use this folder", str(exc))
            return False
        if info["needs_pickle"]:
            if not confirm_pickle(self, PICKLE_WARNING.format(files=", ".join(info["pickles"][:3]))):
                return False
            self.allowed_pickle.add(str(folder))
        self.select_model(folder)
        return True

    def allow_pickle(self, path: Path | None) -> bool:
        """Whether the writer allowed pickle weights for this folder."""
        return path is not None and str(path) in self.allowed_pickle

    def _describe_model(self, path) -> None:
        if path is None:
            self.model_info.setText("No model: train one (Train menu) or open a model folder.")
            return
        path = Path(path)
        if path.is_dir():
            self.model_info.setText(f"Hugging Face folder: {path.name}")
            return
        try:
            from aigc_studio.core.modelfile import read_card

            card = read_card(path, "text-gpt")
            self.model_info.setText(card.summary())
            self.model_info.setToolTip(f"{card.license}\n{card.data_sources}".strip())
        except StudioError as exc:
            self.model_info.setText(str(exc))
