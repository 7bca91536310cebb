"""Never a broken piece: key, instrument, polyphony and bar-count masks, the validity check, bad requests."""

from __future__ import annotations

from collections import Counter

import mido
import numpy as np
import pretty_midi
import pytest
import torch

from aigc_studio.cli.main import main
from aigc_studio.core.events import MusicVariations
from aigc_studio.core.jobs import run_job
from aigc_studio.core.paths import bundled_models_dir
from aigc_studio.errors import InputError
from aigc_studio.music.constraints import (
    DecodeLimits,
    Key,
    detect_key,
    fragment_problems,
    max_onset_notes,
    max_sounding_notes,
    parse_instruments,
    parse_key,
)
from aigc_studio.music.event_model import load_music_transformer, tidy_fragment
from aigc_studio.music.jobs import GenerateMusicJob, MusicRequest, VariationsJob
from aigc_studio.music.song import Note, Song, Track
from aigc_studio.music.tokenizer import DRUM_PROGRAM, Grammar, MusicTokenizer
from aigc_studio.nn.sampling import SamplingSettings

CHORALES = bundled_models_dir() / "music-chorales-transformer.safetensors"


def _random_walk(grammar: Grammar, steps: int, seed: int) -> list[int]:
    rng = np.random.default_rng(seed)
    tokens = []
    for _ in range(steps):
        grammar.closing = grammar.target_bars is not None and steps - len(tokens) <= grammar.bars_left + 2
        token = int(rng.choice(grammar.allowed_ids()))
        grammar.update(token)
        if grammar.at_end:
            break
        tokens.append(token)
    return tokens


def test_masks_keep_any_token_sequence_in_key_in_instruments_within_polyphony_and_bars():
    tok = MusicTokenizer()
    d_major = parse_key("D major")
    limits = DecodeLimits(
        max_onset_notes=2,
        max_sounding_notes=3,
        programs=frozenset({33, DRUM_PROGRAM}),
        pitch_classes=d_major.pitch_classes,
        onset_by_family=((4, 1),),  # one bass note at a time
    )
    for seed in range(5):  # uniform random choices: the masks alone must keep the piece sound
        tokens = _random_walk(Grammar(tok, (4, 4), target_bars=3, limits=limits), 400, seed)
        song = tok.decode([tok.bos] + tokens)
        tidy_fragment(song, 3 * song.bar_ticks)  # as the model's generate() does: notes end with bar 3
        assert sum(1 for t in tokens if t == tok.bar) == 3  # exactly the bars asked for, even out of budget
        assert {DRUM_PROGRAM if t.is_drum else t.program for t in song.tracks if t.notes} <= {33, DRUM_PROGRAM}
        assert all(n.pitch % 12 in d_major.pitch_classes for t in song.tracks if not t.is_drum for n in t.notes)
        assert max_onset_notes(song) <= 2 and max_sounding_notes(song) <= 3
        bass = [n.start for t in song.tracks if t.program == 33 and not t.is_drum for n in t.notes]
        assert len(bass) == len(set(bass))
        assert fragment_problems(song, 0, 3, limits) == []


def test_a_short_token_budget_still_closes_every_bar():
    tok = MusicTokenizer()
    tokens = _random_walk(Grammar(tok, (3, 4), target_bars=8, limits=DecodeLimits(4, 4)), 30, 0)
    assert tokens.count(tok.bar) == 8


def test_key_lock_and_instruments_on_a_model_that_knows_nothing(band_model):
    key = Key(2, "dorian")
    request = MusicRequest(key, parse_instruments("drums,bass", frozenset({0, 33, 128})))
    fragment = run_job(GenerateMusicJob(str(band_model), bars=3, request=request), seed=4)["fragment"]
    played = {t.name: t for t in fragment.tracks if t.notes}
    assert fragment.note_count > 0
    assert all((t.is_drum and t.channel == 9) or t.program == 33 for t in played.values())
    assert all(n.pitch % 12 in key.pitch_classes for t in played.values() if not t.is_drum for n in t.notes)
    assert max_onset_notes(fragment) <= 3  # the card's polyphony
    assert fragment.end_tick <= 3 * fragment.bar_ticks


