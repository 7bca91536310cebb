"""The writing surface: a plain-text editor that shows generated spans in their own colour.

Streaming a generation goes through :class:`GenerationWriter`, which makes the
whole generation (however many tokens) a single undo step.
"""

from __future__ import annotations

from PySide6.QtCore import QTimer, Signal
from PySide6.QtGui import QColor, QFont, QTextCursor, QTextFormat
from PySide6.QtWidgets import QPlainTextEdit, QTextEdit, QWidget

from aigc_studio.text.spans import GeneratedSpans

GENERATED_BACKGROUND = QColor(70, 130, 200, 60)
GENERATED_FOREGROUND = {"light": QColor(30, 70, 140), "dark": QColor(150, 195, 255)}


class WriterEditor(QPlainTextEdit):
    """QPlainTextEdit (smooth with very long documents) + generated-span tracking."""

    spans_changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.spans = GeneratedSpans()
        font = QFont("DejaVu Serif")
        font.setPointSize(12)
        self.setFont(font)
        self.setLineWrapMode(QPlainTextEdit.LineWrapMode.WidgetWidth)
        self.setTabChangesFocus(False)
        self.setPlaceholderText("Write here. Ctrl+Enter continues from the cursor; Esc stops.")
        self.document().setDocumentMargin(16)
        self.document().contentsChange.connect(self._on_contents_change)
        self._repaint_timer = QTimer(self, singleShot=True, interval=30)
        self._repaint_timer.timeout.connect(self.refresh_highlights)
        self.document().setModified(False)  # changing the margin counts as a modification in Qt

    def _on_contents_change(self, position: int, removed: int, added: int) -> None:
        before = len(self.spans.ranges)
        self.spans.apply_edit(position, removed, added)
        if self.spans.ranges or before:
            self._repaint_timer.start()
        if len(self.spans.ranges) != before:
            self.spans_changed.emit()

    def refresh_highlights(self) -> None:
        """Show every generated span with the generated colour."""
        selections = []
        dark = self.palette().base().color().lightness() < 128
        foreground = GENERATED_FOREGROUND["dark" if dark else "light"]
        for start, end in self.spans.as_list():
            selection = QTextEdit.ExtraSelection()
            selection.format.setBackground(GENERATED_BACKGROUND)
            selection.format.setForeground(foreground)
            selection.format.setProperty(QTextFormat.Property.UserProperty, "generated")
            cursor = QTextCursor(self.document())
            cursor.setPosition(start)
            cursor.setPosition(min(end, self.document().characterCount() - 1), QTextCursor.MoveMode.KeepAnchor)
            selection.cursor = cursor
            selections.append(selection)
        self.setExtraSelections(selections)

    def set_document_text(self, text: str, spans: list | None = None, records: list | None = None) -> None:
        """Replace the whole text (opening a file); clears undo history and modified state."""
        self.spans.clear()
        self.setPlainText(text)
        self.spans.load(spans or [], len(text), records)
        self.document().setModified(False)
        self.refresh_highlights()
        self.spans_changed.emit()

    def generated_text_ranges(self) -> list[list[int]]:
        """Generated spans as ``[[start, end], ...]``."""
        return self.spans.as_list()


class GenerationWriter:
    """Writes one generation into the editor: optional replaced range, then streamed pieces.

    The first change opens an undo block and every later piece joins it, so
    Ctrl+Z removes the whole generation at once.
    """

    def __init__(self, editor: WriterEditor, position: int, replace_end: int | None = None) -> None:
        self.editor = editor
        self.start = position
        self._joined = False
        if replace_end is not None and replace_end > position:
            editor.spans.keep_outside(position, replace_end)
            cursor = self._cursor(position)
            cursor.setPosition(replace_end, QTextCursor.MoveMode.KeepAnchor)
            cursor.beginEditBlock()
            cursor.removeSelectedText()
            cursor.endEditBlock()
            self._joined = True
        self.span = editor.spans.add(position, position)
        self.text = ""

    def _cursor(self, position: int) -> QTextCursor:
        cursor = QTextCursor(self.editor.document())
        cursor.setPosition(min(position, self.editor.document().characterCount() - 1))
        return cursor

    @property
    def end(self) -> int:
        """Where the next piece goes."""
        return self.span[1]

    def alive(self) -> bool:
        """False once the span was removed (undo, or the writer edited it)."""
        return self.span in self.editor.spans.ranges

    def trim(self, chars: int) -> None:
        """Take back the last ``chars`` characters of the generation (a loop's repeats), in the same undo step."""
        chars = min(chars, len(self.text))
        if chars <= 0 or not self.alive():
            return
        cursor = self._cursor(self.span[1])
        cursor.setPosition(self.span[1] - chars, QTextCursor.MoveMode.KeepAnchor)
        spans = self.editor.spans.ranges
        record = self.editor.spans.record_of(self.span)
        spans.remove(self.span)  # an edit inside a span unmarks it; this one is ours, so the span steps aside
        cursor.joinPreviousEditBlock()
        cursor.removeSelectedText()
        cursor.endEditBlock()
        self.span[1] -= chars
        spans.append(self.span)
        spans.sort()
        self.editor.spans.set_record(self.span, record)  # the shorter span is still that generation's
        self.text = self.text[:-chars]
        self.editor.refresh_highlights()

    def append(self, piece: str) -> None:
        """Insert a piece at the end of the generation."""
        if not piece or not self.alive():
            return
        cursor = self._cursor(self.span[1])
        if self._joined:
            cursor.joinPreviousEditBlock()
        else:
            cursor.beginEditBlock()
            self._joined = True
        end_before = self.span[1]
        cursor.insertText(piece)
        cursor.endEditBlock()
        self.span[1] = end_before + len(piece)
        self.editor.spans.drop_copies_of(self.span)
        self.text += piece
        self.editor.refresh_highlights()
        self.editor.setTextCursor(self._cursor(self.span[1]))
        self.editor.ensureCursorVisible()
