"""The strip that appears after Variations: flip through the alternatives, audition, keep one or discard all."""

from __future__ import annotations

from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QToolButton


class VariationsBar(QFrame):
    """``Variation 3 of 8  ◀ ▶  Audition  Keep  Discard``; the generation controller connects the buttons."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setFrameShape(QFrame.StyledPanel)
        self.label = QLabel("")
        self.previous = QToolButton(text="◀")
        self.previous.setToolTip("Previous alternative (Alt+Left)")
        self.next = QToolButton(text="▶")
        self.next.setToolTip("Next alternative (Alt+Right)")
        self.audition = QPushButton("Audition")
        self.audition.setToolTip("Play the varied bars in a loop")
        self.keep = QPushButton("Keep")
        self.keep.setToolTip("Keep this alternative (one undo step: Ctrl+Z brings the original back)")
        self.discard = QPushButton("Discard")
        self.discard.setToolTip("Put the original bars back")
        row = QHBoxLayout(self)
        row.setContentsMargins(6, 2, 6, 2)
        for w in (self.label, self.previous, self.next, self.audition, self.keep, self.discard):
            row.addWidget(w)
        row.addStretch(1)
        self.hide()

    def show_choice(self, index: int, count: int, first_bar: int, last_bar: int) -> None:
        """Say which alternative is in place and show the strip."""
        self.label.setText(f"Variation {index + 1} of {count} · bars {first_bar + 1}-{last_bar}")
        self.previous.setEnabled(count > 1)
        self.next.setEnabled(count > 1)
        self.show()
