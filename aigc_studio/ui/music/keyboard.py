"""The piano keyboard at the left of the roll."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QPainter
from PySide6.QtWidgets import QWidget

BLACK = {1, 3, 6, 8, 10}


class Keyboard(QWidget):
    """Paints keys aligned with the roll's pitch rows; C keys are labelled."""

    def __init__(self, state, parent=None) -> None:
        super().__init__(parent)
        self.state = state
        self.setFixedWidth(48)
        state.changed.connect(self.update)
        state.geometry.connect(self.update)

    def paintEvent(self, event) -> None:  # noqa: N802 - Qt name
        p = QPainter(self)
        s = self.state
        h = s.key_height
        for pitch in range(127, -1, -1):
            top = s.y(pitch)
            if top > self.height() or top + h < 0:
                continue
            black = pitch % 12 in BLACK
            p.fillRect(0, int(top), self.width(), h, QColor("#222") if black else QColor("#eee"))
            p.setPen(QColor("#888"))
            p.drawLine(0, int(top + h), self.width(), int(top + h))
            if pitch % 12 == 0 and h >= 8:
                p.setPen(QColor("#333"))
                p.drawText(2, int(top), self.width() - 4, h, Qt.AlignVCenter | Qt.AlignRight, f"C{pitch // 12 - 1}")
        p.end()
