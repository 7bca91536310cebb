"""Standard MIDI File import/export with mido (type 0 and 1, tempo map, drums).

Reading is our own one-pass parser (mido only writes): a file may come from
anyone, so size, tracks, events, notes and length are bounded while it is read
and a hostile file is refused in well under a second. Type 2 files with a
single pattern read as type 0; SMPTE-timed files are converted to beats at
120 BPM with every note kept at its time. Damaged files raise InputError
naming the file and the problem.

Whatever the song model cannot hold (pitch bend, controllers, lyrics, later
program or time-signature changes...) is counted and reported as warnings.
"""

from __future__ import annotations

import io
import struct
from collections import Counter, defaultdict, deque
from pathlib import Path

import mido

from aigc_studio.core.provenance import MAX_RECORD_CHARS, MIDI_TEXT_PREFIX, Provenance, from_midi_text, midi_text
from aigc_studio.errors import InputError
from aigc_studio.music.song import DRUM_CHANNEL, Note, Song, TempoChange, Track

# Limits far above any song a person writes (a long symphony is ~5,000 beats and ~50,000 notes),
# checked while the file is read, so a hostile file is refused before it costs time or memory.
MAX_MIDI_BYTES = 16 * 1024 * 1024
MAX_MIDI_TRACKS = 1024
MAX_MIDI_EVENTS = 500_000  # the largest of 413 MIDI files found on this machine has 17,875; each costs ~1 µs
MAX_MIDI_NOTES = 200_000
MAX_MIDI_TEMPOS = 20_000  # one per beat of the longest song
MAX_MIDI_BEATS = 20_000  # 2 h 47 min at 120 BPM
MAX_MIDI_RECORDS = 10_000  # provenance records kept (one per generation; a song has tens)
MAX_PROVENANCE_EVENT = len(MIDI_TEXT_PREFIX) + MAX_RECORD_CHARS + 1  # a longer one is refused by from_midi_text
_PROVENANCE_PREFIX = MIDI_TEXT_PREFIX.encode("ascii")

_GM_NAMES = (
    "Piano",
    "Chromatic perc.",
    "Organ",
    "Guitar",
    "Bass",
    "Strings",
    "Ensemble",
    "Brass",
    "Reed",
    "Pipe",
    "Synth lead",
    "Synth pad",
    "Synth FX",
    "Ethnic",
    "Percussive",
    "Sound FX",
)

# What the piano roll cannot show, by the event's status nibble or meta type, as warnings name it.
_DROPPED_CHANNEL = {
    0xA0: "polyphonic aftertouch events",
    0xB0: "controller (CC) events",
    0xD0: "channel aftertouch events",
    0xE0: "pitch bend events",
}
_DROPPED_META = {
    0x01: "text events",
    0x02: "copyright notices",
    0x05: "lyric events",
    0x06: "markers",
    0x07: "cue markers",
    0x09: "device name events",
    0x59: "key signatures",
    0x7F: "sequencer specific events",
}
_IGNORED_META = (
    0x00,
    0x04,
    0x20,
    0x21,
    0x2F,
    0x54,
)  # sequence number, instrument name, channel prefix, port, end, SMPTE offset
_SYSTEM = {
    0xF1: (1, "quarter frame events"),
    0xF2: (2, "songpos events"),
    0xF3: (1, "song select events"),
    0xF6: (0, "tune request events"),
    0xF8: (0, "clock events"),
    0xFA: (0, "start events"),
    0xFB: (0, "continue events"),
    0xFC: (0, "stop events"),
    0xFE: (0, "active sensing events"),
}


