"""Hostile files (issue 17): one minimal file per crash class that fuzzing found, refused with our own error.

Each of these once ended in a RecursionError, a ValueError about integer digits, a TypeError,
an OverflowError, an OSError, a decoder's NotImplementedError, a hang or an out-of-memory.
"""

from __future__ import annotations

import json
import struct

import pytest
from PIL import Image

from aigc_studio.cli.main import main
from aigc_studio.core.autosave import AutosaveStore, CorruptAutosave, read_autosave
from aigc_studio.core.modelfile import load_model, read_card
from aigc_studio.core.untrusted_json import UnsafeJson, parse_untrusted_json
from aigc_studio.errors import InputError, ModelFileError
from aigc_studio.image.picture_io import read_picture
from aigc_studio.image.recipe import read_recipe
from aigc_studio.music import midi_io
from aigc_studio.music.midi_io import read_midi, read_midi_bytes
from aigc_studio.text.sidecar import read_sidecar, sidecar_path, text_hash
from tests.badinput.corpus import _header, _png_with_recipe, _safetensors_bytes, _track, bundled_model

DEEP = "[" * 100_000 + "]" * 100_000
HUGE_INT = "9" * 5_000
MUSIC = str(bundled_model("music-chorales-transformer"))


def _starter_parts(name: str = "emoji-vae-64") -> tuple[dict, dict, bytes]:
    raw = bundled_model(name).read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n])
    return header, json.loads(header["__metadata__"]["aigc_studio"]), raw[8 + n :]


def _model_with_card_text(card_text: str) -> bytes:
    header, _, body = _starter_parts()
    header["__metadata__"]["aigc_studio"] = card_text
    return _safetensors_bytes(header, body)


def _model_files(folder) -> dict[str, bytes]:
    header, card, body = _starter_parts()
    card_text = json.dumps(card)
    table_name = next(k for k in header if k != "__metadata__")
    dtype_list = dict(header, **{table_name: dict(header[table_name], dtype=["F32"])})
    header_text = json.dumps(header)
    deep_header = (header_text[:-1] + ', "x": ' + DEEP + "}").encode()
    deep_header += b" " * (-len(deep_header) % 8)
    return {
        "deep-card.safetensors": _model_with_card_text(card_text[:-1] + ', "x": ' + DEEP + "}"),
        "deep-header.safetensors": struct.pack("<Q", len(deep_header)) + deep_header + body,
        "huge-int-card.safetensors": _model_with_card_text(card_text[:-1] + ', "x": ' + HUGE_INT + "}"),
        "nan-card.safetensors": _model_with_card_text(card_text[:-1] + ', "x": NaN}'),
        "dtype-list.safetensors": _safetensors_bytes(dtype_list, body),
    }


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("deep-card.safetensors", "nested 100,00[01] levels deep"),
        ("deep-header.safetensors", "nested 100,00[01] levels deep"),
        ("huge-int-card.safetensors", "number of 5,000 digits"),
        ("nan-card.safetensors", "NaN, which is not a number"),
        ("dtype-list.safetensors", r"unknown element type \['F32'\]"),
    ],
)
def test_hostile_model_files_are_refused_naming_the_file(tmp_path, name, message):
    path = tmp_path / name
    path.write_bytes(_model_files(tmp_path)[name])
    for reader in (read_card, load_model):
        with pytest.raises(ModelFileError, match=message) as info:
            reader(path)
        assert name in str(info.value)


def test_hostile_recipes_are_refused_and_a_sane_one_still_reads(tmp_path):
    for name, latent in (("deep.png", DEEP), ("huge-int.png", HUGE_INT), ("inf.png", "1e999")):
        path = tmp_path / name
        path.write_bytes(_png_with_recipe('{"version": 1, "latent": [' + latent + "]}"))
        with pytest.raises(InputError, match=f"{name} has a damaged AIGC Studio recipe"):
            read_recipe(path)
    path = tmp_path / "seed-too-big.png"
    path.write_bytes(_png_with_recipe(json.dumps({"version": 1, "latent": [0.5], "seed": 10**30})))
    with pytest.raises(InputError, match=r"seed is 1000000000000000000000000000000, outside"):
        read_recipe(path)
    path.write_bytes(_png_with_recipe(json.dumps({"version": 1, "latent": [0.5, -1], "seed": 7, "psi": 0.7})))
    assert read_recipe(path)["latent"] == [0.5, -1]


