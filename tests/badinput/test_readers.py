"""What the Qt-free readers make of the awkward inputs that should open, and how cheaply they refuse the rest."""

from __future__ import annotations

import time

import pytest

from aigc_studio.errors import InputError
from aigc_studio.image.picture_io import read_picture
from aigc_studio.music.midi_io import read_midi, read_midi_bytes
from aigc_studio.text.corpus import load_corpus
from aigc_studio.text.document_io import decode_text, read_text_file
from tests.badinput.cases import ENTRIES

# pytest resets warning filters per test; the app silences PIL's bomb warning itself (picture_io).
pytestmark = pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")


def _path(entry_id: str):
    return next(e for e in ENTRIES if e.id == entry_id).path


@pytest.mark.parametrize(
    ("entry_id", "encoding"),
    [("latin1.txt", "cp1252"), ("utf16-bom.txt", "utf-16-le"), ("utf16le-nobom.txt", "utf-16-le"),
     ("invalid-utf8.txt", "utf-8 with 2 invalid byte sequence(s) replaced by \ufffd"), ("empty.txt", "utf-8")],
)
def test_text_in_other_encodings_reads_as_the_writer_wrote_it(entry_id, encoding):
    entry = next(e for e in ENTRIES if e.id == entry_id)
    assert read_text_file(entry.path) == (entry.expected_text, encoding)


def test_utf32_and_utf8_bom_text_and_binary_that_looks_like_utf16():
    assert decode_text("Zoë 東京".encode("utf-32"), "a.txt") == ("Zoë 東京", "utf-32-le")
    assert decode_text("\ufeffZoë".encode(), "b.txt") == ("Zoë", "utf-8-sig")
    # Every other byte NUL, but the "characters" are control codes: a binary table, not UTF-16 text.
    with pytest.raises(InputError, match="c.bin looks like a binary file"):
        decode_text(bytes([1, 0, 2, 0, 3, 0, 4, 0] * 64), "c.bin")


def test_a_huge_text_is_refused_from_its_size_without_reading_it(huge_text):
    start = time.perf_counter()
    with pytest.raises(InputError, match="huge.txt is 200 MB; text files over 10 MB are not opened"):
        read_text_file(huge_text)
    with pytest.raises(InputError, match=r"training text is 200 MB \(largest file: huge.txt\)"):
        load_corpus([huge_text])
    assert time.perf_counter() - start < 1.0


def test_a_decompression_bomb_is_refused_before_any_pixel_is_decoded():
    start = time.perf_counter()
    for name in ("bomb-50000.png", "bomb-12000.jpg"):
        with pytest.raises(InputError, match="megapixels are not opened"):
            read_picture(_path(name))
    assert time.perf_counter() - start < 0.5  # decoding 2.5 gigapixels would take minutes and ~7 GB


def test_smpte_timing_is_converted_keeping_every_note_at_its_time():
    song, warnings = read_midi(_path("smpte.mid"))  # 25 fps × 40 ticks: notes at 0 s and 1 s, 1 s long
    assert any("SMPTE" in w and "120 BPM" in w for w in warnings)
    starts = [song.tick_to_seconds(n.start) for n in song.tracks[0].notes]
    ends = [song.tick_to_seconds(n.end) for n in song.tracks[0].notes]
    assert starts == pytest.approx([0.0, 1.0]) and ends == pytest.approx([1.0, 2.0])


def test_notes_without_note_off_end_at_the_end_of_their_track():
    song, warnings = read_midi(_path("hanging-note.mid"))
    notes = sorted((n.pitch, n.start, n.duration) for n in song.tracks[0].notes)
    # 60 sounds from 0 to the end of the track (960); 67 starts at the very end and gets one beat.
    assert notes == [(60, 0, 960), (64, 0, 480), (67, 960, 480)]
    assert warnings == ["2 note(s) had no note-off; they were ended at the end of their track."]


def test_a_zero_tempo_and_a_zero_beat_time_signature_are_dropped_not_divided_by():
    song, warnings = read_midi(_path("zero-tempo.mid"))
    assert [t.tempo for t in song.tempos] == [500_000] and song.tick_to_seconds(480) == pytest.approx(0.5)
    assert any("tempo" in w for w in warnings)
    song, warnings = read_midi(_path("bad-time-signature.mid"))
    assert song.time_signature == (4, 4) and song.bar_ticks == 1920
    assert any("time signature" in w for w in warnings)


def test_a_type_2_file_with_one_pattern_reads_as_one_song():
    from tests.badinput.corpus import _header, _notes, _track

    song, warnings = read_midi_bytes(_header(2, 1, 480) + _track(_notes(60, 62)), "one-pattern.mid")
    assert [(n.pitch, n.start) for n in song.tracks[0].notes] == [(60, 0), (62, 480)] and warnings == []
