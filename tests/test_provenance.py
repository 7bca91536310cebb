"""One provenance record for pictures, text and music: it survives its file and other programs' rewrites."""

from __future__ import annotations

import json

import mido
import pytest

from aigc_studio import __version__
from aigc_studio.core.provenance import MIDI_TEXT_PREFIX, Provenance, from_image_recipe, from_json
from aigc_studio.errors import InputError
from aigc_studio.music.midi_io import read_midi, read_provenance, song_to_midi, write_midi
from tests.music.conftest import chorale_like_song

RECORD = Provenance(
    media="music",
    operation="generate",
    model="music-chorales-transformer",
    model_hash="ab" * 32,
    seed=5,
    settings={"bars": 8, "temperature": 0.9, "top_k": 0, "top_p": 0.95},
)


def test_a_record_reads_back_equal_and_names_the_app_version():
    again = from_json(RECORD.to_json())
    assert again == RECORD and again.app_version == __version__
    stamped = RECORD.stamped()
    assert stamped.created.endswith("+00:00") and from_json(stamped.to_json()) == stamped
    assert ("Seed", "5") in RECORD.lines() and ("Temperature", "0.9") in RECORD.lines()


@pytest.mark.parametrize(
    "damage",
    [
        lambda d: d.update(version=99),
        lambda d: d.update(seed="five"),
        lambda d: d.update(media="video"),
        lambda d: d.update(settings=[1, 2]),
        lambda d: d.pop("format"),
    ],
    ids=["newer", "seed", "media", "settings", "not ours"],
)
def test_a_damaged_or_foreign_record_is_refused_with_a_message(damage):
    data = RECORD.to_dict()
    damage(data)
    with pytest.raises(InputError):
        from_json(json.dumps(data))
    with pytest.raises(InputError, match="not valid JSON"):
        from_json("{broken")


def test_midi_carries_the_record_through_mido_and_pretty_midi_and_reads_without_warnings(tmp_path):
    pretty_midi = pytest.importorskip("pretty_midi")
    song = chorale_like_song()
    path = tmp_path / "idea.mid"
    write_midi(song, path, provenance=[RECORD])
    again, warnings = read_midi(path)
    assert warnings == [] and again.note_count == song.note_count  # our record is not "a dropped text event"
    assert read_provenance(path) == [RECORD]

    through_mido = tmp_path / "mido.mid"
    mido.MidiFile(str(path)).save(str(through_mido))
    assert read_provenance(through_mido) == [RECORD]

    pm = pretty_midi.PrettyMIDI(str(path))  # another program reads it: same notes, our record ignored
    assert sum(len(i.notes) for i in pm.instruments) == song.note_count
    through_pretty = tmp_path / "pretty.mid"
    pm.write(str(through_pretty))
    assert read_provenance(through_pretty) == [RECORD]


def test_midi_files_without_a_record_still_open(tmp_path):
    path = tmp_path / "plain.mid"
    write_midi(chorale_like_song(), path, midi_type=0)
    assert read_provenance(path) == []
    assert read_midi(path)[0].note_count == chorale_like_song().note_count


def test_an_older_png_recipe_gives_a_record_without_an_app_version():
    recipe = {"model": "emoji-gan-64", "model_hash": "cd" * 32, "seed": 7, "psi": 0.7, "index": 2, "latent": [0.1]}
    record = from_image_recipe(recipe)
    assert (record.media, record.seed, record.settings["psi"], record.app_version) == ("image", 7, 0.7, "")


def test_a_hostile_record_in_a_midi_file_is_refused_but_the_notes_still_open(tmp_path):
    song = chorale_like_song()
    path = tmp_path / "hostile.mid"
    midi = song_to_midi(song)
    midi.tracks[0].insert(0, mido.MetaMessage("text", text=MIDI_TEXT_PREFIX + "[" * 100_000))
    midi.save(str(path))
    again, warnings = read_midi(path)  # the one-pass reader skips our text events whatever they hold
    assert again.note_count == song.note_count and warnings == []
    with pytest.raises(InputError, match="provenance record"):
        read_provenance(path)
