"""MIDI files: what we write reads back identically (mido and pretty_midi), odd input is reported."""

from __future__ import annotations

import mido
import pretty_midi
import pytest

from aigc_studio.errors import InputError
from aigc_studio.music.midi_io import read_midi, write_midi


def _notes(song):
    return [[(n.pitch, n.start, n.duration, n.velocity) for n in t.notes] for t in song.tracks]


@pytest.mark.parametrize("midi_type", [0, 1])
def test_export_reads_back_identically_with_our_reader_and_mido(tmp_path, song, midi_type):
    path = tmp_path / "out.mid"
    write_midi(song, path, midi_type)
    again, warnings = read_midi(path)
    assert warnings == []
    assert _notes(again) == _notes(song)
    assert [t.channel for t in again.tracks] == [0, 1, 9]
    assert [t.program for t in again.tracks][:2] == [0, 32]
    assert again.tempos == song.tempos
    assert mido.MidiFile(str(path)).type == midi_type


def test_pretty_midi_sees_the_same_notes_in_seconds(tmp_path, song):
    path = tmp_path / "out.mid"
    write_midi(song, path)
    pm = pretty_midi.PrettyMIDI(str(path))
    ours = sorted((n.pitch, round(song.tick_to_seconds(n.start), 6), round(song.tick_to_seconds(n.end), 6), n.velocity,
                   t.is_drum, 0 if t.is_drum else t.program) for t in song.tracks for n in t.notes)
    theirs = sorted((n.pitch, round(n.start, 6), round(n.end, 6), n.velocity, inst.is_drum, inst.program)
                    for inst in pm.instruments for n in inst.notes)
    assert ours == theirs
    assert len(pm.get_tempo_changes()[0]) == 2


def test_type0_running_status_tempo_changes_drums_and_dropped_events_are_reported(tmp_path):
    from tests.music.conftest import write_type0_with_extras

    path = tmp_path / "type0.mid"
    write_type0_with_extras(path)
    song, warnings = read_midi(path)
    by_channel = {t.channel: t for t in song.tracks}
    assert sorted(by_channel) == [0, 9]
    assert by_channel[9].is_drum and [n.pitch for n in by_channel[9].notes] == [36]
    assert [(n.pitch, n.start, n.duration) for n in by_channel[0].notes] == [(60, 0, 480), (64, 0, 480), (67, 480, 480)]
    assert by_channel[0].program == 5
    assert [c.tempo for c in song.tempos] == [500_000, 400_000]
    text = " ".join(warnings)
    assert "pitch bend" in text and "controller" in text and "lyric" in text


@pytest.mark.parametrize("data", [b"", b"hello world", b"MThd\x00\x00\x00\x06\x00\x01\x00\x01\x01\xe0MTrk\x00\x00\x00\x09\x90"])
def test_broken_midi_gives_a_clear_error(tmp_path, data):
    path = tmp_path / "broken.mid"
    path.write_bytes(data)
    with pytest.raises(InputError) as info:
        read_midi(path)
    assert "broken.mid" in str(info.value)


def test_missing_file_is_an_input_error(tmp_path):
    with pytest.raises(InputError):
        read_midi(tmp_path / "nope.mid")
