"""Music studio evaluator (music-transformer, music-vae): held-out loss, valid MIDI, notes in key,
degenerate pieces, pitch-class and rhythm entropy, near duplicates and the longest copied melody."""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import torch

from aigc_studio.core.registry import resolve_model
from aigc_studio.evaluate.base import Loaded, Measured, Pair, Reference
from aigc_studio.evaluate.copying import longest_copy
from aigc_studio.evaluate.efficiency import count_parameters
from aigc_studio.music.analysis import in_key_share, pitched_notes
from aigc_studio.music.song import Song

BARS = 4  # per sample, and per reference excerpt posing as a sample
LOSS_TOKENS = 16384
NEAREST_SHOWN = 6
DUPLICATE_SHARE = 0.8  # two pieces whose melodies share 80 % of their notes in a row are near duplicates
COPY_FLOOR_NOTES = 12  # three bars of quarter notes: shorter shared runs are stock figures, not copies
SEPARATOR = "\x00"  # between reference melodies, so no copy runs across two pieces


def melody(song: Song) -> list[tuple[int, int]]:
    """The top line (skyline): (onset tick, pitch) wherever the highest sounding note starts.

    An onset where only a lower voice moves under a held top note adds nothing, so a chorale's
    melody is its soprano, not a mix of soprano and bass.
    """
    notes = pitched_notes(song)
    if not notes:
        return []
    start = np.array([n.start for n in notes])
    end = np.array([max(n.end, n.start + 1) for n in notes])
    pitch = np.array([n.pitch for n in notes])
    line = []
    for t in np.unique(start):
        sounding = (start <= t) & (end > t)
        top = pitch[sounding].max()
        if ((start == t) & (pitch == top)).any():
            line.append((int(t), int(top)))
    return line


def interval_string(song: Song) -> str:
    """The top line's intervals as one character each, so a transposed copy is still a copy."""
    pitches = [p for _, p in melody(song)]
    return "".join(chr(256 + max(-96, min(96, b - a))) for a, b in zip(pitches, pitches[1:]))


def most_onsets(song: Song) -> int:
    """The largest number of notes that start on one tick."""
    counts = Counter(n.start for n in pitched_notes(song))
    return max(counts.values(), default=0)


def entropy_bits(counts: Counter) -> float:
    """Shannon entropy of a histogram, in bits."""
    total = sum(counts.values())
    return -sum(c / total * math.log2(c / total) for c in counts.values() if c) if total else 0.0


def pitch_class_entropy(song: Song) -> float:
    """Entropy of the piece's pitch classes (0 = one note, log2 12 = 3.58 = all equally)."""
    return entropy_bits(Counter(n.pitch % 12 for n in pitched_notes(song)))


