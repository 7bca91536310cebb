"""Standard MIDI File import/export with mido (type 0 and 1, tempo map, drums).

Type 2 files with a single pattern read as type 0; SMPTE-timed files are
converted to beats at 120 BPM with every note kept at its time. Damaged files
raise InputError naming the file and the problem.

Whatever the song model cannot hold (pitch bend, controllers, lyrics, later
program or time-signature changes...) is counted and reported as warnings.
"""

from __future__ import annotations

import io
from collections import Counter, defaultdict, deque
from pathlib import Path

import mido

from aigc_studio.core.provenance import MIDI_TEXT_PREFIX, Provenance, from_midi_text, midi_text
from aigc_studio.errors import InputError
from aigc_studio.music.song import DRUM_CHANNEL, Note, Song, TempoChange, Track

MAX_MIDI_BYTES = 50 * 1024 * 1024

_GM_NAMES = ("Piano", "Chromatic perc.", "Organ", "Guitar", "Bass", "Strings", "Ensemble", "Brass",
             "Reed", "Pipe", "Synth lead", "Synth pad", "Synth FX", "Ethnic", "Percussive", "Sound FX")

_DROPPED = {
    "pitchwheel": "pitch bend events",
    "control_change": "controller (CC) events",
    "aftertouch": "channel aftertouch events",
    "polytouch": "polyphonic aftertouch events",
    "sysex": "system-exclusive messages",
    "lyrics": "lyric events",
    "text": "text events",
    "marker": "markers",
    "cue_marker": "cue markers",
    "key_signature": "key signatures",
    "copyright": "copyright notices",
}


def program_name(program: int, drum: bool = False) -> str:
    """A short General MIDI family name for a track label."""
    return "Drums" if drum else _GM_NAMES[max(0, min(127, program)) // 8]


def read_midi(path: str | Path) -> tuple[Song, list[str]]:
    """Read a .mid file into a :class:`Song`; returns (song, warnings). Broken files raise InputError."""
    path = Path(path)
    if path.is_dir():
        raise InputError(f"{path.name} is a folder, not a MIDI file.")
    try:
        size = path.stat().st_size
        if size > MAX_MIDI_BYTES:
            raise InputError(f"{path.name} is {size // 1_000_000} MB; MIDI files over 50 MB are not supported.")
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"Cannot open {path.name}: {exc.strerror or exc}.") from exc
    return read_midi_bytes(data, path.name)


def read_midi_bytes(data: bytes, name: str = "MIDI data") -> tuple[Song, list[str]]:
    """Parse MIDI bytes (see :func:`read_midi`)."""
    if not data:
        raise InputError(f"{name} is empty (0 bytes); it is not a MIDI file.")
    if not data.startswith(b"MThd"):
        raise InputError(f"{name} is not a Standard MIDI File (it does not start with 'MThd').")
    try:
        midi = mido.MidiFile(file=io.BytesIO(data), clip=True)
    except EOFError:
        raise InputError(f"{name} is a truncated MIDI file: it ends in the middle of a header, track or event.") from None
    except Exception as exc:  # mido raises many kinds (OSError, KeyError, ValueError, struct.error)
        raise InputError(f"{name} is a damaged MIDI file and cannot be read ({_describe_mido_error(exc)}).") from None
    warnings: list[str] = []
    if midi.type not in (0, 1, 2):
        raise InputError(f"{name} is a damaged MIDI file: its header says type {midi.type}; MIDI files are type 0, 1 or 2.")
    if not midi.tracks:
        raise InputError(f"{name} has no tracks: it holds no music.")
    if midi.type == 2:
        if len(midi.tracks) > 1:
            raise InputError(
                f"{name} is a type 2 MIDI file holding {len(midi.tracks)} separate patterns; "
                "only types 0 and 1 (one song) are supported."
            )
        midi.type = 0  # one pattern is simply one song
    if midi.ticks_per_beat == 0:
        raise InputError(f"{name} is a damaged MIDI file: its header gives 0 ticks per beat.")
    tempo_override = None
    if midi.ticks_per_beat < 0:
        tempo_override, note = _from_smpte(midi, name)
        warnings.append(note)
    song, more = _to_song(midi, tempo_override)
    return song, warnings + more