def test_the_validity_check_names_what_is_broken():
    song = Song(
        tracks=[
            Track(
                "Piano",
                0,
                0,
                [Note(60, 0, 480), Note(60, 240, 480), Note(61, 0, 480), Note(64, 0, 480), Note(67, 3840, 600)],
            )
        ]
    )
    problems = " | ".join(
        fragment_problems(
            song, 0, 2, DecodeLimits(max_onset_notes=2, programs=frozenset({33}), pitch_classes=Key(0).pitch_classes)
        )
    )
    assert "outside bars 1-2" in problems  # the last note rings past bar 2
    assert "3 notes at one onset" in problems
    assert "instruments not asked for: piano" in problems
    assert "1 notes outside the locked scale" in problems
    assert "pretty_midi reads 1 notes with other times" in problems  # two overlapping C4s on one channel
    assert fragment_problems(Song(tracks=[Track("Piano", 0, 0, [Note(60, 0, 480)])]), 0, 1, DecodeLimits()) == []


def test_keys_scales_and_instruments_parse_or_say_what_is_wrong():
    assert parse_key("F# minor") == Key(6, "minor") and parse_key("Bb", "dorian") == Key(10, "dorian")
    assert parse_key("d mixolydian").name == "D mixolydian"
    with pytest.raises(InputError, match='Unknown key "H major"'):
        parse_key("H major")
    with pytest.raises(InputError, match="Unknown scale"):
        parse_key("C", "bebop")
    with pytest.raises(InputError, match='not trained on "drums"'):
        parse_instruments("drums", frozenset({0}))
    with pytest.raises(InputError, match="Unknown instrument"):
        parse_instruments("kazoo", None)
    g_major = Song(
        tracks=[Track("P", 0, 0, [Note(p, i * 480, 480) for i, p in enumerate([67, 71, 74, 66, 67, 62, 67])])]
    )
    assert detect_key(g_major) == Key(7, "major") and detect_key(Song()) is None


