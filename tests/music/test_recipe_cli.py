"""`aigc-studio generate music` writes the provenance record into the MIDI file: same seed, same bytes."""

from __future__ import annotations

from aigc_studio.cli.main import main
from aigc_studio.core.modelfile import read_card
from aigc_studio.music.midi_io import read_provenance


def test_cli_music_carries_its_record_keeps_the_primes_and_repeats_byte_for_byte(tmp_path, tiny_transformer_path):
    model = str(tiny_transformer_path)
    one, two = tmp_path / "one.mid", tmp_path / "two.mid"
    for out in (one, two):
        assert main(["generate", "music", "--model", model, "--bars", "2", "--seed", "4", "--out", str(out)]) == 0
    assert one.read_bytes() == two.read_bytes()
    (record,) = read_provenance(one)
    assert (record.operation, record.seed, record.settings["bars"], record.settings["first_bar"]) == (
        "generate",
        4,
        2,
        0,
    )
    assert record.model_hash == read_card(tiny_transformer_path).content_hash and record.created == ""

    infilled = tmp_path / "infilled.mid"
    argv = ["generate", "music", "--model", model, "--prime", str(one), "--infill", "0:1", "--seed", "9"]
    assert main([*argv, "--out", str(infilled)]) == 0
    first, second = read_provenance(infilled)
    assert first == record and (second.operation, second.seed, second.settings["infill"]) == ("infill", 9, [0, 1])
