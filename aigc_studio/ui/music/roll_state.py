"""What the piano-roll widgets share: the song, zoom/scroll, snap, selection, cursor, range, mute/solo."""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QColor

from aigc_studio.music.song import Note, Song

TRACK_COLOURS = ("#4e9ae8", "#e8894e", "#5cc26a", "#c85cd6", "#e0c341", "#4fd0c8", "#e85c74", "#9a8cf0")
SNAPS = (
    ("1/4", 1, 1),
    ("1/8", 2, 1),
    ("1/16", 4, 1),
    ("1/32", 8, 1),
    ("1/4 T", 1, 1.5),
    ("1/8 T", 2, 1.5),
    ("1/16 T", 4, 1.5),
    ("Off", 0, 1),
)


def track_colour(index: int) -> QColor:
    """The colour of track ``index``."""
    return QColor(TRACK_COLOURS[index % len(TRACK_COLOURS)])


class RollState(QObject):
    """Shared view state; widgets repaint on ``changed`` and geometry updates on ``geometry``."""

    changed = Signal()
    geometry = Signal()

    def __init__(self, song: Song, parent=None) -> None:
        super().__init__(parent)
        self.song = song
        self.track = 0
        self.selection: list[Note] = []
        self.beat_width = 60.0  # pixels per quarter note
        self.key_height = 12
        self.scroll_tick = 0
        self.top_pitch = 88
        self.snap_index = 2
        self.cursor = 0
        self.play_tick: int | None = None
        self.range: tuple[int, int] | None = None  # bars [first, last)
        self.muted: set[int] = set()
        self.solo: set[int] = set()

    # ------------------------------------------------------------ geometry
    @property
    def pixels_per_tick(self) -> float:
        """Horizontal zoom in pixels per tick (files differ in ticks per beat)."""
        return self.beat_width / self.song.ticks_per_beat

    def x(self, tick: float) -> float:
        """Pixel column of ``tick``."""
        return (tick - self.scroll_tick) * self.pixels_per_tick

    def tick_at(self, x: float) -> int:
        """Tick under pixel column ``x``."""
        return int(x / self.pixels_per_tick + self.scroll_tick)

    def y(self, pitch: int) -> float:
        """Pixel row of the top of ``pitch``."""
        return (self.top_pitch - pitch) * self.key_height

    def pitch_at(self, y: float) -> int:
        """Pitch under pixel row ``y``."""
        return max(0, min(127, self.top_pitch - int(y // self.key_height)))

    @property
    def grid(self) -> int:
        """Snap grid in ticks (1 when snapping is off)."""
        _, division, triplet = SNAPS[self.snap_index]
        if not division:
            return 1
        return max(1, int(round(self.song.ticks_per_beat / division / triplet)))

    def snap(self, tick: float) -> int:
        """Round ``tick`` down to the snap grid."""
        return int(tick // self.grid * self.grid)

    def zoom_time(self, factor: float) -> None:
        """Zoom horizontally."""
        self.beat_width = min(800.0, max(4.0, self.beat_width * factor))
        self.geometry.emit()

    def zoom_pitch(self, factor: float) -> None:
        """Zoom vertically."""
        self.key_height = int(min(40, max(4, round(self.key_height * factor))))
        self.geometry.emit()

    def audible(self, index: int) -> bool:
        """Whether track ``index`` sounds given mute and solo."""
        if self.solo:
            return index in self.solo
        return index not in self.muted

    def total_ticks(self) -> int:
        """Ticks the view scrolls over: the song plus some room to write."""
        return max(self.song.end_tick, self.cursor) + 8 * self.song.bar_ticks