def program_name(program: int, drum: bool = False) -> str:
    """A short General MIDI family name for a track label."""
    return "Drums" if drum else _GM_NAMES[max(0, min(127, program)) // 8]


def read_midi(path: str | Path) -> tuple[Song, list[str]]:
    """Read a .mid file into a :class:`Song`; returns (song, warnings). Broken files raise InputError."""
    path = Path(path)
    return read_midi_bytes(_file_bytes(path), path.name)


def read_midi_with_records(path: str | Path) -> tuple[Song, list[str], list[Provenance]]:
    """Read a .mid file and the provenance records in it in one pass; a damaged record is a warning, not a
    refusal (the notes are still fine)."""
    path = Path(path)
    reader, warnings = _read_tracks(_file_bytes(path), path.name)
    song, more = reader.song()
    try:
        records = _records(reader, path.name)
    except InputError as exc:
        records, more = [], [*more, str(exc)]
    return song, warnings + more, records


def _file_bytes(path: Path) -> bytes:
    """The bytes of a MIDI file, refused before reading when it is a folder or too large."""
    if path.is_dir():
        raise InputError(f"{path.name} is a folder, not a MIDI file.")
    try:
        size = path.stat().st_size
        if size > MAX_MIDI_BYTES:
            raise InputError(
                f"{path.name} is {size / 1e6:.0f} MB; MIDI files over {MAX_MIDI_BYTES // 2**20} MB are not opened."
            )
        return path.read_bytes()
    except OSError as exc:
        raise InputError(f"Cannot open {path.name}: {exc.strerror or exc}.") from exc


def read_midi_bytes(data: bytes, name: str = "MIDI data") -> tuple[Song, list[str]]:
    """Parse MIDI bytes (see :func:`read_midi`): one pass, limits checked as it goes."""
    reader, warnings = _read_tracks(data, name)
    song, more = reader.song()
    return song, warnings + more


def _read_tracks(data: bytes, name: str) -> tuple[_TrackReader, list[str]]:
    """Check the header and read every track chunk; returns the reader and the header's warnings."""
    if not data:
        raise InputError(f"{name} is empty (0 bytes); it is not a MIDI file.")
    if not data.startswith(b"MThd"):
        raise InputError(f"{name} is not a Standard MIDI File (it does not start with 'MThd').")
    if len(data) > MAX_MIDI_BYTES:
        raise InputError(
            f"{name} is {len(data) / 1e6:.0f} MB; MIDI files over {MAX_MIDI_BYTES // 2**20} MB are not opened."
        )
    if len(data) < 14:
        raise InputError(f"{name} is a truncated MIDI file: it ends in the middle of a header, track or event.")
    (header_size,) = struct.unpack_from(">I", data, 4)
    midi_type, track_count, division = struct.unpack_from(">hHh", data, 8)
    if header_size < 6 or 8 + header_size > len(data):
        raise InputError(f"{name} is a truncated MIDI file: it ends in the middle of a header, track or event.")
    if midi_type not in (0, 1, 2):
        raise InputError(
            f"{name} is a damaged MIDI file: its header says type {midi_type}; MIDI files are type 0, 1 or 2."
        )
    if track_count == 0:
        raise InputError(f"{name} has no tracks: it holds no music.")
    if midi_type == 2 and track_count > 1:
        raise InputError(
            f"{name} is a type 2 MIDI file holding {track_count} separate patterns; "
            "only types 0 and 1 (one song) are supported."
        )
    if track_count > MAX_MIDI_TRACKS:
        raise InputError(f"{name} says it has {track_count:,} tracks; at most {MAX_MIDI_TRACKS:,} are read.")
    if division == 0:
        raise InputError(f"{name} is a damaged MIDI file: its header gives 0 ticks per beat.")
    warnings: list[str] = []
    ticks_per_beat, tempo_override = division, None
    if division < 0:
        ticks_per_beat, tempo_override, note = _from_smpte(division, name)
        warnings.append(note)
    reader = _TrackReader(data, name, ticks_per_beat, tempo_override)
    position = 8 + header_size
    for _ in range(track_count):
        position = reader.read_track(position)
    return reader, warnings


def _from_smpte(division: int, name: str) -> tuple[int, int, str]:
    """Turn SMPTE (frames per second) timing into beats at 120 BPM, keeping every event's time.

    Returns (ticks per beat, tempo in µs per beat, a note for the user).
    """
    raw = division & 0xFFFF  # the division is read as a signed 16-bit number
    fps_code, ticks_per_frame = 256 - (raw >> 8), raw & 0xFF
    fps = {29: 29.97}.get(fps_code, float(fps_code))
    if fps_code not in (24, 25, 29, 30) or ticks_per_frame == 0:
        raise InputError(
            f"{name} is a damaged MIDI file: its SMPTE time division ({fps_code} fps, {ticks_per_frame} ticks per frame) is invalid."
        )
    ticks_per_second = fps * ticks_per_frame
    ticks_per_beat = max(1, round(ticks_per_second / 2))
    tempo = round(ticks_per_beat * 1e6 / ticks_per_second)  # µs per beat: ~120 BPM, exact times
    note = (
        f"{name} uses SMPTE timing ({fps:g} fps); it was converted to {60e6 / tempo:.0f} BPM with the same "
        "note times, so bar lines may not match the music."
    )
    return ticks_per_beat, tempo, note


class _TrackReader:
    """Reads track chunks straight into notes, tempos and counts: one pass, no message objects."""

    def __init__(self, data: bytes, name: str, ticks_per_beat: int, tempo_override: int | None) -> None:
        self.data, self.name = data, name
        self.ticks_per_beat, self.tempo_override = ticks_per_beat, tempo_override
        self.max_tick = MAX_MIDI_BEATS * ticks_per_beat
        self.events = 0
        self.notes = 0  # note-ons seen, counted against MAX_MIDI_NOTES
        self.tracks: list[Track] = []
        self.tempos: dict[int, int] = {}  # tick -> µs per beat
        self.time_signatures: list[tuple[int, tuple[int, int]]] = []
        self.dropped: Counter[str] = Counter()
        self.warnings: list[str] = []
        self.provenance: list[str] = []  # our provenance text events (read_provenance), not texts the song loses

    def _truncated(self) -> InputError:
        return InputError(f"{self.name} is a truncated MIDI file: it ends in the middle of a header, track or event.")

    def _damaged(self, what: str) -> InputError:
        return InputError(f"{self.name} is a damaged MIDI file and cannot be read ({what}).")

    def read_track(self, position: int) -> int:
        """Read the track chunk at ``position``; returns where the next chunk starts."""
        data = self.data
        if position + 8 > len(data):
            raise self._truncated()
        if data[position : position + 4] != b"MTrk":
            raise self._damaged("a track chunk is missing or misplaced")
        (length,) = struct.unpack_from(">I", data, position + 4)
        start, end = position + 8, position + 8 + length
        if end > len(data):
            raise self._truncated()
        self._events(start, end)
        return end

    def _overrun(self, end: int) -> InputError:
        if end >= len(self.data):
            return self._truncated()
        return self._damaged("an event runs past the end of its track")

    def _events(self, p: int, end: int) -> None:  # noqa: C901 - one loop over the events, kept together for speed
        data, dropped = self.data, self.dropped
        tick, running, name = 0, -1, ""
        max_tick = self.max_tick
        events_left = MAX_MIDI_EVENTS - self.events
        programs: dict[int, int] = {}
        notes: dict[int, list[Note]] = defaultdict(list)
        open_notes: dict[int, deque] = {}  # channel * 128 + pitch -> (start, velocity) of notes still sounding
        while p < end:
            # Delta time: at most 4 bytes (28 bits), as the standard says.
            byte = data[p]
            p += 1
            delta = byte & 0x7F
            if byte & 0x80:
                for _ in range(3):
                    if p >= end:
                        raise self._overrun(end)
                    byte = data[p]
                    p += 1
                    delta = (delta << 7) | (byte & 0x7F)
                    if not byte & 0x80:
                        break
                else:
                    raise self._damaged("a delta time is longer than 4 bytes")
            tick += delta
            if tick > max_tick:
                raise InputError(
                    f"{self.name} has events {tick / self.ticks_per_beat:,.0f} beats in; songs longer than "
                    f"{MAX_MIDI_BEATS:,} beats (about {MAX_MIDI_BEATS // 120} minutes at 120 BPM) are not opened."
                )
            events_left -= 1
            if events_left < 0:
                raise InputError(f"{self.name} holds more than {MAX_MIDI_EVENTS:,} MIDI events; it is not opened.")
            if p >= end:
                raise self._overrun(end)
            status = data[p]
            if status < 0x80:
                if running < 0:
                    raise self._damaged(
                        "an event has no status byte and there is no earlier one to repeat (bad running status)"
                    )
                status = running  # running status: the byte read is the first data byte
            else:
                p += 1
                if status != 0xFF:
                    running = status
            if status < 0xF0:
                kind = status & 0xF0
                channel = status & 0x0F
                if kind in (0xC0, 0xD0):
                    if p + 1 > end:
                        raise self._overrun(end)
                    value = min(data[p], 127)
                    p += 1
                    if kind == 0xC0:
                        if channel in programs and programs[channel] != value:
                            dropped["later program changes"] += 1
                        else:
                            programs[channel] = value
                    else:
                        dropped[_DROPPED_CHANNEL[kind]] += 1
                    continue
                if p + 2 > end:
                    raise self._overrun(end)
                pitch, velocity = min(data[p], 127), min(data[p + 1], 127)
                p += 2
                if kind == 0x90 and velocity > 0:
                    self.notes += 1
                    if self.notes > MAX_MIDI_NOTES:
                        raise InputError(f"{self.name} holds more than {MAX_MIDI_NOTES:,} notes; it is not opened.")
                    key = channel * 128 + pitch
                    queue = open_notes.get(key)
                    if queue is None:
                        queue = open_notes[key] = deque()
                    queue.append((tick, velocity))
                elif kind in (0x80, 0x90):
                    queue = open_notes.get(channel * 128 + pitch)
                    if queue:
                        begin, on_velocity = queue.popleft()  # first in, first out for overlapping repeats
                        if tick > begin:
                            notes[channel].append(Note(pitch, begin, tick - begin, on_velocity))
                        else:
                            dropped["zero-length notes"] += 1
                else:
                    dropped[_DROPPED_CHANNEL[kind]] += 1
            elif status == 0xFF or status in (0xF0, 0xF7):
                meta = -1
                if status == 0xFF:
                    if p >= end:
                        raise self._overrun(end)
                    meta = data[p]
                    p += 1
                length = 0
                for _ in range(4):
                    if p >= end:
                        raise self._overrun(end)
                    byte = data[p]
                    p += 1
                    length = (length << 7) | (byte & 0x7F)
                    if not byte & 0x80:
                        break
                else:
                    raise self._damaged("an event's length is longer than 4 bytes")
                if p + length > end:
                    raise self._overrun(end)
                body = data[p : p + length] if meta in (0x03, 0x51, 0x58) else b""
                ours = meta == 0x01 and data.startswith(_PROVENANCE_PREFIX, p, p + length)
                if ours and len(self.provenance) < MAX_MIDI_RECORDS:
                    self.provenance.append(data[p : p + min(length, MAX_PROVENANCE_EVENT)].decode("latin-1"))
                p += length
                if meta < 0:
                    dropped["system-exclusive messages"] += 1
                elif ours:
                    pass
                elif meta == 0x51:
                    self._tempo(tick, body)
                elif meta == 0x58:
                    self._time_signature(tick, body)
                elif meta == 0x03:
                    if not name:
                        name = body.decode("latin-1").strip()
                elif meta in _DROPPED_META:
                    dropped[_DROPPED_META[meta]] += 1
                elif meta not in _IGNORED_META:
                    dropped["unknown meta events"] += 1
            elif status in _SYSTEM:
                size, what = _SYSTEM[status]
                if p + size > end:
                    raise self._overrun(end)
                p += size
                dropped[what] += 1
            else:
                raise self._damaged(f"undefined status byte 0x{status:02x}")
        self.events = MAX_MIDI_EVENTS - events_left
        self._finish_track(name, programs, notes, open_notes, tick)

    def _tempo(self, tick: int, body: bytes) -> None:
        if self.tempo_override is not None:
            self.dropped["tempo changes (SMPTE timing ignores them)"] += 1
        elif len(body) < 3 or not (tempo := int.from_bytes(body[:3], "big")):
            self.dropped["invalid tempo events (0 µs per beat)"] += 1
        else:
            # Several tracks may repeat the same tempo event: one per tick, the last one read wins.
            self.tempos[tick] = tempo
            if len(self.tempos) > MAX_MIDI_TEMPOS:
                raise InputError(f"{self.name} holds more than {MAX_MIDI_TEMPOS:,} tempo changes; it is not opened.")

    def _time_signature(self, tick: int, body: bytes) -> None:
        if len(body) >= 2 and body[0] > 0 and body[1] <= 6:  # denominators 1, 2, 4 ... 64
            self.time_signatures.append((tick, (body[0], 2 ** body[1])))
        else:
            self.dropped["invalid time signatures"] += 1

    def _finish_track(self, name: str, programs: dict, notes: dict, open_notes: dict, end_tick: int) -> None:
        # Notes that never got a note-off end at the end of their track (at least one beat long).
        hanging = 0
        for key, queue in open_notes.items():
            channel, pitch = divmod(key, 128)
            for begin, velocity in queue:
                notes[channel].append(Note(pitch, begin, max(end_tick - begin, self.ticks_per_beat), velocity))
                hanging += 1
        if hanging:
            self.warnings.append(f"{hanging} note(s) had no note-off; they were ended at the end of their track.")
        for channel in sorted(notes):
            drum = channel == DRUM_CHANNEL
            program = programs.get(channel, 0)
            label = name or program_name(program, drum)
            if len(notes) > 1:
                label = f"{label} (ch {channel + 1})"
            track = Track(label, program, channel, notes[channel])
            track.sort()
            self.tracks.append(track)

    def song(self) -> tuple[Song, list[str]]:
        """The song read so far and the warnings about what it could not hold."""
        song = Song(ticks_per_beat=self.ticks_per_beat, tracks=self.tracks, tempos=[])
        warnings = list(self.warnings)
        song.tempos = [TempoChange(tick, tempo) for tick, tempo in sorted(self.tempos.items())]
        song.tempos = song.tempos or [TempoChange(0, self.tempo_override or 500_000)]
        if song.tempos[0].tick != 0:
            song.tempos.insert(0, TempoChange(0, 500_000))
        if self.time_signatures:
            signatures = sorted(self.time_signatures, key=lambda t: t[0])
            song.time_signature = signatures[0][1]
            later = {ts for _, ts in signatures[1:] if ts != song.time_signature}
            if later:
                warnings.append(
                    f"Time signature changes were dropped; the whole song uses {song.time_signature[0]}/{song.time_signature[1]}."
                )
        for what, count in sorted(self.dropped.items()):
            warnings.append(f"{count} {what} cannot be shown in the piano roll and were dropped.")
        return song, warnings


def song_to_midi(
    song: Song, midi_type: int = 1, end_tick: int = 0, provenance: tuple[Provenance, ...] | list = ()
) -> mido.MidiFile:
    """Build a mido MidiFile (type 1: a conductor track then one track per part; type 0: one track).

    ``end_tick``: the file lasts at least this long (generated bars that end in a rest keep their length).
    Each ``provenance`` record becomes a text meta event at tick 0 of the first track: other programs
    ignore it (or list it as a comment) and pretty_midi keeps it when it rewrites the file.
    """
    conductor = [
        (0, mido.MetaMessage("time_signature", numerator=song.time_signature[0], denominator=song.time_signature[1]))
    ]
    conductor += [(0, mido.MetaMessage("text", text=midi_text(record))) for record in provenance]
    conductor += [(c.tick, mido.MetaMessage("set_tempo", tempo=int(c.tempo))) for c in song.tempos]
    parts = []
    for index, track in enumerate(song.tracks):
        channel = track.channel if 0 <= track.channel < 16 else index % 16
        events = [(0, 0, mido.MetaMessage("track_name", name=track.name[:100]))]
        if channel != DRUM_CHANNEL:
            events.append((0, 1, mido.Message("program_change", channel=channel, program=track.program & 127)))
        for n in track.notes:
            # Sort key: note-offs before note-ons at the same tick so repeated notes stay separate.
            events.append((n.start, 3, mido.Message("note_on", channel=channel, note=n.pitch, velocity=n.velocity)))
            events.append((n.end, 2, mido.Message("note_off", channel=channel, note=n.pitch, velocity=0)))
        parts.append(events)
    midi = mido.MidiFile(type=midi_type, ticks_per_beat=song.ticks_per_beat)
    if midi_type == 0:
        merged = [(t, 0, m) for t, m in conductor]
        for events in parts:
            merged += [e for e in events if not e[2].is_meta]
        midi.tracks.append(_to_track(merged, end_tick))
    else:
        midi.tracks.append(_to_track([(t, 0, m) for t, m in conductor], end_tick))
        for events in parts:
            midi.tracks.append(_to_track(events))
    return midi


def _to_track(events: list, end_tick: int = 0) -> mido.MidiTrack:
    events.sort(key=lambda e: (e[0], e[1]))
    track = mido.MidiTrack()
    last = 0
    for tick, _, msg in events:
        track.append(msg.copy(time=tick - last))
        last = tick
    track.append(mido.MetaMessage("end_of_track", time=max(0, end_tick - last)))
    return track


def write_midi(
    song: Song, path: str | Path, midi_type: int = 1, end_tick: int = 0, provenance: tuple | list = ()
) -> None:
    """Save ``song`` as a Standard MIDI File, atomically (lasting at least ``end_tick``, with the provenance
    records of its generated notes)."""
    from aigc_studio.core.atomic import atomic_write_bytes

    atomic_write_bytes(path, midi_bytes(song, midi_type, end_tick, provenance))


def midi_bytes(song: Song, midi_type: int = 1, end_tick: int = 0, provenance: tuple | list = ()) -> bytes:
    """The .mid file content for ``song``."""
    buffer = io.BytesIO()
    song_to_midi(song, midi_type, end_tick, provenance).save(file=buffer)
    return buffer.getvalue()


def read_provenance(path: str | Path) -> list[Provenance]:
    """The provenance records in a MIDI file we wrote (none for other files); InputError for a damaged record.

    The file goes through the same bounded one-pass reader as :func:`read_midi`.
    """
    path = Path(path)
    reader, _warnings = _read_tracks(_file_bytes(path), path.name)
    return _records(reader, path.name)


def _records(reader: _TrackReader, name: str) -> list[Provenance]:
    return [record for text in reader.provenance if (record := from_midi_text(text, name)) is not None]
