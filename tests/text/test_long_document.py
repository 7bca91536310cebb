"""A novel-length document (50,000 words) stays responsive: typing and streaming stay fast."""

from __future__ import annotations

import time

from PySide6.QtGui import QTextCursor

from aigc_studio.ui.text.editor import GenerationWriter, WriterEditor


def test_streaming_and_typing_in_a_50000_word_document(qtbot):
    editor = WriterEditor()
    qtbot.addWidget(editor)
    editor.resize(800, 600)
    editor.show()
    paragraph = "The wind moved over the long grass and the river ran on toward the sea. " * 10 + "\n\n"
    editor.set_document_text(paragraph * 335)  # about 50,000 words
    assert len(editor.toPlainText().split()) > 49_000
    cursor = editor.textCursor()
    cursor.setPosition(len(paragraph) * 160)
    editor.setTextCursor(cursor)
    for i in range(40):  # earlier generations sprinkled through the book
        GenerationWriter(editor, len(paragraph) * (i * 5) + 3).append("generated words ")
    start = time.perf_counter()
    writer = GenerationWriter(editor, editor.textCursor().position())
    for i in range(300):
        writer.append("word ")
        if i % 50 == 0:
            qtbot.wait(0)  # let it paint now and then, as the event loop does between tokens
    streamed = time.perf_counter() - start
    start = time.perf_counter()
    editor.moveCursor(QTextCursor.MoveOperation.End)
    qtbot.keyClicks(editor, "She wrote on into the night. " * 4)
    typed = time.perf_counter() - start
    assert len(editor.generated_text_ranges()) == 41
    assert streamed < 3.0, f"300 streamed tokens took {streamed:.2f} s"
    assert typed < 3.0, f"typing 120 characters took {typed:.2f} s"
