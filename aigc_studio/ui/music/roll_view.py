"""The note grid: draw, select (click, rubber band), move, resize and delete notes with the mouse.

Edits are emitted as core edit commands (``edit`` signal); the pane pushes them
on its QUndoStack, so every mouse edit is one undo step.
"""

from __future__ import annotations

from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtGui import QColor, QPainter, QPen
from PySide6.QtWidgets import QWidget

from aigc_studio.music.song import Note, add_notes, delete_notes, move_notes, resize_notes
from aigc_studio.ui.music.keyboard import BLACK
from aigc_studio.ui.music.roll_state import track_colour

EDGE = 5  # pixels at a note's right end that resize instead of move


class RollView(QWidget):
    """Paints all tracks (the active one on top) and edits the active track."""

    edit = Signal(object)  # an EditCommand
    scroll_request = Signal(int, int)  # wheel: (ticks, pitches)

    def __init__(self, state, parent=None) -> None:
        super().__init__(parent)
        self.state = state
        self.tool = "draw"  # or "select"
        self.setMouseTracking(True)
        self.setFocusPolicy(Qt.StrongFocus)
        self.setMinimumSize(200, 120)
        self._drag: dict | None = None
        state.changed.connect(self.update)
        state.geometry.connect(self.update)

    # ------------------------------------------------------------ geometry
    def note_rect(self, note: Note) -> QRectF:
        """Pixel rectangle of ``note``."""
        s = self.state
        return QRectF(s.x(note.start), s.y(note.pitch), max(3.0, note.duration * s.pixels_per_tick), s.key_height)

    def note_at(self, x: float, y: float) -> Note | None:
        """The active track's note under a point (topmost)."""
        song = self.state.song
        if not song.tracks:
            return None
        for note in reversed(song.tracks[self.state.track].notes):
            if self.note_rect(note).contains(x, y):
                return note
        return None

    # ------------------------------------------------------------ mouse
    def mousePressEvent(self, event) -> None:  # noqa: N802
        s = self.state
        x, y = event.position().x(), event.position().y()
        if not s.song.tracks:
            return
        note = self.note_at(x, y)
        shift = bool(event.modifiers() & Qt.ShiftModifier)
        ctrl = bool(event.modifiers() & Qt.ControlModifier)
        if event.button() == Qt.RightButton:
            if note is not None:
                self.edit.emit(delete_notes(s.track, [note]))
            return
        if note is not None:
            if shift or ctrl:
                if any(n is note for n in s.selection):
                    s.selection = [n for n in s.selection if n is not note]
                else:
                    s.selection = s.selection + [note]
            elif not any(n is note for n in s.selection):
                s.selection = [note]
            mode = "resize" if x > self.note_rect(note).right() - EDGE else "move"
            self._drag = {"mode": mode, "x": x, "y": y, "dt": 0, "dp": 0, "note": note}
        elif self.tool == "draw" and not (shift or ctrl):
            start = s.snap(max(0, s.tick_at(x)))
            new = Note(s.pitch_at(y), start, max(1, s.grid if s.grid > 1 else s.song.ticks_per_beat // 4), 90)
            self.edit.emit(add_notes(s.track, [new]))
            s.selection = [new]
            self._drag = {"mode": "resize", "x": x, "y": y, "dt": 0, "dp": 0, "note": new}
        else:
            if not (shift or ctrl):
                s.selection = []
            self._drag = {"mode": "band", "x": x, "y": y, "x2": x, "y2": y, "base": list(s.selection)}
        s.cursor = s.snap(max(0, s.tick_at(x)))
        s.changed.emit()

    def mouseMoveEvent(self, event) -> None:  # noqa: N802
        s = self.state
        x, y = event.position().x(), event.position().y()
        drag = self._drag
        if drag is None:
            note = self.note_at(x, y)
            edge = note is not None and x > self.note_rect(note).right() - EDGE
            self.setCursor(Qt.SizeHorCursor if edge else Qt.ArrowCursor)
            return
        if drag["mode"] == "band":
            drag["x2"], drag["y2"] = x, y
            band = QRectF(min(drag["x"], x), min(drag["y"], y), abs(x - drag["x"]), abs(y - drag["y"]))
            inside = [n for n in s.song.tracks[s.track].notes if band.intersects(self.note_rect(n))]
            s.selection = drag["base"] + [n for n in inside if not any(n is b for b in drag["base"])]
        else:
            ticks = (x - drag["x"]) / s.pixels_per_tick
            drag["dt"] = int(round(ticks / s.grid)) * s.grid
            drag["dp"] = 0 if drag["mode"] == "resize" else int(round((drag["y"] - y) / s.key_height))
        s.changed.emit()

    def mouseReleaseEvent(self, event) -> None:  # noqa: N802
        drag, self._drag = self._drag, None
        s = self.state
        if drag is None or drag["mode"] == "band":
            s.changed.emit()
            return
        notes = [n for n in s.selection] or [drag["note"]]
        if drag["mode"] == "move" and (drag["dt"] or drag["dp"]):
            command = move_notes(s.track, notes, drag["dt"], drag["dp"])
        elif drag["mode"] == "resize" and drag["dt"]:
            command = resize_notes(s.track, notes, drag["dt"], minimum=max(1, s.grid // 2))
        else:
            s.changed.emit()
            return
        self.edit.emit(command)
        s.selection = list(command.new)
        s.changed.emit()

    def mouseDoubleClickEvent(self, event) -> None:  # noqa: N802
        note = self.note_at(event.position().x(), event.position().y())
        if note is not None:
            self._drag = None
            self.edit.emit(delete_notes(self.state.track, [note]))

    def wheelEvent(self, event) -> None:  # noqa: N802
        delta = event.angleDelta().y() or event.angleDelta().x()
        mods = event.modifiers()
        if mods & Qt.ControlModifier:
            if mods & Qt.ShiftModifier:
                self.state.zoom_pitch(1.15 if delta > 0 else 1 / 1.15)
            else:
                self.state.zoom_time(1.2 if delta > 0 else 1 / 1.2)
        elif mods & Qt.ShiftModifier or event.angleDelta().x():
            self.scroll_request.emit(int(-delta / self.state.pixels_per_tick / 2), 0)
        else:
            self.scroll_request.emit(0, 3 if delta > 0 else -3)

    # ------------------------------------------------------------ painting
    def paintEvent(self, event) -> None:  # noqa: N802
        p = QPainter(self)
        s = self.state
        song = s.song
        w, h = self.width(), self.height()
        p.fillRect(self.rect(), QColor("#2b2b2b"))
        for pitch in range(127, -1, -1):
            top = s.y(pitch)
            if -s.key_height < top < h and pitch % 12 in BLACK:
                p.fillRect(0, int(top), w, s.key_height, QColor("#242424"))
        bar_ticks = song.bar_ticks
        beat_ticks = bar_ticks // max(1, song.time_signature[0])
        if s.range:
            x0, x1 = s.x(s.range[0] * bar_ticks), s.x(s.range[1] * bar_ticks)
            p.fillRect(int(x0), 0, int(x1 - x0), h, QColor(80, 160, 255, 40))
        grid = s.grid
        tick = (s.scroll_tick // grid) * grid
        if grid * s.pixels_per_tick >= 4:
            while s.x(tick) < w:
                colour = "#555" if tick % bar_ticks == 0 else "#3c3c3c" if tick % beat_ticks == 0 else "#323232"
                p.setPen(QColor(colour))
                p.drawLine(int(s.x(tick)), 0, int(s.x(tick)), h)
                tick += grid
        order = [i for i in range(len(song.tracks)) if i != s.track] + ([s.track] if song.tracks else [])
        selected = {id(n) for n in s.selection}
        drag = self._drag
        for index in order:
            track = song.tracks[index]
            colour = track_colour(index)
            active = index == s.track
            if not active:
                colour.setAlpha(70)
            if not s.audible(index):
                colour = QColor(120, 120, 120, 60)
            for note in track.notes:
                r = self.note_rect(note)
                if r.right() < 0 or r.left() > w or r.bottom() < 0 or r.top() > h:
                    continue
                fill = QColor(colour)
                if active and note.generated:
                    fill = fill.lighter(135)
                if active:
                    fill.setAlpha(90 + note.velocity)
                p.fillRect(r, fill)
                if active and id(note) in selected:
                    p.setPen(QPen(QColor("#ffffff"), 2))
                elif active and note.generated:
                    p.setPen(QPen(QColor("#ffd54a"), 1, Qt.DashLine))  # generated, not yet edited
                else:
                    p.setPen(QPen(colour.darker(150), 1))
                p.drawRect(r)
                if active and id(note) in selected and drag and drag["mode"] in ("move", "resize"):
                    ghost = QRectF(r)
                    if drag["mode"] == "move":
                        ghost.translate(drag["dt"] * s.pixels_per_tick, -drag["dp"] * s.key_height)
                    else:
                        ghost.setWidth(max(3.0, r.width() + drag["dt"] * s.pixels_per_tick))
                    p.setPen(QPen(QColor("#ffffff"), 1, Qt.DotLine))
                    p.drawRect(ghost)
        if drag and drag["mode"] == "band":
            p.setPen(QPen(QColor("#9cf"), 1, Qt.DashLine))
            p.drawRect(
                QRectF(
                    min(drag["x"], drag["x2"]),
                    min(drag["y"], drag["y2"]),
                    abs(drag["x2"] - drag["x"]),
                    abs(drag["y2"] - drag["y"]),
                )
            )
        p.setPen(QColor("#ffcc00"))
        p.drawLine(int(s.x(s.cursor)), 0, int(s.x(s.cursor)), h)
        if s.play_tick is not None:
            p.setPen(QPen(QColor("#ff4040"), 2))
            p.drawLine(int(s.x(s.play_tick)), 0, int(s.x(s.play_tick)), h)
        p.end()
