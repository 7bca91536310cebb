"""A banner offering text recovered from an autosave after a crash (no modal dialog)."""

from __future__ import annotations

import time

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QWidget

from aigc_studio.ui.text.autosave import Recovered


class RecoveryBanner(QFrame):
    """ "Unsaved text from <time> was found. [Restore] [Discard]"."""

    restore = Signal(object)
    discard = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("recoveryBanner")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setStyleSheet("#recoveryBanner { background: #fff4c2; color: #3a3000; }")
        self.recovered: Recovered | None = None
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.restore_button = QPushButton("Restore")
        self.discard_button = QPushButton("Discard")
        self.restore_button.clicked.connect(lambda: self.recovered and self.restore.emit(self.recovered))
        self.discard_button.clicked.connect(lambda: self.recovered and self.discard.emit(self.recovered))
        layout = QHBoxLayout(self)
        layout.addWidget(self.label, 1)
        layout.addWidget(self.restore_button)
        layout.addWidget(self.discard_button)
        self.hide()

    def offer(self, recovered: Recovered | None) -> None:
        """Show the banner for ``recovered`` (or hide it when None)."""
        self.recovered = recovered
        if recovered is None:
            self.hide()
            return
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(recovered.saved_at))
        name = recovered.path or "an untitled document"
        self.label.setText(
            f"AIGC Studio did not close properly. Unsaved text of {name} ({recovered.words:,} words, "
            f"autosaved {when}) can be restored."
        )
        self.show()
