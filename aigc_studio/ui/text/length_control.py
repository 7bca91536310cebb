"""The length control of the writer's side panel: an amount in words, sentences, paragraphs or tokens.

It also holds the two ending switches: "Finish the sentence" and "Stop repetition loops".
"""

from __future__ import annotations

from PySide6.QtWidgets import QCheckBox, QComboBox, QHBoxLayout, QSpinBox, QVBoxLayout, QWidget

from aigc_studio.ui.settings import read_setting

UNIT_LABELS = {"words": "words", "sentences": "sentences", "paragraphs": "paragraphs", "tokens": "tokens"}


class LengthControl(QWidget):
    """Amount + unit (default 80 words), finish the sentence (default on), stop loops (default on)."""

    def __init__(self, settings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.settings = settings
        self.amount = QSpinBox()
        self.amount.setRange(1, 4000)
        self.amount.setValue(read_setting(settings, "text/length_amount", 80, int))
        self.amount.setToolTip("How much one Continue writes")
        self.amount.setAccessibleName("Length")
        self.unit = QComboBox()
        for unit, label in UNIT_LABELS.items():
            self.unit.addItem(label, unit)
        self.unit.setToolTip(
            "Words, sentences and paragraphs are turned into the model's tokens whatever its tokenizer "
            "(the starter model's tokens are single characters)"
        )
        remembered = self.unit.findData(read_setting(settings, "text/length_unit", "words", str))
        self.unit.setCurrentIndex(max(0, remembered))
        self.finish_sentence = QCheckBox("Finish the sentence")
        self.finish_sentence.setToolTip(
            "End at the end of a sentence near the length (a few words early or late); "
            "when none comes in time, end on a whole word"
        )
        self.finish_sentence.setChecked(read_setting(settings, "text/finish_sentence", True, bool))
        self.loop_stop = QCheckBox("Stop repetition loops")
        self.loop_stop.setToolTip(
            "Stop when the model repeats the same passage three times in a row, and cut the repeats"
        )
        self.loop_stop.setChecked(read_setting(settings, "text/loop_stop", True, bool))

        self.amount.valueChanged.connect(lambda v: settings.setValue("text/length_amount", v))
        self.unit.currentIndexChanged.connect(lambda _i: settings.setValue("text/length_unit", self.unit.currentData()))
        self.finish_sentence.toggled.connect(lambda on: settings.setValue("text/finish_sentence", on))
        self.loop_stop.toggled.connect(lambda on: settings.setValue("text/loop_stop", on))

        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.amount, 1)
        row.addWidget(self.unit, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addLayout(row)
        layout.addWidget(self.finish_sentence)
        layout.addWidget(self.loop_stop)

    def set_length(self, amount: int, unit: str = "words") -> None:
        """Set the amount and unit (tests, restoring a recipe)."""
        self.unit.setCurrentIndex(self.unit.findData(unit))
        self.amount.setValue(amount)

    def job_options(self) -> dict:
        """GenerateTextJob's length fields: with the sentence switch off, words end on a whole word and
        tokens are cut exactly."""
        unit = self.unit.currentData()
        finish = "word" if unit != "tokens" else "none"
        if self.finish_sentence.isChecked():
            finish = "sentence"
        return {
            "length": self.amount.value(),
            "length_unit": unit,
            "finish": finish,
            "loop_stop": self.loop_stop.isChecked(),
        }
