"""The event vocabulary: songs survive a round trip, and ANY token sequence decodes to valid MIDI."""

from __future__ import annotations

import random

from aigc_studio.music.midi_io import midi_bytes, read_midi_bytes
from aigc_studio.music.tokenizer import Grammar, MusicTokenizer


def _key(song):
    notes = [(t.is_drum, t.program if not t.is_drum else 0, n.pitch, n.start, n.duration)
             for t in song.tracks for n in t.notes]
    return sorted(notes)


def test_round_trip_keeps_notes_programs_drums_and_time_signature(song):
    tok = MusicTokenizer()
    decoded = tok.decode(tok.encode(song))
    assert _key(decoded) == _key(song)
    assert decoded.time_signature == song.time_signature
    # Velocity is binned: within one bin width.
    before = sorted(n.velocity for t in song.tracks for n in t.notes)
    after = sorted(n.velocity for t in decoded.tracks for n in t.notes)
    assert max(abs(a - b) for a, b in zip(before, after)) <= 127 // tok.config.velocity_bins
    assert len(decoded.tempos) == 2


def test_random_token_sequences_always_decode_to_valid_midi():
    tok = MusicTokenizer()
    rng = random.Random(0)
    for _ in range(300):
        tokens = [rng.randrange(tok.vocab_size) for _ in range(rng.randrange(0, 200))]
        song = tok.decode(tokens)
        again, _ = read_midi_bytes(midi_bytes(song))
        assert again.note_count == song.note_count
        for t in song.tracks:
            assert all(0 <= n.pitch < 128 and n.duration > 0 and n.start >= 0 for n in t.notes)


def test_grammar_only_allows_well_formed_sequences():
    tok = MusicTokenizer()
    rng = random.Random(1)
    for _ in range(20):
        grammar = Grammar(tok, (4, 4), target_bars=2)
        seq = []
        while not grammar.at_end and len(seq) < 300:
            token = rng.choice(grammar.allowed())
            grammar.update(token)
            if not grammar.at_end:
                seq.append(token)
        kinds = [tok.kind(t) for t in seq]
        for a, b in zip(kinds, kinds[1:]):
            if a == "PITCH":
                assert b == "DUR"  # every pitch has its duration
        assert kinds.count("BAR") <= 2
