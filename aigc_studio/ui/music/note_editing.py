"""Editing the selected notes of the piano roll: select, delete, copy/cut/paste, transpose, nudge, quantise.

A mixin of :class:`~aigc_studio.ui.music.pane.MusicPane`: every edit is one undoable command pushed with
``self.push`` on the pane's stack, and the roll state (``self.state``) says what is selected.
"""

from __future__ import annotations

from aigc_studio.music.song import add_notes, delete_notes, move_notes, quantize_notes


class NoteEditing:
    """The pane's note-editing actions (expects ``song``, ``state``, ``push``, ``status_message``, ``_clipboard``)."""

    def select_all(self) -> None:
        """Select every note of the active track."""
        if self.song.tracks:
            self.state.selection = list(self.song.tracks[self.state.track].notes)
            self.state.changed.emit()

    def delete_selection(self) -> None:
        """Delete the selected notes."""
        if self.state.selection:
            self.push(delete_notes(self.state.track, self.state.selection))
            self.state.selection = []
            self.state.changed.emit()

    def copy_selection(self) -> None:
        """Copy the selected notes (times relative to the first)."""
        if self.state.selection:
            first = min(n.start for n in self.state.selection)
            self._clipboard = [n.edited(start=n.start - first) for n in self.state.selection]
            self.status_message.emit(f"Copied {len(self._clipboard)} notes.")

    def cut_selection(self) -> None:
        """Copy then delete the selected notes."""
        self.copy_selection()
        self.delete_selection()

    def paste(self) -> None:
        """Paste copied notes at the cursor on the active track."""
        if self._clipboard and self.song.tracks:
            notes = [n.edited(start=n.start + self.state.cursor) for n in self._clipboard]
            self.push(add_notes(self.state.track, notes))
            self.state.selection = notes
            self.state.changed.emit()

    def transpose(self, semitones: int) -> None:
        """Move the selection up or down."""
        if self.state.selection:
            command = move_notes(self.state.track, self.state.selection, 0, semitones)
            self.push(command)
            self.state.selection = list(command.new)
            self.state.changed.emit()

    def nudge(self, steps: int) -> None:
        """Move the selection by grid steps."""
        if self.state.selection:
            command = move_notes(self.state.track, self.state.selection, steps * self.state.grid, 0)
            self.push(command)
            self.state.selection = list(command.new)
            self.state.changed.emit()

    def quantise(self) -> None:
        """Snap the selection (or the whole track) to the grid."""
        if not self.song.tracks:
            return
        notes = self.state.selection or list(self.song.tracks[self.state.track].notes)
        if notes:
            command = quantize_notes(self.state.track, notes, self.state.grid)
            self.push(command)
            self.state.selection = list(command.new) if self.state.selection else []
            self.state.changed.emit()
