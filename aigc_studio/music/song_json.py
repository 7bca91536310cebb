"""A song as plain JSON data (the autosave form): exact ticks, tempo map, metre, tracks and notes.

Notes are compact ``[pitch, start, duration, velocity, generated]`` lists so a long
song stays small. Reading checks every value, so a damaged file raises ValueError
instead of building a song the piano roll cannot draw.
"""

from __future__ import annotations

from typing import Any

from aigc_studio.music.song import Note, Song, TempoChange, Track


def song_to_dict(song: Song) -> dict[str, Any]:
    """``song`` as JSON-able data."""
    return {
        "ticks_per_beat": song.ticks_per_beat,
        "time_signature": list(song.time_signature),
        "tempos": [[c.tick, c.tempo] for c in song.tempos],
        "tracks": [
            {
                "name": t.name,
                "program": t.program,
                "channel": t.channel,
                "notes": [[n.pitch, n.start, n.duration, n.velocity, int(n.generated)] for n in t.notes],
            }
            for t in song.tracks
        ],
    }


def song_from_dict(data: dict[str, Any]) -> Song:
    """Rebuild a song from :func:`song_to_dict` data; ValueError when a value is missing or out of range."""
    try:
        numerator, denominator = (_int(v, 1, 64) for v in data["time_signature"])
        tempos = [TempoChange(_int(tick, 0, 2**31), _int(tempo, 1, 2**24)) for tick, tempo in data["tempos"]]
        tracks = [
            Track(str(t["name"]), _int(t["program"], 0, 127), _int(t["channel"], 0, 15), [_note(n) for n in t["notes"]])
            for t in data["tracks"]
        ]
        return Song(_int(data["ticks_per_beat"], 1, 32767), tracks, tempos, (numerator, denominator))
    except (KeyError, TypeError) as exc:
        raise ValueError(f"not a song: {exc!r}") from exc


def _note(values: list) -> Note:
    pitch, start, duration, velocity, generated = values
    return Note(_int(pitch, 0, 127), _int(start, 0, 2**31), _int(duration, 1, 2**31), _int(velocity, 1, 127), bool(generated))


def _int(value: Any, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"{value!r} is not a whole number in {low}..{high}")
    return value
