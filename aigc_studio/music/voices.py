"""Voices of a part-writing model (the chorales: soprano, alto, tenor, bass) as separate tracks.

The chorale model writes its four voices as notes of one instrument; the card's
``voices`` entry names the voices, their General MIDI program and the program
the model writes. Generated notes are dealt to the voices onset by onset: the
notes of a chord from the top voice down, a single moving note to the free
voice it continues most smoothly.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations

from aigc_studio.music.song import DRUM_CHANNEL, Note, Song, Track


@dataclass(frozen=True)
class Voicing:
    """Voice names (top to bottom), their output program, and the program the model writes them with."""

    names: tuple[str, ...]
    program: int
    source_program: int = 0

    @classmethod
    def from_card(cls, card) -> Voicing | None:
        """The card's ``voices`` entry, or None for models that write instruments, not voices."""
        data = (card.extra or {}).get("voices") if card is not None else None
        if not data:
            return None
        return cls(tuple(data["names"]), int(data.get("program", 0)), int(data.get("source_program", 0)))

    def to_card(self) -> dict:
        """What the card stores."""
        return {"names": list(self.names), "program": self.program, "source_program": self.source_program}

    def is_voice(self, track: Track) -> bool:
        """Whether ``track`` is one of these voices (by name)."""
        return track.name in self.names and not track.is_drum


def model_view(song: Song, voicing: Voicing) -> Song:
    """A copy of ``song`` whose voice tracks carry the program the model knows (so it reads them as its parts)."""
    out = song.copy()
    for t in out.tracks:
        if voicing.is_voice(t):
            t.program = voicing.source_program
    return out


def split_voices(fragment: Song, song: Song | None, voicing: Voicing) -> Song:
    """``fragment`` (tracks aligned with ``song``) with the model's part notes dealt to one track per voice.

    Voice tracks of ``song`` (matched by name) are reused; missing ones are added after its tracks.
    """
    base = (
        song.copy()
        if song is not None
        else Song(fragment.ticks_per_beat, [], list(fragment.tempos), fragment.time_signature)
    )
    out = Song(
        fragment.ticks_per_beat,
        [Track(t.name, t.program, t.channel, []) for t in base.tracks],
        list(fragment.tempos),
        fragment.time_signature,
    )
    pool: list[Note] = []
    for index, track in enumerate(fragment.tracks):
        source = base.tracks[index] if index < len(base.tracks) else track
        if not track.is_drum and (track.program == voicing.source_program or voicing.is_voice(source)):
            pool += track.notes
        elif index < len(out.tracks):
            out.tracks[index].notes = list(track.notes)
        else:
            out.tracks.append(Track(track.name, track.program, track.channel, list(track.notes)))
    targets = []
    for name in voicing.names:
        index = next((i for i, t in enumerate(out.tracks) if t.name == name and not t.is_drum), None)
        if index is None:
            used = {t.channel for t in out.tracks}
            channel = next((c for c in range(16) if c != DRUM_CHANNEL and c not in used), 0)
            out.tracks.append(Track(name, voicing.program, channel, []))
            index = len(out.tracks) - 1
        targets.append(index)
    for voice, notes in enumerate(deal(pool, len(voicing.names))):
        out.tracks[targets[voice]].notes += notes
    for t in out.tracks:
        t.sort()
    return out


def deal(notes: list[Note], voices: int) -> list[list[Note]]:
    """Notes split into ``voices`` monophonic lines, top voice first.

    At each onset the free voices (whose last note has ended) take the new notes, highest note
    to the highest voice; with fewer notes than free voices, the notes go to the free voices
    whose last pitches they are closest to, keeping the voices' order. A chord with more notes
    than free voices cuts the held notes short; notes beyond the number of voices join the
    nearest voice (the decoder's polyphony mask keeps that from happening).
    """
    lines: list[list[Note]] = [[] for _ in range(voices)]
    last_pitch = [72 - 8 * v for v in range(voices)]  # soprano C5, alto E4, tenor G#3, bass C3 to start
    by_onset: dict[int, list[Note]] = {}
    for n in notes:
        by_onset.setdefault(n.start, []).append(n)
    for start in sorted(by_onset):
        chord = sorted(by_onset[start], key=lambda n: -n.pitch)
        free = [v for v in range(voices) if not lines[v] or lines[v][-1].end <= start]
        if len(chord) > len(free):
            free = list(range(voices))
            for v in free:  # cut what still sounds
                if lines[v] and lines[v][-1].end > start:
                    held = lines[v][-1]
                    if held.start == start:
                        continue
                    lines[v][-1] = Note(held.pitch, held.start, start - held.start, held.velocity, held.generated)
        chosen_notes, extra = chord[: len(free)], chord[len(free) :]
        best = min(
            combinations(free, len(chosen_notes)),
            key=lambda vs: sum(abs(n.pitch - last_pitch[v]) for n, v in zip(chosen_notes, vs)),
        )
        for n, v in zip(chosen_notes, best):
            if lines[v] and lines[v][-1].start == start:  # a voice restarted in a crowded chord: nearest instead
                extra.append(n)
                continue
            lines[v].append(n)
            last_pitch[v] = n.pitch
        for n in extra:
            v = min(range(voices), key=lambda i: abs(n.pitch - last_pitch[i]))
            lines[v].append(n)
    for line in lines:  # one line holds one note at a time
        line.sort(key=lambda n: (n.start, -n.pitch))
        for i in range(len(line) - 1):
            if line[i].end > line[i + 1].start and line[i + 1].start > line[i].start:
                n = line[i]
                line[i] = Note(n.pitch, n.start, line[i + 1].start - n.start, n.velocity, n.generated)
    return lines
