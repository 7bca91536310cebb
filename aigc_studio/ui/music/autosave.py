"""The piano roll's song in the autosave: its record, and the unsaved song a crashed session left.

Files live in ``autosave/music-<pid>.json`` (see :mod:`aigc_studio.core.autosave`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aigc_studio.core.autosave import AutosaveStore, RecoveredWork
from aigc_studio.core.provenance import from_dict
from aigc_studio.errors import InputError
from aigc_studio.music.song import Song
from aigc_studio.music.song_json import song_from_dict, song_to_dict

KIND = "music"


def song_record(song: Song, path: Path | None, records: list | None = None) -> dict[str, Any]:
    """What the autosave keeps: the whole song, the MIDI file it belongs to and its generations' records."""
    return {
        "song": song_to_dict(song),
        "path": str(path) if path else None,
        "records": [r.to_dict() for r in records or []],
    }


@dataclass
class RecoveredSong(RecoveredWork):
    """An unsaved song found after a crash."""

    song: Song
    path: Path | None
    records: list = field(default_factory=list)  # provenance of its generations

    @property
    def what(self) -> str:
        """For the recovery banner."""
        return f"Unsaved changes to {self.path.name}" if self.path else "An unsaved song"

    @property
    def details(self) -> str:
        """For the recovery banner."""
        return f"{self.song.note_count:,} notes"


def _records(raw: Any) -> list:
    """The records of a song autosave; damaged ones are left out (the notes are what matters)."""
    records = []
    for item in raw if isinstance(raw, list) else []:
        try:
            records.append(from_dict(item))
        except InputError:
            continue
    return records


def recoverable_songs(store: AutosaveStore) -> list[RecoveredSong]:
    """Unsaved songs left by crashed sessions, newest first (broken autosaves are set aside)."""
    found = []
    for autosave in store.orphans():
        try:
            song = song_from_dict(autosave.data["song"])
            path = autosave.data.get("path")
            if path is not None and not isinstance(path, str):
                raise ValueError("the file name is not text")
        except (KeyError, TypeError, ValueError) as exc:
            autosave.set_aside(f"not a song autosave: {exc}")
            continue
        found.append(
            RecoveredSong(autosave, song, Path(path) if path else None, _records(autosave.data.get("records")))
        )
    return found
