"""The bar ruler above the roll: click sets the cursor, drag selects a bar range (loop, infill, export)."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QPainter
from PySide6.QtWidgets import QWidget


class Ruler(QWidget):
    """Bar numbers and beat ticks; shows the cursor, the play position and the selected range."""

    def __init__(self, state, parent=None) -> None:
        super().__init__(parent)
        self.state = state
        self.setFixedHeight(22)
        self._press_bar: int | None = None
        state.changed.connect(self.update)
        state.geometry.connect(self.update)

    def bar_at(self, x: float) -> int:
        """Bar under pixel column ``x``."""
        return max(0, self.state.tick_at(x) // self.state.song.bar_ticks)

    def mousePressEvent(self, event) -> None:  # noqa: N802
        self._press_bar = self.bar_at(event.position().x())
        self.state.cursor = self.state.snap(max(0, self.state.tick_at(event.position().x())))
        self.state.changed.emit()

    def mouseMoveEvent(self, event) -> None:  # noqa: N802
        if self._press_bar is None:
            return
        bar = self.bar_at(event.position().x())
        lo, hi = sorted((self._press_bar, bar))
        self.state.range = (lo, hi + 1)
        self.state.changed.emit()

    def mouseReleaseEvent(self, event) -> None:  # noqa: N802
        self._press_bar = None

    def paintEvent(self, event) -> None:  # noqa: N802
        p = QPainter(self)
        s = self.state
        p.fillRect(self.rect(), QColor("#3a3a3a"))
        bar_ticks = s.song.bar_ticks
        beat_ticks = bar_ticks // max(1, s.song.time_signature[0])
        if s.range:
            x0, x1 = s.x(s.range[0] * bar_ticks), s.x(s.range[1] * bar_ticks)
            p.fillRect(int(x0), 0, int(x1 - x0), self.height(), QColor(80, 160, 255, 110))
        first = max(0, s.scroll_tick // bar_ticks)
        bar = first
        while s.x(bar * bar_ticks) < self.width():
            x = s.x(bar * bar_ticks)
            p.setPen(QColor("#ddd"))
            p.drawLine(int(x), 8, int(x), self.height())
            p.drawText(int(x) + 3, 0, 40, 14, Qt.AlignLeft | Qt.AlignVCenter, str(bar + 1))
            p.setPen(QColor("#888"))
            for beat in range(1, s.song.time_signature[0]):
                bx = s.x(bar * bar_ticks + beat * beat_ticks)
                p.drawLine(int(bx), 16, int(bx), self.height())
            bar += 1
        p.setPen(QColor("#ffcc00"))
        cx = s.x(s.cursor)
        p.drawLine(int(cx), 0, int(cx), self.height())
        if s.play_tick is not None:
            p.setPen(QColor("#ff4040"))
            px = s.x(s.play_tick)
            p.drawLine(int(px), 0, int(px), self.height())
        p.end()
