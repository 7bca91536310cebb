"""Training data from a folder of MIDI files: songs, validation split, token windows, phrases.

Broken files are skipped and counted. Transposition augmentation shifts every
non-drum pitch by a few semitones, drawn from the training generator so that
resume is exact.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from aigc_studio.errors import InputError, StudioError
from aigc_studio.music.midi_io import read_midi
from aigc_studio.music.song import Song
from aigc_studio.music.tokenizer import DRUM_PROGRAM, MusicTokenizer

MIDI_SUFFIXES = (".mid", ".midi", ".kar")


@dataclass
class MidiCorpus:
    """Songs read from disk plus how many files were skipped."""

    songs: list[tuple[str, Song]]
    skipped: int
    files: int


def find_midi_files(paths: list[str | Path]) -> list[Path]:
    """All MIDI files in the given files/folders (recursively), sorted."""
    found: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            found += [f for f in p.rglob("*") if f.suffix.lower() in MIDI_SUFFIXES and f.is_file()]
        elif p.is_file():
            found.append(p)
        else:
            raise InputError(f"{p} does not exist.")
    return sorted(set(found))


def load_corpus(paths: list[str | Path], log: Callable[[str], None] | None = None,
                check: Callable[[], None] | None = None) -> MidiCorpus:
    """Read every MIDI file; broken or empty ones are skipped and counted."""
    files = find_midi_files(paths)
    if not files:
        raise InputError(f"No .mid or .midi files found in {', '.join(map(str, paths))}.")
    songs, skipped, reasons = [], 0, []
    for f in files:
        if check is not None:
            check()
        try:
            song, _warnings = read_midi(f)
        except StudioError as exc:
            skipped += 1
            reasons.append(str(exc))
            if log is not None:
                log(f"skipped {f.name}: {exc}")
            continue
        if song.note_count == 0:
            skipped += 1
            reasons.append(f"{f.name} has no notes.")
            continue
        songs.append((str(f), song))
    if not songs:
        raise InputError(
            f"None of the {len(files)} MIDI file(s) in {', '.join(map(str, paths))} could be used "
            f"({skipped} broken or empty); first: {reasons[0]}"
        )
    return MidiCorpus(songs, skipped, len(files))


def split_validation(songs: list, fraction: float) -> tuple[list, list]:
    """Deterministic split by file name hash: (train, validation); validation keeps at least one song."""
    if fraction <= 0 or len(songs) < 2:
        return list(songs), list(songs[:1])
    scored = sorted(songs, key=lambda s: zlib.crc32(Path(s[0]).name.encode()))
    count = max(1, int(round(len(songs) * fraction)))
    return scored[count:], scored[:count]


def transpose_tokens(tokens: list[int], tok: MusicTokenizer, shift: int) -> list[int]:
    """Shift pitched notes by ``shift`` semitones (drums stay); unchanged if any note would leave 0..127."""
    if shift == 0:
        return tokens
    out, drum = [], False
    for t in tokens:
        kind = tok.kind(t)
        if kind == "PROG":
            drum = t - tok.prog0 == DRUM_PROGRAM
        elif kind == "BAR":
            drum = False
        elif kind == "PITCH" and not drum:
            pitch = t - tok.pitch0 + shift
            if not 0 <= pitch < 128:
                return tokens
            t = tok.pitch0 + pitch
        out.append(t)
    return out


class TokenWindows:
    """Random training sequences (plain or infilling) from tokenised songs."""

    def __init__(self, songs: list[Song], tok: MusicTokenizer, context: int, transpose: int = 5,
                 infill_fraction: float = 0.5, max_gap: int = 4) -> None:
        self.tok, self.context, self.transpose = tok, context, transpose
        self.infill_fraction, self.max_gap = infill_fraction, max_gap
        self.items = []
        for song in songs:
            bars = tok.encode_bars(song)
            headers = [tok.header(song, b * song.bar_ticks) for b in range(len(bars))]
            if bars:
                self.items.append((bars, headers))
        if not self.items:
            raise InputError("The MIDI files hold no notes to train on.")
        self.tokens = sum(len(t) for bars, _ in self.items for t in bars)
        self.limits = token_limits([(bars, tok.bar_steps(_metre(headers[0], tok))) for bars, headers in self.items],
                                   tok)

    def example(self, gen: torch.Generator, infill: bool | None = None) -> list[int]:
        """One sequence of at most context + 1 tokens."""
        def rand(n: int) -> int:
            return int(torch.randint(0, max(1, n), (1,), generator=gen))

        bars, headers = self.items[rand(len(self.items))]
        start = rand(len(bars))
        shift = rand(2 * self.transpose + 1) - self.transpose if self.transpose else 0
        if infill is None:
            infill = float(torch.rand((), generator=gen)) < self.infill_fraction
        limit = self.context + 1
        if not infill or len(bars) - start < 2:
            seq = list(headers[start])
            for b in range(start, len(bars)):
                seq += bars[b]
                if len(seq) >= limit:
                    break
            else:
                seq.append(self.tok.eos)
            return transpose_tokens(seq[:limit], self.tok, shift)
        gap_start = start + 1 + rand(min(8, len(bars) - start - 1))
        gap_start = min(gap_start, len(bars) - 1)
        gap_end = min(len(bars), gap_start + 1 + rand(self.max_gap))
        middle = [t for b in bars[gap_start:gap_end] for t in b]
        budget = limit - len(middle) - 3 - 3
        if budget < 8:
            gap_end = gap_start + 1
            middle = bars[gap_start][: limit // 2]
            budget = limit - len(middle) - 6
        suffix: list[int] = []
        for b in bars[gap_end:]:
            if len(suffix) + len(b) > budget // 3:
                break
            suffix += b
        prefix: list[int] = []
        for b in reversed(bars[start:gap_start]):
            if len(prefix) + len(b) > budget - len(suffix):
                break
            prefix = b + prefix
        header = headers[max(0, gap_start - _count_bars(prefix, self.tok))]
        seq = header + prefix + [self.tok.fill] + suffix + [self.tok.sep] + middle + [self.tok.eos]
        return transpose_tokens(seq[:limit], self.tok, shift)

    def batch(self, size: int, gen: torch.Generator, infill: bool | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Inputs and targets [size, context] (padding targets are -100)."""
        x = torch.full((size, self.context), self.tok.pad, dtype=torch.long)
        y = torch.full((size, self.context), -100, dtype=torch.long)
        for i in range(size):
            seq = self.example(gen, infill)
            n = len(seq) - 1
            x[i, :n] = torch.tensor(seq[:-1])
            y[i, :n] = torch.tensor(seq[1:])
        return x, y