def test_hostile_sidecars_are_ignored_and_spans_outside_the_text_dropped(tmp_path):
    document, text = tmp_path / "story.md", "Once upon a time."
    head = f'{{"format": "aigc-studio-text-spans", "version": 1, "text_sha256": "{text_hash(text)}", '
    for spans in (DEEP, "[" + HUGE_INT + "]", "[[0, 1e999]]"):
        sidecar_path(document).write_text(head + f'"generated_spans": {spans}}}', encoding="utf-8")
        assert read_sidecar(document, text) == []
    sidecar_path(document).write_text(head + '"generated_spans": [[0, 4], [5, 99999999999], [-3, 2], [9, 4]]}')
    assert read_sidecar(document, text) == [[0, 4]]


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ('{"version": 1, "pid": 424242, "x": ' + DEEP + "}", "nested 100,00[01] levels deep"),
        ('{"version": 1, "pid": 1e999}', "too large to use"),
        ('{"version": 1, "pid": 99999999999999}', "pid is 99999999999999, outside"),
        ('{"version": 1, "pid": 424242, "arrays": "canvas-424242.' + "1" * 300 + '.safetensors"}', "arrays is 3"),
        ('{"version": 1, "pid": 424242, "arrays": "../../etc/passwd"}', "not a value AIGC Studio writes"),
    ],
)
def test_hostile_autosave_records_are_refused_before_any_other_file_is_opened(studio_home, record, message):
    folder = studio_home / "autosave"
    folder.mkdir()
    file = folder / "canvas-424242.json"
    file.write_text(record, encoding="utf-8")
    with pytest.raises(CorruptAutosave, match=message):
        read_autosave("canvas", file)


def test_a_hostile_autosave_is_set_aside_like_an_unreadable_one(studio_home):
    store = AutosaveStore("canvas")
    dead = 2**22 + 12345  # above Linux's largest pid: no such process
    (store.folder / f"canvas-{dead}.json").write_text('{"pid": 1e999, "saved_at": 1}', encoding="utf-8")
    assert store.orphans() == []
    assert not (store.folder / f"canvas-{dead}.json").exists()
    assert [p.name.endswith(f"canvas-{dead}.json") for p in (store.folder / "corrupt").iterdir()] == [True]


def test_pictures_only_in_the_listed_formats_and_a_decoder_failure_is_our_error(tmp_path, monkeypatch):
    image = Image.new("RGBA", (8, 8), (10, 20, 30, 255))
    image.save(tmp_path / "texture.dds", format="DDS")
    with pytest.raises(InputError, match="texture.dds is a DDS texture; AIGC Studio opens PNG, JPEG, WebP"):
        read_picture(tmp_path / "texture.dds")
    image.convert("RGB").save(tmp_path / "picture.tga", format="TGA")
    with pytest.raises(InputError, match="picture.tga is not a readable image"):
        read_picture(tmp_path / "picture.tga")
    from PIL import PngImagePlugin

    image.save(tmp_path / "fine.png")

    def unsupported(self):
        raise NotImplementedError("a decoder that gives up")

    monkeypatch.setattr(PngImagePlugin.PngImageFile, "load", unsupported)
    with pytest.raises(InputError, match=r"cannot read this picture: fine.png \(NotImplementedError"):
        read_picture(tmp_path / "fine.png")


def test_midi_limits_are_checked_while_the_file_is_read(tmp_path, monkeypatch):
    huge_deltas = _header(0, 1, 480) + _track(b"\xff\xff\xff\x7f\x90\x3c\x40" * 1000)
    with pytest.raises(InputError, match="deltas.mid has events 559,241 beats in; songs longer than 20,000 beats"):
        read_midi_bytes(huge_deltas, "deltas.mid")
    monkeypatch.setattr(midi_io, "MAX_MIDI_NOTES", 1000)
    note_ons = _header(0, 1, 480) + _track(b"\x00\x90" + b"\x3c\x40\x00" * 5000)
    with pytest.raises(InputError, match="ons.mid holds more than 1,000 notes"):
        read_midi_bytes(note_ons, "ons.mid")
    monkeypatch.setattr(midi_io, "MAX_MIDI_TEMPOS", 100)
    tempos = _header(0, 1, 480) + _track(b"\x01\xff\x51\x03\x07\xa1\x20" * 500)
    with pytest.raises(InputError, match="tempos.mid holds more than 100 tempo changes"):
        read_midi_bytes(tempos, "tempos.mid")
    monkeypatch.setattr(midi_io, "MAX_MIDI_EVENTS", 1000)
    running = _header(0, 1, 480) + _track(b"\x00\x90\x3c\x40" + b"\x00\x3c\x00" * 5000)
    with pytest.raises(InputError, match="running.mid holds more than 1,000 MIDI events"):
        read_midi_bytes(running, "running.mid")
    with pytest.raises(InputError, match="overlong.mid is a damaged MIDI file .*delta time is longer than 4 bytes"):
        read_midi_bytes(_header(0, 1, 480) + _track(b"\x81\x80\x80\x80\x00\x90\x3c\x40"), "overlong.mid")
    big = tmp_path / "big.mid"
    with open(big, "wb") as handle:  # 50 MB without writing them: refused from its size
        handle.write(_header(0, 1, 480))
        handle.truncate(50 * 1024 * 1024)
    with pytest.raises(InputError, match="big.mid is 52 MB; MIDI files over 16 MB are not opened"):
        read_midi(big)


def test_a_running_status_flood_reads_in_one_pass():
    # 20,000 note-ons in running status, each ended by the next: a mido-based reader spent ~12 µs per event.
    flood = _header(0, 1, 480) + _track(b"\x00\x90\x3c\x40" + b"\x01\x3c\x00\x00\x3c\x40" * 20_000)
    song, warnings = read_midi_bytes(flood, "flood.mid")
    assert song.note_count == 20_001 and [n.start for n in song.tracks[0].notes[-2:]] == [19_999, 20_000]
    assert warnings == ["1 note(s) had no note-off; they were ended at the end of their track."]


