"""Sentence blend tool: two sentences in, N sentences on the sentence-VAE path between them out."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLineEdit,
    QListWidget,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from aigc_studio.ui.model_picker import ModelPicker


class BlendPanel(QGroupBox):
    """Pick two sentences (typed or taken from the editor), blend them, insert a result."""

    blend_requested = Signal(str, str, int)
    neighbours_requested = Signal(str, int)
    insert_requested = Signal(str)
    take_selection = Signal(object)  # the QLineEdit to fill with the editor's sentence

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Sentence blend (VAE)", parent)
        self.picker = ModelPicker(("text-vae",))
        self.picker.setMinimumWidth(150)
        self.first = QLineEdit()
        self.second = QLineEdit()
        for edit in (self.first, self.second):
            edit.setPlaceholderText("type a sentence or take it from the text")
        self.steps = QSpinBox()
        self.steps.setRange(2, 20)
        self.steps.setValue(5)
        self.blend_button = QPushButton("Blend")
        self.blend_button.clicked.connect(self._blend)
        self.near_button = QPushButton("Neighbours of first")
        self.near_button.clicked.connect(lambda: self.neighbours_requested.emit(self.first.text(), self.steps.value()))
        self.results = QListWidget()
        self.results.setMinimumHeight(90)
        self.results.itemDoubleClicked.connect(lambda item: self.insert_requested.emit(item.text()))
        self.insert_button = QPushButton("Insert at cursor")
        self.insert_button.clicked.connect(self._insert)

        form = QFormLayout()
        form.addRow("Model", self.picker)
        form.addRow("From", self._with_take(self.first))
        form.addRow("To", self._with_take(self.second))
        form.addRow("Sentences", self.steps)
        buttons = QHBoxLayout()
        buttons.addWidget(self.blend_button)
        buttons.addWidget(self.near_button)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addLayout(buttons)
        layout.addWidget(self.results, 1)
        layout.addWidget(self.insert_button)

    def _with_take(self, edit: QLineEdit) -> QWidget:
        row = QWidget()
        box = QHBoxLayout(row)
        box.setContentsMargins(0, 0, 0, 0)
        box.addWidget(edit, 1)
        take = QPushButton("◂ text")
        take.setToolTip("Use the selected text, or the sentence at the cursor")
        take.clicked.connect(lambda: self.take_selection.emit(edit))
        box.addWidget(take)
        return row

    def _blend(self) -> None:
        self.blend_requested.emit(self.first.text(), self.second.text(), self.steps.value())

    def _insert(self) -> None:
        item = self.results.currentItem() or (self.results.item(0) if self.results.count() else None)
        if item is not None:
            self.insert_requested.emit(item.text())

    def show_results(self, sentences: list[str]) -> None:
        """List the sentences; the first is selected."""
        self.results.clear()
        self.results.addItems(sentences)
        if sentences:
            self.results.setCurrentRow(0)

    def set_busy(self, busy: bool) -> None:
        """Disable the buttons while a blend runs."""
        self.blend_button.setEnabled(not busy)
        self.near_button.setEnabled(not busy)