def _describe_mido_error(exc: Exception) -> str:
    text = str(exc)
    if "running status" in text:
        return "an event has no status byte and there is no earlier one to repeat (bad running status)"
    if "MTrk" in text:
        return "a track chunk is missing or misplaced"
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _from_smpte(midi: mido.MidiFile, name: str) -> tuple[int, str]:
    """Turn SMPTE (frames per second) timing into beats at 120 BPM, keeping every event's time."""
    raw = midi.ticks_per_beat & 0xFFFF  # mido reads the division as a signed 16-bit number
    fps_code, ticks_per_frame = 256 - (raw >> 8), raw & 0xFF
    fps = {29: 29.97}.get(fps_code, float(fps_code))
    if fps_code not in (24, 25, 29, 30) or ticks_per_frame == 0:
        raise InputError(f"{name} is a damaged MIDI file: its SMPTE time division ({fps_code} fps, {ticks_per_frame} ticks per frame) is invalid.")
    ticks_per_second = fps * ticks_per_frame
    midi.ticks_per_beat = max(1, round(ticks_per_second / 2))
    tempo = round(midi.ticks_per_beat * 1e6 / ticks_per_second)  # µs per beat: ~120 BPM, exact times
    note = (f"{name} uses SMPTE timing ({fps:g} fps); it was converted to {60e6 / tempo:.0f} BPM with the same "
            "note times, so bar lines may not match the music.")
    return tempo, note


def _to_song(midi: mido.MidiFile, tempo_override: int | None = None) -> tuple[Song, list[str]]:
    song = Song(ticks_per_beat=midi.ticks_per_beat, tempos=[])
    dropped: Counter[str] = Counter()
    warnings: list[str] = []
    time_signatures: list[tuple[int, tuple[int, int]]] = []
    for mtrack in midi.tracks:
        tick = 0
        name = ""
        programs: dict[int, int] = {}
        notes: dict[int, list[Note]] = defaultdict(list)
        open_notes: dict[tuple[int, int], deque] = defaultdict(deque)
        for msg in mtrack:
            tick += msg.time
            kind = msg.type
            if kind == "note_on" and msg.velocity > 0:
                open_notes[(msg.channel, msg.note)].append((tick, msg.velocity))
            elif kind in ("note_off", "note_on"):
                queue = open_notes.get((msg.channel, msg.note))
                if queue:
                    start, velocity = queue.popleft()  # first in, first out for overlapping repeats
                    if tick > start:
                        notes[msg.channel].append(Note(msg.note, start, tick - start, velocity))
                    else:
                        dropped["zero-length notes"] += 1
            elif kind == "set_tempo":
                if tempo_override is not None:
                    dropped["tempo changes (SMPTE timing ignores them)"] += 1
                elif msg.tempo > 0:
                    song.tempos.append(TempoChange(tick, msg.tempo))
                else:
                    dropped["invalid tempo events (0 µs per beat)"] += 1
            elif kind == "time_signature":
                if msg.numerator > 0 and msg.denominator in (1, 2, 4, 8, 16, 32, 64):
                    time_signatures.append((tick, (msg.numerator, msg.denominator)))
                else:
                    dropped["invalid time signatures"] += 1
            elif kind == "program_change":
                if msg.channel in programs and programs[msg.channel] != msg.program:
                    dropped["later program changes"] += 1
                else:
                    programs[msg.channel] = msg.program
            elif kind == "track_name" and not name:
                name = msg.name.strip()
            elif kind == "text" and msg.text.startswith(MIDI_TEXT_PREFIX):
                pass  # our provenance record (read_provenance), not a text the song loses
            elif kind in _DROPPED:
                dropped[_DROPPED[kind]] += 1
            elif kind in ("end_of_track", "track_name", "instrument_name", "midi_port", "channel_prefix",
                          "smpte_offset", "sequence_number"):
                pass
            else:
                dropped[f"{kind.replace('_', ' ')} events"] += 1
        hanging = _end_hanging_notes(open_notes, notes, tick, midi.ticks_per_beat)
        if hanging:
            warnings.append(f"{hanging} note(s) had no note-off; they were ended at the end of their track.")
        for channel in sorted(notes):
            drum = channel == DRUM_CHANNEL
            program = programs.get(channel, 0)
            label = name or program_name(program, drum)
            if len(notes) > 1:
                label = f"{label} (ch {channel + 1})"
            track = Track(label, program, channel, notes[channel])
            track.sort()
            song.tracks.append(track)
    song.tempos.sort(key=lambda c: c.tick)
    # Several tracks may repeat the same tempo event; keep one per tick (the last one wins).
    unique: dict[int, TempoChange] = {c.tick: c for c in song.tempos}
    song.tempos = list(unique.values()) or [TempoChange(0, tempo_override or 500_000)]
    if song.tempos[0].tick != 0:
        song.tempos.insert(0, TempoChange(0, 500_000))
    if time_signatures:
        time_signatures.sort(key=lambda t: t[0])
        song.time_signature = time_signatures[0][1]
        later = {ts for _, ts in time_signatures[1:] if ts != song.time_signature}
        if later:
            warnings.append(f"Time signature changes were dropped; the whole song uses {song.time_signature[0]}/{song.time_signature[1]}.")
    for what, count in sorted(dropped.items()):
        warnings.append(f"{count} {what} cannot be shown in the piano roll and were dropped.")
    return song, warnings