def token_limits(songs: list[tuple[list[list[int]], int]], tok: MusicTokenizer) -> dict:
    """What the model card stores for the decoder's masks, counted on tokenised songs ((bars, steps per bar)).

    Most notes at one onset and sounding at once (all instruments), most notes at one onset per
    General MIDI family (a bass plays one or two notes at a time, a piano five), the programs used
    (128 = drums) and the upper quartile of instrument families per song (the decoder's band size).
    """
    onset_most = sounding_most = 0
    by_family: dict[int, int] = {}
    programs: set[int] = set()
    families: list[int] = []
    for bars, steps in songs:
        used: set[int] = set()
        ends: list[int] = []
        for index, bar in enumerate(bars):
            now, onset, program = index * steps, 0, 0
            per_family: dict[int, int] = {}
            for t in bar:
                kind = tok.kind(t)
                if kind == "POS":
                    now, onset, per_family = index * steps + t - tok.pos0, 0, {}
                elif kind == "PROG":
                    program = t - tok.prog0
                    used.add(program)
                elif kind == "DUR":
                    onset += 1
                    family = program // 8
                    per_family[family] = per_family.get(family, 0) + 1
                    by_family[family] = max(by_family.get(family, 0), per_family[family])
                    ends = [e for e in ends if e > now] + [now + t - tok.dur0 + 1]
                    onset_most = max(onset_most, onset)
                    sounding_most = max(sounding_most, len(ends))
        programs |= used
        families.append(len({p // 8 for p in used}))
    families.sort()
    return {"max_onset_notes": onset_most, "max_sounding_notes": sounding_most, "programs": sorted(programs),
            "max_parts": families[(3 * len(families)) // 4] if families else 1,
            "max_onset_by_family": {str(f): n for f, n in sorted(by_family.items())}}


def song_limits(songs: list[Song], tok: MusicTokenizer) -> dict:
    """:func:`token_limits` of songs."""
    return token_limits([(tok.encode_bars(s), tok.bar_steps(_metre(tok.header(s), tok))) for s in songs], tok)


def _metre(header: list[int], tok: MusicTokenizer) -> tuple[int, int]:
    from aigc_studio.music.tokenizer import TIME_SIGNATURES

    return next((TIME_SIGNATURES[t - tok.ts0] for t in header if tok.kind(t) == "TS"), (4, 4))


def _count_bars(tokens: list[int], tok: MusicTokenizer) -> int:
    return sum(1 for t in tokens if t == tok.bar)


class Phrases:
    """All 2-bar (or N-bar) melody phrases of the songs, for the VAE."""

    def __init__(self, songs: list[Song], config, transpose: int = 5, min_onsets: int = 3) -> None:
        from aigc_studio.music.vae import song_to_melody

        self.transpose = transpose
        phrases = []
        for song in songs:
            for bar in range(0, max(0, song.bars - config.bars + 1)):
                events = song_to_melody(song, bar, config)
                if sum(1 for e in events if e < 128) >= min_onsets:
                    phrases.append(events)
        if not phrases:
            raise InputError("No phrases with notes found for the MusicVAE.")
        self.data = torch.tensor(phrases, dtype=torch.long)

    def __len__(self) -> int:
        return len(self.data)

    def batch(self, size: int, gen: torch.Generator, augment: bool = True) -> torch.Tensor:
        """A random batch [size, steps], transposed per phrase when ``augment``."""
        idx = torch.randint(0, len(self.data), (size,), generator=gen)
        batch = self.data[idx].clone()
        if augment and self.transpose:
            shifts = torch.randint(-self.transpose, self.transpose + 1, (size, 1), generator=gen)
            notes = batch < 128
            moved = torch.where(notes, batch + shifts, batch)
            ok = ((moved >= 0) & (moved < 128) | ~notes).all(dim=1, keepdim=True)
            batch = torch.where(ok, moved, batch)
        return batch
