"""Music sanity figures: Krumhansl key estimate, share of notes in key, pitch range, note density."""

from __future__ import annotations

import numpy as np

from aigc_studio.music.song import Song

# Krumhansl-Kessler key profiles (major, minor), tonic first.
MAJOR = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
MINOR = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])
MAJOR_SCALE = (0, 2, 4, 5, 7, 9, 11)
MINOR_SCALE = (0, 2, 3, 5, 7, 8, 10, 11)  # natural minor plus the leading tone
NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")


def pitched_notes(song: Song) -> list:
    """All non-drum notes."""
    return [n for t in song.tracks if not t.is_drum for n in t.notes]


def estimate_key(song: Song) -> tuple[int, str]:
    """(tonic pitch class, 'major' or 'minor') by correlating the duration-weighted pitch-class histogram."""
    hist = np.zeros(12)
    for n in pitched_notes(song):
        hist[n.pitch % 12] += n.duration
    if hist.sum() == 0:
        return 0, "major"
    best = (-2.0, 0, "major")
    for tonic in range(12):
        for mode, profile in (("major", MAJOR), ("minor", MINOR)):
            r = np.corrcoef(hist, np.roll(profile, tonic))[0, 1]
            if r > best[0]:
                best = (r, tonic, mode)
    return best[1], best[2]


def in_key_share(song: Song) -> float:
    """Share of pitched notes whose pitch class belongs to the estimated key's scale."""
    notes = pitched_notes(song)
    if not notes:
        return 0.0
    tonic, mode = estimate_key(song)
    scale = {(tonic + d) % 12 for d in (MAJOR_SCALE if mode == "major" else MINOR_SCALE)}
    return sum(1 for n in notes if n.pitch % 12 in scale) / len(notes)


def figures(song: Song) -> dict:
    """Per-song figures: notes, in-key share, pitch range, notes per bar."""
    notes = pitched_notes(song)
    pitches = [n.pitch for n in notes]
    return {"notes": len(notes), "in_key": in_key_share(song),
            "pitch_range": (max(pitches) - min(pitches)) if pitches else 0,
            "notes_per_bar": len(notes) / max(1, song.bars)}
