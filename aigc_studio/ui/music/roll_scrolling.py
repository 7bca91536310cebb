"""The piano roll's scroll bars: their ranges follow the song and the view, and they move the roll's view.

A mixin of :class:`~aigc_studio.ui.music.pane.MusicPane` (expects ``state``, ``song``, ``roll``, ``hbar``, ``vbar``).
"""

from __future__ import annotations


class RollScrolling:
    """Horizontal scrolling in ticks, vertical in pitches (the top row is pitch 127 - value)."""

    def _update_scrollbars(self) -> None:
        s = self.state
        visible = max(1, int(self.roll.width() / s.pixels_per_tick))
        self.hbar.setRange(0, max(0, s.total_ticks() - visible // 2))
        self.hbar.setPageStep(visible)
        self.hbar.setSingleStep(max(1, self.song.ticks_per_beat // 2))
        rows = max(1, self.roll.height() // s.key_height)
        self.vbar.setRange(0, max(0, 127 - rows + 1))
        self.vbar.setPageStep(rows)

    def _on_hbar(self, value: int) -> None:
        self.state.scroll_tick = value
        self.state.changed.emit()

    def _on_vbar(self, value: int) -> None:
        self.state.top_pitch = 127 - value
        self.state.changed.emit()

    def _scroll_by(self, ticks: int, pitches: int) -> None:
        if ticks:
            self.hbar.setValue(self.hbar.value() + ticks)
        if pitches:
            self.vbar.setValue(self.vbar.value() - pitches)
