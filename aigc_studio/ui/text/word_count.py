"""Word / character / token counter for the side panel (debounced so long texts stay smooth)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, QTimer

from aigc_studio.errors import StudioError


class WordCounter(QObject):
    """Counts words and the chosen model's tokens a moment after the text stops changing."""

    def __init__(self, editor, panel, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.editor = editor
        self.panel = panel
        self._tokenizer = None
        self._tokenizer_for: Path | None = None
        self._timer = QTimer(self, singleShot=True, interval=400)
        self._timer.timeout.connect(self.update)
        editor.document().contentsChanged.connect(self._timer.start)
        panel.model_changed.connect(lambda _path: self._timer.start())
        self.update()

    def _tokenizer_for_model(self):
        path = self.panel.model_path()
        if path != self._tokenizer_for:
            self._tokenizer_for, self._tokenizer = path, None
            if path is not None and Path(path).is_file():
                from aigc_studio.core.modelfile import read_card
                from aigc_studio.text.tokenizer import tokenizer_from_card

                try:
                    self._tokenizer = tokenizer_from_card(read_card(path, "text-gpt").tokenizer)
                except StudioError:
                    self._tokenizer = None
        return self._tokenizer

    def update(self) -> None:
        """Recount now."""
        text = self.editor.toPlainText()
        words = len(text.split())
        parts = [f"{words:,} words", f"{len(text):,} characters"]
        tokenizer = self._tokenizer_for_model()
        if tokenizer is not None and len(text) < 2_000_000:
            parts.append(f"{len(tokenizer.encode(text)):,} tokens")
        generated = sum(e - s for s, e in self.editor.generated_text_ranges())
        if generated:
            parts.append(f"{generated:,} characters generated")
        self.panel.counter.setText(" · ".join(parts))
