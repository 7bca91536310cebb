"""The velocity lane under the roll: one stem per note of the active track; drag to set velocity."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtGui import QColor, QPainter
from PySide6.QtWidgets import QWidget

from aigc_studio.music.song import set_velocity
from aigc_studio.ui.music.roll_state import track_colour


class VelocityLane(QWidget):
    """Drag on a stem to set the velocity of that note, or of the whole selection when it is selected."""

    edit = Signal(object)

    def __init__(self, state, parent=None) -> None:
        super().__init__(parent)
        self.state = state
        self.setFixedHeight(70)
        self._target = None
        self._value = None
        state.changed.connect(self.update)
        state.geometry.connect(self.update)

    def _velocity_at(self, y: float) -> int:
        return int(max(1, min(127, round((1 - y / max(1, self.height() - 4)) * 127))))

    def mousePressEvent(self, event) -> None:  # noqa: N802
        s = self.state
        if not s.song.tracks:
            return
        x = event.position().x()
        notes = s.song.tracks[s.track].notes
        near = min(notes, key=lambda n: abs(s.x(n.start) - x), default=None)
        if near is None or abs(s.x(near.start) - x) > 8:
            return
        self._target = s.selection if any(n is near for n in s.selection) else [near]
        self._value = self._velocity_at(event.position().y())
        self.update()

    def mouseMoveEvent(self, event) -> None:  # noqa: N802
        if self._target:
            self._value = self._velocity_at(event.position().y())
            self.update()

    def mouseReleaseEvent(self, event) -> None:  # noqa: N802
        if self._target:
            command = set_velocity(self.state.track, self._target, self._value)
            self._target = None
            self.edit.emit(command)
            if any(n in self.state.selection for n in command.old):
                self.state.selection = list(command.new)

    def paintEvent(self, event) -> None:  # noqa: N802
        p = QPainter(self)
        s = self.state
        p.fillRect(self.rect(), QColor("#202020"))
        if s.song.tracks:
            colour = track_colour(s.track)
            selected = {id(n) for n in s.selection}
            targets = {id(n) for n in (self._target or [])}
            for note in s.song.tracks[s.track].notes:
                x = s.x(note.start)
                if x < -4 or x > self.width():
                    continue
                velocity = self._value if id(note) in targets else note.velocity
                top = (1 - velocity / 127) * (self.height() - 4) + 2
                p.setPen(QColor("#fff") if id(note) in selected else colour)
                p.drawLine(int(x), self.height(), int(x), int(top))
                p.fillRect(int(x) - 2, int(top) - 2, 5, 5, QColor("#fff") if id(note) in selected else colour)
        p.end()