def _end_hanging_notes(open_notes: dict, notes: dict, end_tick: int, ticks_per_beat: int) -> int:
    """Give notes that never got a note-off an end: the end of the track (at least one beat long)."""
    count = 0
    for (channel, pitch), queue in open_notes.items():
        for start, velocity in queue:
            notes[channel].append(Note(pitch, start, max(end_tick - start, ticks_per_beat), velocity))
            count += 1
    return count


def song_to_midi(song: Song, midi_type: int = 1, provenance: tuple[Provenance, ...] | list = ()) -> mido.MidiFile:
    """Build a mido MidiFile (type 1: a conductor track then one track per part; type 0: one track).

    Each ``provenance`` record becomes a text meta event at tick 0 of the first track: other programs
    ignore it (or list it as a comment) and pretty_midi keeps it when it rewrites the file.
    """
    conductor = [(0, mido.MetaMessage("time_signature", numerator=song.time_signature[0],
                                      denominator=song.time_signature[1]))]
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
        midi.tracks.append(_to_track(merged))
    else:
        midi.tracks.append(_to_track([(t, 0, m) for t, m in conductor]))
        for events in parts:
            midi.tracks.append(_to_track(events))
    return midi


def _to_track(events: list) -> mido.MidiTrack:
    events.sort(key=lambda e: (e[0], e[1]))
    track = mido.MidiTrack()
    last = 0
    for tick, _, msg in events:
        track.append(msg.copy(time=tick - last))
        last = tick
    track.append(mido.MetaMessage("end_of_track", time=0))
    return track


def write_midi(song: Song, path: str | Path, midi_type: int = 1, provenance: tuple | list = ()) -> None:
    """Save ``song`` as a Standard MIDI File, atomically (with the provenance records of its generated notes)."""
    from aigc_studio.core.atomic import atomic_write_bytes

    atomic_write_bytes(path, midi_bytes(song, midi_type, provenance))


def midi_bytes(song: Song, midi_type: int = 1, provenance: tuple | list = ()) -> bytes:
    """The .mid file content for ``song``."""
    buffer = io.BytesIO()
    song_to_midi(song, midi_type, provenance).save(file=buffer)
    return buffer.getvalue()


def read_provenance(path: str | Path) -> list[Provenance]:
    """The provenance records in a MIDI file we wrote (none for other files); InputError for a damaged record."""
    path = Path(path)
    try:
        if path.stat().st_size > MAX_MIDI_BYTES:
            raise InputError(f"{path.name} is over 50 MB; MIDI files that big are not supported.")
        midi = mido.MidiFile(file=io.BytesIO(path.read_bytes()))
    except (OSError, EOFError, ValueError, KeyError, IndexError) as exc:
        raise InputError(f"Cannot read {path.name}: {exc}") from exc
    records = []
    for track in midi.tracks:
        for msg in track:
            if msg.type == "text":
                record = from_midi_text(msg.text, path.name)
                if record is not None:
                    records.append(record)
    return records
