"""Continue / Stop / Retry / alternatives: the pane's generation controller.

It owns the running job handle and the last generation's alternatives. Tokens
from a handle that is no longer current (after Stop) are ignored, so Stop takes
effect before the next token appears.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from aigc_studio.core.events import TextPiece, TextTrim
from aigc_studio.text.jobs import generation_summary
from aigc_studio.ui.text.editor import GenerationWriter, WriterEditor

PROMPT_CHARS = 6000  # the models see at most a few thousand characters; tokenising more is waste


@dataclass
class LastGeneration:
    """The most recent generation: where it is, what it continued, and every alternative so far."""

    writer: GenerationWriter
    prompt: str
    seed: int
    alternatives: list[str] = field(default_factory=list)
    index: int = -1


class GenerationController(QObject):
    """Runs GenerateTextJob on the engine and streams its tokens into the editor."""

    busy_changed = Signal(bool)
    message = Signal(str)

    def __init__(self, engine, editor: WriterEditor, panel, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.engine = engine
        self.editor = editor
        self.panel = panel
        self.handle = None
        self.writer: GenerationWriter | None = None
        self.last: LastGeneration | None = None
        self.tokens = 0

    @property
    def busy(self) -> bool:
        """True while a generation streams in."""
        return self.handle is not None

    def _model(self) -> Path | None:
        path = self.panel.model_path()
        if path is None:
            self.message.emit("Choose a model first: train one (Train menu) or open a model folder.")
        return path

    def continue_at_cursor(self) -> bool:
        """Start a new generation at the cursor; returns False when it could not start."""
        if self.busy:
            return False
        model = self._model()
        if model is None:
            return False
        position = self.editor.textCursor().selectionEnd()
        prompt = self.editor.toPlainText()[:position][-PROMPT_CHARS:]
        seed = self.panel.next_seed()
        writer = GenerationWriter(self.editor, position)
        self.last = LastGeneration(writer, prompt, seed)
        self._start(model, writer, prompt, seed)
        return True

    def retry(self) -> bool:
        """Replace the last generation with a new one; the old text stays as an alternative."""
        if self.busy:
            return False
        last = self.last
        if last is None or not last.writer.alive():
            self.message.emit("Nothing to retry: the last generation was edited or undone.")
            return False
        model = self._model()
        if model is None:
            return False
        seed = self.panel.next_seed()
        if not self.panel.random_seed.isChecked():
            seed += len(last.alternatives)  # a fixed seed would give the same text again
        writer = GenerationWriter(self.editor, last.writer.start, replace_end=last.writer.end)
        last.writer, last.seed = writer, seed
        self._start(model, writer, last.prompt, seed)
        return True

    def flip(self, delta: int) -> bool:
        """Show the previous/next alternative in place of the last generation (one undo step)."""
        last = self.last
        if self.busy or last is None or len(last.alternatives) < 2 or not last.writer.alive():
            return False
        last.index = (last.index + delta) % len(last.alternatives)
        writer = GenerationWriter(self.editor, last.writer.start, replace_end=last.writer.end)
        writer.append(last.alternatives[last.index])
        last.writer = writer
        self.message.emit(f"Alternative {last.index + 1} of {len(last.alternatives)}")
        return True

    def _start(self, model: Path, writer: GenerationWriter, prompt: str, seed: int) -> None:
        from aigc_studio.text.jobs import GenerateTextJob

        job = GenerateTextJob(
            model=str(model),
            prompt=prompt,
            seed=seed,
            allow_pickle=self.panel.allow_pickle(model),
            **self.panel.job_options(),
        )
        self.writer = writer
        self.tokens = 0
        self.editor.setReadOnly(True)
        handle = self.engine.submit(job, seed=seed)
        self.handle = handle
        handle.partial.connect(lambda payload, h=handle: self._on_partial(h, payload))
        handle.finished.connect(lambda result, h=handle: self._end(h, generation_summary(result)))
        handle.failed.connect(lambda text, h=handle: self._end(h, text, failed=True))
        handle.cancelled.connect(lambda h=handle: self._end(h, "Stopped."))
        self.busy_changed.emit(True)
        self.message.emit("Generating… (Esc stops)")

    def _on_partial(self, handle, event) -> None:
        if handle is not self.handle:
            return  # a token that arrived after Stop
        if isinstance(event, TextTrim):  # a repetition loop was cut
            self.writer.trim(event.chars)
        elif isinstance(event, TextPiece):
            self.tokens += 1
            self.writer.append(event.text)

    def stop(self) -> None:
        """Stop now: the handle is cancelled and any token still on its way is ignored."""
        if self.handle is not None:
            handle = self.handle
            handle.cancel()
            self._end(handle, "Stopped.")

    def _end(self, handle, message: str, failed: bool = False) -> None:
        if handle is not self.handle:
            return
        self.handle = None
        self.editor.setReadOnly(False)
        last = self.last
        if last is not None and self.writer is last.writer and self.writer.text:
            last.alternatives.append(self.writer.text)
            last.index = len(last.alternatives) - 1
            if len(last.alternatives) > 1:
                message += f"  Alternative {last.index + 1} of {len(last.alternatives)} (Alt+Left/Right to flip)."
        self.writer = None
        self.busy_changed.emit(False)
        self.message.emit(("Generation failed: " if failed else "") + message)
