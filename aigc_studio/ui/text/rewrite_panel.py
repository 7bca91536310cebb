"""Rewrite selection: the preview beside the editor and the controller that runs the chat model.

The answer streams into the preview, never into the document; Accept puts it
in place of the selection (or after it, for "Continue in its style") as one
undo step marked as generated; Discard and Stop leave the document untouched.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QTextCursor
from PySide6.QtWidgets import (
    QComboBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from aigc_studio.core.events import TextPiece, TextTrim
from aigc_studio.text.jobs import generation_summary
from aigc_studio.text.rewrite import PRESETS, rewrite_refusal
from aigc_studio.ui.text.editor import GenerationWriter, WriterEditor

OWN = "own"  # the preset combo's entry for the writer's own instruction


class RewritePanel(QFrame):
    """Instruction (preset, tone or own words), the selected passage, the streamed answer and its buttons."""

    rewrite_requested = Signal()
    accept_requested = Signal()
    discard_requested = Signal()
    stop_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("rewritePanel")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.preset = QComboBox()
        for key, (label, *_rest) in PRESETS.items():
            self.preset.addItem(label, key)
        self.preset.addItem("Your own instruction…", OWN)
        self.tone = QLineEdit()
        self.tone.setPlaceholderText("tone, e.g. warmer, formal, playful")
        self.instruction = QLineEdit()
        self.instruction.setPlaceholderText("e.g. Make it sound like a letter from 1900")
        self.rewrite_button = QPushButton("Rewrite")
        self.rewrite_button.setDefault(True)
        self.original = QPlainTextEdit(readOnly=True)
        self.original.setObjectName("rewriteOriginal")
        self.original.setMaximumHeight(110)
        self.preview = QPlainTextEdit(readOnly=True)
        self.preview.setObjectName("rewritePreview")
        self.preview.setPlaceholderText("The model's version appears here.")
        self.status = QLabel("")
        self.status.setWordWrap(True)
        self.accept_button = QPushButton("Accept")
        self.accept_button.setToolTip("Put this version in place of the selection (one undo step)")
        self.retry_button = QPushButton("Retry")
        self.retry_button.setToolTip("Ask again with another seed")
        self.discard_button = QPushButton("Discard")
        self.discard_button.setToolTip("Close the preview; the text stays as it is")
        self.stop_button = QPushButton("Stop")

        ask = QHBoxLayout()
        ask.addWidget(self.preset, 1)
        ask.addWidget(self.rewrite_button)
        buttons = QHBoxLayout()
        for button in (self.accept_button, self.retry_button, self.discard_button, self.stop_button):
            buttons.addWidget(button)
        title = QLabel("<b>Rewrite selection</b>")
        layout = QVBoxLayout(self)
        layout.addWidget(title)
        layout.addLayout(ask)
        layout.addWidget(self.tone)
        layout.addWidget(self.instruction)
        layout.addWidget(QLabel("Selected text:"))
        layout.addWidget(self.original)
        layout.addWidget(QLabel("New version:"))
        layout.addWidget(self.preview, 1)
        layout.addWidget(self.status)
        layout.addLayout(buttons)

        self.preset.currentIndexChanged.connect(self._show_fields)
        self.rewrite_button.clicked.connect(self.rewrite_requested)
        self.instruction.returnPressed.connect(self.rewrite_requested)
        self.tone.returnPressed.connect(self.rewrite_requested)
        self.retry_button.clicked.connect(self.rewrite_requested)
        self.accept_button.clicked.connect(self.accept_requested)
        self.discard_button.clicked.connect(self.discard_requested)
        self.stop_button.clicked.connect(self.stop_requested)
        self._show_fields()
        self.set_state("ready")

    def _show_fields(self) -> None:
        key = self.preset.currentData()
        self.tone.setVisible(key == "tone")
        self.instruction.setVisible(key == OWN)

    def choice(self) -> dict:
        """RewriteJob's instruction fields."""
        key = self.preset.currentData()
        if key == OWN:
            return {"preset": None, "instruction": self.instruction.text(), "tone": ""}
        return {"preset": key, "instruction": "", "tone": self.tone.text()}

    def set_state(self, state: str) -> None:
        """'ready' (nothing asked yet), 'streaming', or 'done' (an answer waits for Accept/Retry/Discard)."""
        streaming = state == "streaming"
        self.rewrite_button.setEnabled(not streaming)
        self.preset.setEnabled(not streaming)
        self.stop_button.setEnabled(streaming)
        self.accept_button.setEnabled(state == "done" and bool(self.preview.toPlainText().strip()))
        self.retry_button.setEnabled(state == "done")

    def show_passage(self, passage: str) -> None:
        """A new selection: show it, clear the last answer."""
        self.original.setPlainText(passage)
        self.preview.clear()
        self.status.setText("")
        self.set_state("ready")