@pytest.mark.skipif(not CHORALES.exists(), reason="the starter model is not shipped in this checkout")
def test_seed_15_writes_16_sound_bars_in_four_voices(tmp_path, capsys):
    # Before the masks this wrote 531 notes at one onset over 8 programs, and 14 bars, and said "success".
    out = tmp_path / "s15.mid"
    assert (
        main(
            [
                "generate",
                "music",
                "--model",
                "music-chorales-transformer",
                "--bars",
                "16",
                "--seed",
                "15",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    assert "16 bars (Soprano, Alto, Tenor, Bass)" in capsys.readouterr().out
    midi, pm = mido.MidiFile(str(out)), pretty_midi.PrettyMIDI(str(out))
    notes = [n for i in pm.instruments for n in i.notes]
    assert sum(1 for t in midi.tracks for m in t if m.type == "note_on" and m.velocity > 0) == len(notes) > 100
    assert max(sum(m.time for m in t) for t in midi.tracks) == 16 * 4 * midi.ticks_per_beat  # exactly 16 bars
    assert max(Counter(round(n.start, 4) for n in notes).values()) <= 4
    assert [(i.name, i.program) for i in pm.instruments] == [(v, 52) for v in ("Soprano", "Alto", "Tenor", "Bass")]
    means = [np.mean([n.pitch for n in i.notes]) for i in pm.instruments]
    assert means == sorted(means, reverse=True)  # soprano on top, bass at the bottom


@pytest.mark.parametrize(
    "args, message",
    [
        (["--key", "H major"], 'Unknown key "H major"'),
        (["--instruments", "drums"], 'not trained on "drums"'),
        (["--bars", "0"], "--bars must be between 1 and 256"),
        (["--scale", "bebop"], "Unknown scale"),
    ],
)
def test_bad_requests_fail_with_one_clear_line(args, message, tmp_path, capsys):
    if not CHORALES.exists():
        pytest.skip("the starter model is not shipped in this checkout")
    out = tmp_path / "x.mid"
    code = main(["generate", "music", "--model", "music-chorales-transformer", "--out", str(out), *args])
    assert code == 1 and not out.exists()
    assert message in capsys.readouterr().err


def test_variations_are_alternatives_of_the_same_bars(band_model):
    song = Song(tracks=[Track("Piano", 0, 0, [Note(60 + i % 5, i * 480, 480) for i in range(24)])])
    result = run_job(
        VariationsJob(str(band_model), song, 1, count=3, last_bar=3, request=MusicRequest(Key(0, "major"))), seed=2
    )
    assert isinstance(result, MusicVariations) and result.seed == 2
    assert (result.details["first_bar"], result.details["last_bar"]) == (1, 3) and len(result.alternatives) == 3
    for alternative in result.alternatives:
        starts = [n.start for t in alternative.tracks for n in t.notes]
        assert all(song.bar_ticks <= s < 3 * song.bar_ticks for s in starts)
        assert all(n.pitch % 12 in Key(0).pitch_classes for t in alternative.tracks if not t.is_drum for n in t.notes)
    assert len({tuple((n.pitch, n.start) for t in a.tracks for n in t.notes) for a in result.alternatives}) > 1


def test_cli_variations_write_one_file_per_alternative_keeping_the_other_bars(band_model, tmp_path, capsys):
    from aigc_studio.music.midi_io import read_midi, write_midi

    prime = Song(tracks=[Track("Piano", 0, 0, [Note(60 + i % 5, i * 480, 480) for i in range(24)])])
    write_midi(prime, tmp_path / "prime.mid")
    args = ["generate", "music", "--model", str(band_model), "--prime", str(tmp_path / "prime.mid")]
    assert main([*args, "--infill", "1:3", "--variations", "3", "--seed", "2", "--out", str(tmp_path / "v.mid")]) == 0
    printed = capsys.readouterr().out
    assert "wrote 3 variations of bars 1-2" in printed and "(seed 2)" in printed
    bt = prime.bar_ticks
    outside = sorted((n.pitch, n.start) for n in prime.tracks[0].notes if not bt <= n.start < 3 * bt)
    varied = set()
    for number in (1, 2, 3):
        song, _ = read_midi(tmp_path / f"v-{number}.mid")
        notes = [n for t in song.tracks for n in t.notes]
        assert sorted((n.pitch, n.start) for n in notes if not bt <= n.start < 3 * bt) == outside
        varied.add(tuple(sorted((n.pitch, n.start) for n in notes if bt <= n.start < 3 * bt)))
    assert len(varied) > 1
    assert main([*args, "--variations", "3", "--out", str(tmp_path / "w.mid")]) == 1
    assert "--variations takes 1 to 16 and needs --infill" in capsys.readouterr().err


def test_a_long_prime_slides_the_window_and_continues_at_its_end(band_model):
    mt = load_music_transformer(band_model)
    long_prime = Song(tracks=[Track("Piano", 0, 0, [Note(60 + i % 7, i * 240, 240) for i in range(8 * 40)])])
    assert len(mt.tok.encode(long_prime)) > 4 * mt.context  # 40 bars: far more than the window holds
    fragment, first = mt.generate(
        2,
        SamplingSettings(temperature=1.0),
        torch.Generator().manual_seed(0),
        prime=long_prime,
        limits=DecodeLimits.from_card(mt.card),
    )
    assert first == 40
    assert all(
        40 * long_prime.bar_ticks <= n.start < 42 * long_prime.bar_ticks for t in fragment.tracks for n in t.notes
    )


def test_instruments_on_the_command_line_give_only_those_parts_drums_on_channel_10(band_model, tmp_path, capsys):
    out = tmp_path / "groove.mid"
    assert (
        main(
            [
                "generate",
                "music",
                "--model",
                str(band_model),
                "--bars",
                "4",
                "--seed",
                "3",
                "--instruments",
                "drums,bass",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    midi = mido.MidiFile(str(out))
    channels = {m.channel for t in midi.tracks for m in t if m.type == "note_on"}
    programs = {m.channel: m.program for t in midi.tracks for m in t if m.type == "program_change"}
    assert channels and channels <= {9} | {c for c, p in programs.items() if 32 <= p < 40}
    assert 9 in channels  # drums on channel 10
    assert (
        main(
            [
                "generate",
                "music",
                "--model",
                str(band_model),
                "--instruments",
                "strings",
                "--out",
                str(tmp_path / "x.mid"),
            ]
        )
        == 1
    )
    assert "it knows piano, bass, drums" in capsys.readouterr().err


def test_a_fragment_that_stays_broken_fails_the_job_with_the_reason(band_model, monkeypatch):
    from aigc_studio.errors import StudioError
    from aigc_studio.music import jobs

    attempts = []

    def always_broken(fragment, first, bars, limits):
        attempts.append(fragment.note_count)
        return ["7 notes at one onset (the model allows 3)"]

    monkeypatch.setattr(jobs, "fragment_problems", always_broken)
    with pytest.raises(StudioError, match="kept writing broken bars .7 notes at one onset"):
        run_job(GenerateMusicJob(str(band_model), bars=2), seed=0)
    assert len(attempts) == jobs.ATTEMPTS  # sampled again each time, never returned as a success