def rhythm_entropy(song: Song) -> float:
    """Entropy of where notes start within the bar, on a 16th-note grid (0 = always the same place)."""
    step = max(1, song.ticks_per_beat // 4)
    bar = max(1, song.bar_ticks)
    return entropy_bits(Counter((n.start % bar) // step for n in pitched_notes(song)))


def valid_midi(song: Song) -> bool:
    """True when the piece writes as a standard MIDI file that a second reader reads back note for note."""
    import io

    import mido

    from aigc_studio.music.midi_io import midi_bytes

    try:
        midi = mido.MidiFile(file=io.BytesIO(midi_bytes(song)))
    except (OSError, ValueError, EOFError):
        return False
    ons = sum(1 for track in midi.tracks for m in track if m.type == "note_on" and m.velocity > 0)
    return song.note_count > 0 and ons == song.note_count


class MusicStudio:
    """Evaluates the music studio's models on a MIDI file or folder."""

    kinds = ("music-transformer", "music-vae")
    unit = "pieces"
    quick = False  # the short evaluation after training (pieces are short already; same figures)

    def load(self, ref: str, ctx: Any) -> Loaded:
        """A music transformer or MusicVAE file (or registry name)."""
        from aigc_studio.core.modelfile import read_card

        path = resolve_model(str(ref), self.kinds)
        card = read_card(path)
        if card.kind == "music-vae":
            from aigc_studio.music.vae import load_music_vae

            m = load_music_vae(path, ctx.device)
            params = count_parameters(m)
        else:
            from aigc_studio.music.event_model import load_music_transformer

            m = load_music_transformer(path, ctx.device)
            params = count_parameters(m.model)
        return Loaded(card.name or path.stem, card.kind, card.content_hash, path, m, params)

    def read_reference(self, path: str, loaded: Loaded | None, ctx: Any, limit: int, seed: int) -> Reference:
        """Every readable MIDI file of a file or folder (a random ``limit`` of them if there are more)."""
        from aigc_studio.errors import InputError
        from aigc_studio.music.dataset import load_corpus

        ctx.progress(0.0, "Reading the reference MIDI files")
        corpus = load_corpus([path], log=ctx.log, check=ctx.check_cancelled)
        songs = [(name, s) for name, s in corpus.songs if s.note_count]
        if not songs:
            raise InputError(f"{path} has MIDI files but no notes in them; choose MIDI files with music.")
        order = sorted(np.random.default_rng(seed).permutation(len(songs))[:limit].tolist())
        return Reference(
            str(path), [songs[i][1] for i in order], [Path(songs[i][0]).name for i in order], "MIDI pieces", len(songs)
        )

    def sample(self, loaded: Loaded, count: int, ctx: Any, seed: int) -> tuple[list[Any], int]:
        """``count`` pieces of BARS bars with the app's default settings (the card's sampling and decoder limits)."""
        from aigc_studio.music.constraints import DecodeLimits
        from aigc_studio.music.jobs import _settings, _vae_phrases, sampling_defaults

        gen = torch.Generator().manual_seed(seed)
        card = getattr(loaded.model, "card", None)
        options, limits = sampling_defaults(card), DecodeLimits.from_card(card)
        out, tokens = [], 0
        for i in range(count):
            if loaded.kind == "music-vae":
                song, _ = _vae_phrases(loaded.model, BARS, options.temperature, gen, None, None)
                tokens += loaded.model.config.steps * max(1, -(-BARS // loaded.model.config.bars))
            else:

                def on_token(_token: int) -> None:
                    nonlocal tokens
                    tokens += 1
                    if tokens % 64 == 0:
                        ctx.check_cancelled()

                song, _ = loaded.model.generate(BARS, _settings(options, BARS), gen, on_token=on_token, limits=limits)
            out.append(song)
            ctx.progress((i + 1) / count, f"Piece {i + 1}/{count}")
        self.unit = "tokens" if loaded.kind == "music-transformer" else "steps"
        return out, tokens

    def split(self, reference: Reference, count: int, seed: int) -> tuple[list[Any], Reference]:
        """The first BARS bars of half the reference pieces posing as samples; the other half as reference."""
        chosen, rest = reference.split_in_half(count, seed)
        excerpts = [reference.items[i].slice_bars(0, BARS) for i in chosen]
        return [e for e in excerpts if e.note_count], rest

    def measure(
        self,
        samples: list[Any],
        reference: Reference | None,
        loaded: Loaded | None,
        ctx: Any,
        baseline: Measured | None,
    ) -> Measured:
        """Figures of the pieces, and copies of reference melodies."""
        out = Measured()
        out.units.update(
            held_out_loss_nats_per_token="mean next-event cross-entropy on the reference, nats per token",
            held_out_reconstruction_nats_per_step="MusicVAE reconstruction cross-entropy of reference 2-bar "
            "phrases from their mean latent, nats per 16th-note step",
            valid_midi_share="share of pieces that write a MIDI file read back with the same notes (0-1)",
            in_key_share="share of notes in the best-fitting (Krumhansl) key, mean over pieces (0-1)",
            degenerate_share="share of empty pieces or pieces with more notes on one onset than any reference piece",
            pitch_class_entropy_bits="entropy of a piece's pitch classes, mean over pieces (0-3.58 bits)",
            rhythm_entropy_bits="entropy of onset positions in the bar on a 16th grid, mean over pieces (0-4 in 4/4)",
            near_duplicate_share=f"share of pieces whose top line shares {DUPLICATE_SHARE:.0%} of its notes in a "
            "row with another piece",
            longest_copied_melody_notes_max="longest run of top-line notes (transposition allowed) found in a "
            "reference piece, any sample",
            longest_copied_melody_notes_median="the same, median over samples",
            memorised_share="share of samples copying a longer melody than any reference excerpt copies from "
            "the rest of the reference (and longer than 12 notes)",
        )
        n = max(1, len(samples))
        out.quality["valid_midi_share"] = _r(sum(map(valid_midi, samples)) / n)
        out.quality["in_key_share"] = _r(float(np.mean([in_key_share(s) for s in samples])) if samples else 0.0)
        out.diversity.update(
            pitch_class_entropy_bits=_r(float(np.mean([pitch_class_entropy(s) for s in samples]))),
            rhythm_entropy_bits=_r(float(np.mean([rhythm_entropy(s) for s in samples]))),
            near_duplicate_share=_r(_near_duplicate_share([interval_string(s) for s in samples], ctx)),
        )
        if reference is None:
            out.quality["degenerate_share"] = _r(sum(1 for s in samples if not s.note_count) / n)
            for name in ("held_out_loss", "longest_copied_melody_notes_max", "nearest", "memorised_share"):
                out.missing[name] = "needs reference MIDI (--data)"
            return out
        chord_ceiling = max(most_onsets(s) for s in reference.items)
        out.quality["degenerate_share"] = _r(
            sum(1 for s in samples if not s.note_count or most_onsets(s) > chord_ceiling) / n
        )
        if loaded is not None:
            out.quality.update(self._held_out_loss(loaded, reference, ctx))
        strings = [interval_string(s) for s in reference.items]
        joined = SEPARATOR.join(strings)
        starts = np.cumsum([0] + [len(t) + 1 for t in strings])
        copies = []
        for i, s in enumerate(samples):
            copies.append(longest_copy(interval_string(s), joined, ctx.check_cancelled))
            if i % 8 == 0:
                ctx.progress(None, f"Looking for copied melodies {i + 1}/{len(samples)}")
        notes = np.array([c.length + 1 if c.length else 0 for c in copies])
        out.novelty.update(
            longest_copied_melody_notes_max=int(notes.max(initial=0)),
            longest_copied_melody_notes_median=float(np.median(notes)) if len(notes) else 0.0,
        )
        own = baseline.novelty.get("longest_copied_melody_notes_max") if baseline else None
        # A few dozen excerpts make a noisy maximum, and short scale runs are no copies: hence the floor.
        ceiling = None if own is None else max(own, COPY_FLOOR_NOTES)
        memorised = [ceiling is not None and k > ceiling for k in notes]
        if ceiling is not None:
            out.memorised = int(sum(memorised))
            out.memorised_rule = (
                f"a melody of more than {ceiling} notes copied from one reference piece (the reference's own "
                f"longest shared melody is {own} notes; up to {COPY_FLOOR_NOTES} are taken for stock figures)"
            )
            out.novelty["memorised_share"] = _r(out.memorised / n)
        out.novelty["nearest"] = []
        for i in np.argsort(-notes, kind="stable")[:NEAREST_SHOWN]:
            c = copies[i]
            piece = int(np.searchsorted(starts, c.reference_start, side="right") - 1) if c.length else 0
            label = reference.labels[piece]
            first = c.reference_start - starts[piece] if c.length else 0
            ref_onsets = melody(reference.items[piece])
            window, skipped = _excerpt(reference.items[piece], ref_onsets, first)
            out.novelty["nearest"].append(
                {
                    "sample": int(i),
                    "reference": label,
                    "copied_notes": int(notes[i]),
                    "distance": _r(1 - notes[i] / max(1, len(melody(samples[i])))),
                }
            )
            out.pairs.append(
                Pair(
                    f"sample {i}",
                    label,
                    1 - notes[i] / max(1, len(melody(samples[i]))),
                    samples[i],
                    window,
                    (c.sample_start, c.sample_start + int(notes[i])),
                    (first - skipped, first - skipped + int(notes[i])),
                    bool(memorised[i]),
                )
            )
        return out

    def _held_out_loss(self, loaded: Loaded, reference: Reference, ctx: Any) -> dict[str, float]:
        if loaded.kind == "music-vae":
            return _vae_loss(loaded.model, reference.items, ctx)
        return _transformer_loss(loaded.model, reference.items, ctx)


@torch.no_grad()
def _transformer_loss(mt: Any, songs: list[Song], ctx: Any) -> dict[str, float]:
    """Next-event cross-entropy over the reference pieces (up to LOSS_TOKENS tokens).

    As in training, each window starts at a bar with its header (tempo, metre) and runs for as many
    whole bars as fit; the next window starts at the first bar that did not fit.
    """
    tok = mt.tok
    limit = mt.context + 1
    device = next(mt.model.parameters()).device
    total = count = 0.0
    for k, song in enumerate(songs):
        bars = tok.encode_bars(song)
        start = 0
        while start < len(bars):
            seq, end = list(tok.header(song, start * song.bar_ticks)), start
            while end < len(bars) and (end == start or len(seq) + len(bars[end]) <= limit):
                seq += bars[end]
                end += 1
            if end == len(bars):
                seq.append(tok.eos)
            seq = seq[:limit]
            x = torch.tensor([seq[:-1]], device=device)
            y = torch.tensor([seq[1:]], device=device)
            total += float(mt.model.loss(x, y)) * (len(seq) - 1)
            count += len(seq) - 1
            start = end
        ctx.progress(None, f"Held-out loss {k + 1}/{len(songs)} pieces")
        if count >= LOSS_TOKENS:
            break
    return {"held_out_loss_nats_per_token": _r(total / count), "held_out_tokens": int(count)} if count else {}


@torch.no_grad()
def _vae_loss(vae: Any, songs: list[Song], ctx: Any) -> dict[str, float]:
    """Reconstruction cross-entropy of the reference's 2-bar phrases from their mean latent."""
    from aigc_studio.errors import InputError
    from aigc_studio.music.dataset import Phrases

    try:
        phrases = Phrases(songs, vae.config, 0).data
    except InputError:
        return {}
    phrases = phrases[:: max(1, len(phrases) // 2000)].to(next(vae.parameters()).device)
    total = steps = right = 0.0
    for start in range(0, len(phrases), 256):
        batch = phrases[start : start + 256]
        mu, _ = vae.encode(batch)
        logits = vae.decode_logits(mu, batch)
        total += float(
            torch.nn.functional.cross_entropy(
                logits.reshape(-1, logits.shape[-1]).float(), batch.reshape(-1), reduction="sum"
            )
        )
        right += float((logits.argmax(-1) == batch).sum())
        steps += batch.numel()
        ctx.progress(None, f"Held-out reconstruction {start + len(batch)}/{len(phrases)} phrases")
    return {
        "held_out_reconstruction_nats_per_step": _r(total / steps),
        "held_out_step_accuracy": _r(right / steps),
        "held_out_phrases": len(phrases),
    }


def _near_duplicate_share(strings: list[str], ctx: Any) -> float:
    """Share of pieces whose interval string shares DUPLICATE_SHARE of itself, in a row, with another's."""
    dup = [False] * len(strings)
    for i, a in enumerate(strings):
        ctx.check_cancelled()
        for j in range(i + 1, len(strings)):
            b = strings[j]
            if not a or not b:
                continue
            c = longest_copy(a, b)
            if c.length >= DUPLICATE_SHARE * min(len(a), len(b)):
                dup[i] = dup[j] = True
    return sum(dup) / max(1, len(strings))


def _excerpt(song: Song, onsets: list[tuple[int, int]], first: int) -> tuple[Song, int]:
    """BARS bars of a reference piece from the bar where the copied melody starts, and how many top-line
    onsets lie before that bar (to mark the copy in the excerpt)."""
    tick = onsets[min(first, len(onsets) - 1)][0] if onsets else 0
    bar = tick // max(1, song.bar_ticks)
    before = sum(1 for t, _ in onsets if t < bar * song.bar_ticks)
    return song.slice_bars(bar, bar + BARS), before


def _r(x: float) -> float:
    return round(float(x), 4)