class RewriteController(QObject):
    """Runs RewriteJob on the engine for the editor's selection and applies the accepted answer."""

    message = Signal(str)
    busy_changed = Signal(bool)

    def __init__(self, engine, editor: WriterEditor, sampling, panel: RewritePanel, parent=None) -> None:
        super().__init__(parent)
        self.engine, self.editor, self.sampling, self.panel = engine, editor, sampling, panel
        self.handle = None
        self.selection: QTextCursor | None = None
        self.passage = ""
        self.result: dict | None = None
        self.attempt = 0
        panel.rewrite_requested.connect(self.start)
        panel.accept_requested.connect(self.accept)
        panel.discard_requested.connect(self.discard)
        panel.stop_requested.connect(self.stop)
        panel.hide()

    @property
    def busy(self) -> bool:
        """True while an answer streams into the preview."""
        return self.handle is not None

    def refusal(self) -> str | None:
        """Why the chosen model cannot rewrite (None when it can)."""
        return rewrite_refusal(self.sampling.model_path())

    def open_for_selection(self) -> bool:
        """Rewrite selection…: check the model and the selection, then show the preview beside the editor."""
        if self.busy:
            return False
        if (refusal := self.refusal()) is not None:
            self.message.emit(refusal)
            return False
        cursor = self.editor.textCursor()
        passage = cursor.selectedText().replace("\u2029", "\n")
        if not passage.strip():
            self.message.emit("Select the text to rewrite first.")
            return False
        # A QTextCursor follows edits elsewhere in the document, so Accept still finds the passage.
        self.selection = QTextCursor(self.editor.document())
        self.selection.setPosition(cursor.selectionStart())
        self.selection.setPosition(cursor.selectionEnd(), QTextCursor.MoveMode.KeepAnchor)
        self.passage, self.result, self.attempt = passage, None, 0
        self.panel.show_passage(passage)
        self.panel.show()
        self.panel.preset.setFocus()
        return True

    def start(self) -> bool:
        """Ask the model (again: Retry uses the next seed)."""
        from aigc_studio.text.rewrite import RewriteJob

        if self.busy or self.selection is None:
            return False
        model = self.sampling.model_path()
        if (refusal := rewrite_refusal(model)) is not None:
            self.panel.status.setText(refusal)
            return False
        seed = self.sampling.next_seed() + self.attempt
        self.attempt += 1
        options = self.sampling.job_options()
        job = RewriteJob(
            model=str(model),
            passage=self.passage,
            seed=seed,
            allow_pickle=self.sampling.allow_pickle(Path(model)),
            temperature=options["temperature"],
            top_k=options["top_k"],
            top_p=options["top_p"],
            repetition_penalty=options["repetition_penalty"],
            loop_stop=options.get("loop_stop", True),
            **self.panel.choice(),
        )
        self.result = None
        self.panel.preview.clear()
        self.panel.status.setText(f"Writing… (seed {seed})")
        self.panel.set_state("streaming")
        handle = self.handle = self.engine.submit(job, seed=seed)
        handle.partial.connect(lambda payload, h=handle: self._on_partial(h, payload))
        handle.finished.connect(lambda result, h=handle: self._on_finished(h, result))
        handle.failed.connect(lambda text, h=handle: self._end(h, text))
        handle.cancelled.connect(lambda h=handle: self._end(h, "Stopped; the text is unchanged."))
        self.busy_changed.emit(True)
        return True

    def _on_partial(self, handle, payload) -> None:
        if handle is not self.handle:
            return
        preview = self.panel.preview
        if isinstance(payload, TextPiece):
            preview.moveCursor(QTextCursor.MoveOperation.End)
            preview.insertPlainText(payload.text)
        elif isinstance(payload, TextTrim):
            text = preview.toPlainText()
            preview.setPlainText(text[: max(0, len(text) - payload.chars)])

    def _on_finished(self, handle, result) -> None:
        if handle is not self.handle:
            return
        self.result = result
        self.panel.preview.setPlainText(result["text"].strip())
        self._end(handle, generation_summary(result) + " Accept, Retry or Discard.", done=True)

    def _end(self, handle, status: str, done: bool = False) -> None:
        if handle is not self.handle:
            return
        self.handle = None
        self.panel.status.setText(status)
        self.panel.set_state("done" if done else "ready")
        self.busy_changed.emit(False)

    def stop(self) -> None:
        """Stop the answer now; the document is untouched."""
        if self.handle is not None:
            handle = self.handle
            handle.cancel()
            self._end(handle, "Stopped; the text is unchanged.")

    def accept(self) -> bool:
        """Put the answer in place (one undo step, marked as generated) and close the preview."""
        if self.busy or self.result is None or self.selection is None:
            return False
        if self.editor.isReadOnly():
            self.panel.status.setText("Wait for the generation to finish (or stop it), then Accept.")
            return False
        if self.selection.selectedText().replace("\u2029", "\n") != self.passage:
            self.panel.status.setText("The selected text was edited meanwhile; select it again and rewrite.")
            return False
        start, end = self.selection.selectionStart(), self.selection.selectionEnd()
        if self.result.get("placement") == "after":
            writer = GenerationWriter(self.editor, end)
        else:
            writer = GenerationWriter(self.editor, start, replace_end=end)
        writer.append(self.result["replacement"])
        self.message.emit(f"Rewrote the selection: {len(self.result['replacement'].split())} words.")
        self._close()
        return True

    def discard(self) -> None:
        """Close the preview and leave the text as it is."""
        self.stop()
        self._close()
        self.message.emit("Discarded the new version; the text is unchanged.")

    def _close(self) -> None:
        self.selection, self.result = None, None
        self.panel.hide()
        self.editor.setFocus(Qt.FocusReason.OtherFocusReason)