def test_the_json_reader_bounds_what_it_builds():
    assert parse_untrusted_json(b'{"a": [1, 2.5, "[[[\\"x"], "b": {}}') == {"a": [1, 2.5, '[[["x'], "b": {}}
    for raw, reason in (
        (DEEP, "nested"),
        (HUGE_INT, "digits"),
        ("[1e999]", "too large"),
        ("[NaN]", "NaN"),
        ("[-Infinity]", "Infinity"),
        ("[" + "0," * 1_000_001 + "0]", "values"),
        (b"\xff\xfe[]", "UTF-8"),
        ('{"a": ', "not valid JSON"),
    ):
        with pytest.raises(UnsafeJson, match=reason):
            parse_untrusted_json(raw)


def _cli_one_line(capsys, argv: list[str], name: str) -> str:
    status = main(argv)
    _, err = capsys.readouterr()
    assert status == 1, err
    errors = [line for line in err.splitlines() if line.startswith("aigc-studio:")]
    assert len(errors) == 1 and errors[0].startswith("aigc-studio: error: ") and name in errors[0], err
    assert err.rstrip("\n").splitlines()[-1] == errors[0] and "Traceback" not in err
    return errors[0]


@pytest.mark.usefixtures("one_torch_thread")
def test_the_cli_refuses_each_hostile_file_with_exit_1_and_one_line(tmp_path, capsys, studio_home):
    for name, data in _model_files(tmp_path).items():
        path = tmp_path / name
        path.write_bytes(data)
        _cli_one_line(capsys, ["models", "info", str(path)], name)
        _cli_one_line(capsys, ["generate", "image", "--model", str(path), "--out", str(tmp_path / "out")], name)
    prime = tmp_path / "deltas.mid"
    prime.write_bytes(_header(0, 1, 480) + _track(b"\xff\xff\xff\x7f\x90\x3c\x40" * 1000))
    _cli_one_line(
        capsys,
        ["generate", "music", "--model", MUSIC, "--prime", str(prime), "--out", str(tmp_path / "o.mid")],
        "deltas.mid",
    )

    # A DDS texture named like a picture, in training data: `train image-vae` reads folders with this loader.
    from aigc_studio.image.dataset import load_image_folder

    folder = tmp_path / "textures"
    folder.mkdir()
    Image.new("RGBA", (8, 8)).save(folder / "texture.png", format="DDS")
    with pytest.raises(InputError, match="none readable; first: texture.png is a DDS texture"):
        load_image_folder(folder, 32)


@pytest.mark.usefixtures("one_torch_thread")
def test_a_prime_longer_than_the_context_is_cut_to_the_bars_the_model_sees():
    from aigc_studio.music.event_model import load_music_transformer
    from aigc_studio.music.jobs import _note_cut_prime
    from aigc_studio.music.song import Note, Song, Track

    model = load_music_transformer(MUSIC)
    limit = int(model.context * 0.6)
    # One note per bar for 2,000 bars, and a stray note ten million bars later (a hand-edited song).
    notes = [Note(60 + bar % 12, bar * 1920, 480, 80) for bar in range(2000)]
    song = Song(480, [Track("Piano", 0, 0, notes)])
    prefix = model._prefix(song, 2000, limit)
    used, before = model.prefix_bars
    assert before == 2000 and 0 < used < limit and len(prefix) <= limit
    whole = model.tok.encode_bars(song)  # what the prompt held before the cut: the same tokens
    assert prefix[3:] == [t for bar in whole[2000 - used :] for t in bar]
    song.tracks[0].notes.append(Note(60, 10_000_000 * 1920, 480, 80))
    assert model._prefix(song, 2000, limit) == prefix  # bars after the new ones are never encoded

    logged = []
    _note_cut_prime(type("Ctx", (), {"log": staticmethod(logged.append)})(), model, song)
    assert logged == [
        f"note: 2000 bars come before the new ones; the model's context holds the last {used}, "
        "so the music before them was not used."
    ]


def test_training_on_a_folder_of_unreadable_pictures_is_refused_before_torch_is_imported(tmp_path):
    # A DDS texture named .png was an internal error, then a refusal only after torch and the training warm-up.
    import subprocess
    import sys

    folder = tmp_path / "art"
    folder.mkdir()
    Image.new("RGB", (16, 16), "red").save(folder / "texture.dds")
    (folder / "texture.dds").rename(folder / "texture.png")
    probe = (
        "import sys; from aigc_studio.cli.main import main; "
        f"rc = main(['train', 'image-vae', '--data', {str(folder)!r}, '--steps', '2', '--out', {str(tmp_path / 'm.safetensors')!r}]); "
        "print('torch imported' if 'torch' in sys.modules else 'no torch', rc)"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert done.stdout.strip() == "no torch 1"
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "texture.png is a DDS texture" in lines[0] and "art" in lines[0]
