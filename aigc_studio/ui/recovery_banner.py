"""The banner a pane shows when a crashed session left unsaved work: [Restore] [Discard], no modal dialog."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Protocol

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QWidget


class Recoverable(Protocol):
    """Work found in an autosave: what it is, a short size, when it was saved, and how to forget it."""

    what: str  # "Unsaved text of notes.md", "An unsaved song “song.mid”"
    details: str  # "1,204 words", "312 notes"
    saved_at: float

    def delete(self) -> None: ...


def autosave_time(saved_at: float) -> str:
    """'14:05' for today, '2026-11-28 14:05' for an older autosave."""
    stamp = time.localtime(saved_at)
    today = time.localtime()
    same_day = (stamp.tm_year, stamp.tm_yday) == (today.tm_year, today.tm_yday)
    return time.strftime("%H:%M" if same_day else "%Y-%m-%d %H:%M", stamp)


def recovery_message(recovered: Recoverable) -> str:
    """The banner's sentence for ``recovered``."""
    return (
        f"AIGC Studio did not close properly. {recovered.what} ({recovered.details}, "
        f"autosaved at {autosave_time(recovered.saved_at)}) can be restored."
    )


class RecoveryBanner(QFrame):
    """ "AIGC Studio did not close properly. <work> can be restored. [Restore] [Discard]".

    ``find`` lists the recoverable work, newest first. Discard forgets the offered work
    and offers the next; Restore is the pane's (it calls :meth:`refresh` when done).
    """

    restore = Signal(object)

    def __init__(self, find: Callable[[], Sequence[Recoverable]], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.find = find
        self.setObjectName("recoveryBanner")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setStyleSheet("#recoveryBanner { background: #fff4c2; } #recoveryBanner QLabel { color: #3a3000; }")
        self.recovered: Recoverable | None = None
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.restore_button = QPushButton("Restore")
        self.discard_button = QPushButton("Discard")
        self.restore_button.clicked.connect(lambda: self.recovered and self.restore.emit(self.recovered))
        self.discard_button.clicked.connect(self._discard)
        layout = QHBoxLayout(self)
        layout.addWidget(self.label, 1)
        layout.addWidget(self.restore_button)
        layout.addWidget(self.discard_button)
        self.hide()

    def refresh(self) -> None:
        """Offer the newest recoverable work, or hide when there is none."""
        found = self.find()
        self.offer(found[0] if found else None)

    def _discard(self) -> None:
        if self.recovered is not None:
            self.recovered.delete()
            self.refresh()

    def offer(self, recovered: Recoverable | None) -> None:
        """Show the banner for ``recovered`` (or hide it when None)."""
        self.recovered = recovered
        if recovered is None:
            self.hide()
            return
        self.label.setText(recovery_message(recovered))
        self.show()
