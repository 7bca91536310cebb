"""Music measures: transposed copies are copies, entropies have their known extremes, degenerate pieces count."""

from __future__ import annotations

import math

from aigc_studio.evaluate.base import Reference
from aigc_studio.evaluate.copying import longest_copy
from aigc_studio.evaluate.music import (
    MusicStudio,
    interval_string,
    most_onsets,
    pitch_class_entropy,
    rhythm_entropy,
    valid_midi,
)
from aigc_studio.music.song import Note, Song, Track


def scale_song(shift: int = 0, notes: int = 16, chord: int = 1) -> Song:
    pitches = [60, 62, 64, 65, 67, 69, 71, 72, 71, 69, 67, 65, 64, 62, 60, 67]
    track = Track(
        "Piano",
        0,
        0,
        [Note(pitches[i % 16] + shift + 12 * k, i * 240, 240) for i in range(notes) for k in range(chord)],
    )
    return Song(tracks=[track])


class _Ctx:
    def check_cancelled(self) -> None:
        pass

    def progress(self, fraction, message="", preview=None) -> None:
        pass


def test_a_transposed_copy_of_a_melody_is_a_full_length_copy():
    original, moved = interval_string(scale_song()), interval_string(scale_song(shift=5))
    assert original == moved
    assert longest_copy(moved, original).length == 15  # 16 notes = 15 intervals


def test_pitch_class_and_rhythm_entropy_extremes():
    one_note = Song(tracks=[Track("P", 0, 0, [Note(60, i * 480 * 4, 240) for i in range(8)])])
    assert pitch_class_entropy(one_note) == 0.0
    assert rhythm_entropy(one_note) == 0.0
    chromatic = Song(tracks=[Track("P", 0, 0, [Note(60 + i, i * 120, 120) for i in range(12)])])
    assert math.isclose(pitch_class_entropy(chromatic), math.log2(12))


def test_pieces_write_valid_midi_and_empty_ones_do_not():
    assert valid_midi(scale_song())
    assert not valid_midi(Song(tracks=[Track("P", 0, 0, [])]))


def test_reference_measured_as_its_own_samples_copies_whole_melodies_and_flags_crowded_chords():
    reference = Reference("ref", [scale_song(), scale_song(shift=2, notes=12)], ["a.mid", "b.mid"], "MIDI pieces", 2)
    crowded = scale_song(chord=4)
    assert most_onsets(crowded) == 4
    measured = MusicStudio().measure([scale_song(shift=3), crowded], reference, None, _Ctx(), None)
    assert measured.novelty["longest_copied_melody_notes_max"] == 16
    assert measured.quality["degenerate_share"] == 0.5  # the 4-note chords: more than any reference onset
    assert measured.quality["valid_midi_share"] == 1.0
    assert measured.diversity["near_duplicate_share"] == 1.0  # same top line, twice


def test_the_melody_is_the_top_voice_not_a_lower_voice_moving_under_a_held_note():
    from aigc_studio.evaluate.music import melody

    soprano = [Note(72, 0, 960), Note(74, 960, 480)]
    bass = [Note(48, 0, 480), Note(50, 480, 480), Note(52, 960, 480)]  # moves while the soprano holds
    song = Song(tracks=[Track("S", 0, 0, soprano), Track("B", 0, 1, bass)])
    assert melody(song) == [(0, 72), (960, 74)]
