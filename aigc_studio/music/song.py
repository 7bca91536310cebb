"""The song model: tracks of notes in ticks, a tempo map and a time signature (pure Python).

Edits go through small command objects with ``do``/``undo`` so that the piano
roll (via QUndoStack), the CLI and tests share one undo model.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field, replace

DRUM_CHANNEL = 9  # MIDI channel 10, counted from zero


@dataclass(frozen=True)
class Note:
    """One note: MIDI pitch, start and duration in ticks, velocity 1..127.

    ``generated`` marks notes a model wrote and the user has not edited yet.
    """

    pitch: int
    start: int
    duration: int
    velocity: int = 80
    generated: bool = field(default=False, compare=False)

    @property
    def end(self) -> int:
        """The tick at which the note stops sounding."""
        return self.start + self.duration

    def edited(self, **changes) -> Note:
        """A copy with ``changes`` applied; an edited note is no longer 'generated'."""
        return replace(self, generated=False, **changes)


@dataclass
class Track:
    """A named instrument part: General MIDI program, channel (9 = drums) and notes."""

    name: str = "Track"
    program: int = 0
    channel: int = 0
    notes: list[Note] = field(default_factory=list)

    @property
    def is_drum(self) -> bool:
        """True for the General MIDI percussion channel (channel 10)."""
        return self.channel == DRUM_CHANNEL

    def sort(self) -> None:
        """Order notes by start, then pitch."""
        self.notes.sort(key=lambda n: (n.start, n.pitch, n.duration))


@dataclass(frozen=True)
class TempoChange:
    """Tempo from ``tick`` on, as microseconds per quarter note (exact, as stored in MIDI)."""

    tick: int
    tempo: int = 500_000

    @property
    def bpm(self) -> float:
        """Beats (quarter notes) per minute."""
        return 60_000_000 / self.tempo


def bpm_to_tempo(bpm: float) -> int:
    """Microseconds per quarter note for ``bpm``."""
    return int(round(60_000_000 / max(1.0, float(bpm))))


@dataclass
class Song:
    """A whole piece: ticks per beat, tracks, tempo map and one time signature."""

    ticks_per_beat: int = 480
    tracks: list[Track] = field(default_factory=list)
    tempos: list[TempoChange] = field(default_factory=lambda: [TempoChange(0, 500_000)])
    time_signature: tuple[int, int] = (4, 4)

    @property
    def bar_ticks(self) -> int:
        """Length of one bar in ticks."""
        num, den = self.time_signature
        return self.ticks_per_beat * 4 * num // den

    @property
    def end_tick(self) -> int:
        """Tick after the last note ends (0 for an empty song)."""
        return max((n.end for t in self.tracks for n in t.notes), default=0)

    @property
    def bars(self) -> int:
        """Number of bars the notes occupy (at least one)."""
        return max(1, -(-self.end_tick // self.bar_ticks))

    @property
    def note_count(self) -> int:
        """Total notes over all tracks."""
        return sum(len(t.notes) for t in self.tracks)

    def tempo_at(self, tick: int) -> int:
        """The tempo (microseconds per beat) in force at ``tick``."""
        current = self.tempos[0].tempo if self.tempos else 500_000
        for change in self.tempos:
            if change.tick <= tick:
                current = change.tempo
        return current

    def tick_to_seconds(self, tick: int) -> float:
        """Wall-clock time of ``tick`` through the tempo map."""
        seconds, last_tick, tempo = 0.0, 0, 500_000
        for change in sorted(self.tempos, key=lambda c: c.tick):
            if change.tick >= tick:
                break
            seconds += (change.tick - last_tick) * tempo / 1e6 / self.ticks_per_beat
            last_tick, tempo = change.tick, change.tempo
        return seconds + (tick - last_tick) * tempo / 1e6 / self.ticks_per_beat

    def seconds_to_tick(self, seconds: float) -> int:
        """Inverse of :meth:`tick_to_seconds`."""
        elapsed, last_tick, tempo = 0.0, 0, 500_000
        for change in sorted(self.tempos, key=lambda c: c.tick):
            span = (change.tick - last_tick) * tempo / 1e6 / self.ticks_per_beat
            if elapsed + span > seconds:
                break
            elapsed += span
            last_tick, tempo = change.tick, change.tempo
        return last_tick + int(round((seconds - elapsed) * 1e6 / tempo * self.ticks_per_beat))

    def copy(self) -> Song:
        """A deep-enough copy (notes are immutable)."""
        return Song(
            self.ticks_per_beat,
            [Track(t.name, t.program, t.channel, list(t.notes)) for t in self.tracks],
            list(self.tempos),
            self.time_signature,
        )

    def slice_bars(self, first_bar: int, last_bar: int) -> Song:
        """Notes that start in bars [first_bar, last_bar), moved to start at tick 0."""
        lo, hi = first_bar * self.bar_ticks, last_bar * self.bar_ticks
        out = Song(self.ticks_per_beat, [], [TempoChange(0, self.tempo_at(lo))], self.time_signature)
        for t in self.tracks:
            notes = [n.edited(start=n.start - lo, duration=min(n.duration, hi - n.start)) for n in t.notes if lo <= n.start < hi]
            out.tracks.append(Track(t.name, t.program, t.channel, notes))
        return out


# ---------------------------------------------------------------- edit commands


class EditCommand(ABC):
    """An undoable change to a :class:`Song`."""

    text = "Edit"

    @abstractmethod
    def do(self, song: Song) -> None:
        """Apply the change."""

    @abstractmethod
    def undo(self, song: Song) -> None:
        """Put the song back as it was before :meth:`do`."""


def _remove_identical(notes: list[Note], gone: list[Note]) -> None:
    """Remove each note of ``gone`` once (by identity first, then by value)."""
    for note in gone:
        for i, existing in enumerate(notes):
            if existing is note:
                del notes[i]
                break
        else:
            notes.remove(note)


class ReplaceNotes(EditCommand):
    """Swap some notes of a track for others: add, delete, move, resize, transpose, velocity."""

    def __init__(self, track: int, old: list[Note], new: list[Note], text: str = "Edit notes") -> None:
        self.track, self.old, self.new, self.text = track, list(old), list(new), text

    def do(self, song: Song) -> None:
        notes = song.tracks[self.track].notes
        _remove_identical(notes, self.old)
        notes.extend(self.new)
        song.tracks[self.track].sort()

    def undo(self, song: Song) -> None:
        notes = song.tracks[self.track].notes
        _remove_identical(notes, self.new)
        notes.extend(self.old)
        song.tracks[self.track].sort()


def add_notes(track: int, notes: list[Note]) -> ReplaceNotes:
    """Command that adds ``notes`` to a track."""
    return ReplaceNotes(track, [], notes, "Add notes")


def delete_notes(track: int, notes: list[Note]) -> ReplaceNotes:
    """Command that deletes ``notes`` from a track."""
    return ReplaceNotes(track, notes, [], "Delete notes")


def move_notes(track: int, notes: list[Note], ticks: int = 0, semitones: int = 0) -> ReplaceNotes:
    """Command that shifts notes in time and/or pitch (clamped to valid ranges)."""
    moved = [n.edited(start=max(0, n.start + ticks), pitch=min(127, max(0, n.pitch + semitones))) for n in notes]
    return ReplaceNotes(track, notes, moved, "Transpose notes" if semitones and not ticks else "Move notes")


def resize_notes(track: int, notes: list[Note], delta: int, minimum: int = 1) -> ReplaceNotes:
    """Command that lengthens or shortens notes by ``delta`` ticks."""
    return ReplaceNotes(track, notes, [n.edited(duration=max(minimum, n.duration + delta)) for n in notes], "Resize notes")


def set_velocity(track: int, notes: list[Note], velocity: int) -> ReplaceNotes:
    """Command that sets the velocity of notes."""
    velocity = min(127, max(1, int(velocity)))
    return ReplaceNotes(track, notes, [n.edited(velocity=velocity) for n in notes], "Velocity")


def quantize_notes(track: int, notes: list[Note], grid: int, ends: bool = True) -> ReplaceNotes:
    """Command that snaps note starts (and lengths) to a grid of ``grid`` ticks."""
    grid = max(1, int(grid))
    out = []
    for n in notes:
        start = int(round(n.start / grid)) * grid
        duration = max(grid, int(round(n.duration / grid)) * grid) if ends else n.duration
        out.append(n.edited(start=start, duration=duration))
    return ReplaceNotes(track, notes, out, "Quantise")


class SetSongProperty(EditCommand):
    """Change tempo map or time signature."""

    def __init__(self, name: str, value, text: str = "") -> None:
        self.name, self.value, self.before, self.text = name, value, None, text or f"Set {name}"

    def do(self, song: Song) -> None:
        self.before = getattr(song, self.name)
        setattr(song, self.name, self.value)

    def undo(self, song: Song) -> None:
        setattr(song, self.name, self.before)


def set_tempo(bpm: float) -> SetSongProperty:
    """Command that replaces the tempo map with one constant tempo."""
    return SetSongProperty("tempos", [TempoChange(0, bpm_to_tempo(bpm))], "Set tempo")


def set_time_signature(numerator: int, denominator: int) -> SetSongProperty:
    """Command that sets the time signature."""
    return SetSongProperty("time_signature", (int(numerator), int(denominator)), "Set time signature")


class AddTrack(EditCommand):
    """Append a track."""

    text = "Add track"

    def __init__(self, track: Track) -> None:
        self.track = track

    def do(self, song: Song) -> None:
        song.tracks.append(self.track)

    def undo(self, song: Song) -> None:
        song.tracks.remove(self.track)


class SetTrackProperty(EditCommand):
    """Rename a track or change its program/channel."""

    def __init__(self, track: int, name: str, value) -> None:
        self.track, self.name, self.value, self.before = track, name, value, None
        self.text = f"Track {name}"

    def do(self, song: Song) -> None:
        self.before = getattr(song.tracks[self.track], self.name)
        setattr(song.tracks[self.track], self.name, self.value)

    def undo(self, song: Song) -> None:
        setattr(song.tracks[self.track], self.name, self.before)


class Compound(EditCommand):
    """Several commands as one undo step (e.g. a generation that touches many tracks)."""

    def __init__(self, commands: list[EditCommand], text: str = "Edit") -> None:
        self.commands, self.text = list(commands), text

    def do(self, song: Song) -> None:
        for c in self.commands:
            c.do(song)

    def undo(self, song: Song) -> None:
        for c in reversed(self.commands):
            c.undo(song)


class EditHistory:
    """A plain undo/redo stack for scripts and tests (the GUI wraps commands in QUndoStack)."""

    def __init__(self, song: Song) -> None:
        self.song, self._done, self._undone = song, [], []

    def push(self, command: EditCommand) -> None:
        """Apply ``command`` and remember it."""
        command.do(self.song)
        self._done.append(command)
        self._undone.clear()

    def undo(self) -> bool:
        """Undo the last command; False when there is none."""
        if not self._done:
            return False
        command = self._done.pop()
        command.undo(self.song)
        self._undone.append(command)
        return True

    def redo(self) -> bool:
        """Redo the last undone command; False when there is none."""
        if not self._undone:
            return False
        command = self._undone.pop()
        command.do(self.song)
        self._done.append(command)
        return True


def merge_command(song: Song, fragment: Song, clear: tuple[int, int] | None = None, text: str = "Generate") -> Compound:
    """One undo step that adds ``fragment``'s notes to ``song``, first deleting notes starting in ``clear``.

    ``fragment`` tracks line up with ``song`` tracks; extra fragment tracks become new tracks.
    """
    commands: list[EditCommand] = []
    for index, track in enumerate(song.tracks):
        old = [n for n in track.notes if clear and clear[0] <= n.start < clear[1]]
        new = list(fragment.tracks[index].notes) if index < len(fragment.tracks) else []
        if old or new:
            commands.append(ReplaceNotes(index, old, new, text))
    for offset, extra in enumerate(fragment.tracks[len(song.tracks):]):
        if extra.notes:
            commands.append(AddTrack(Track(extra.name, extra.program, extra.channel, [])))
            commands.append(ReplaceNotes(len(song.tracks) + offset, [], list(extra.notes), text))
    return Compound(commands, text)
