"""Music benchmark: 32 bars on the CPU, tokens/s with and without the KV cache, training tokens/s.

Usage: python benchmarks/music.py [MODEL.safetensors]  (default: the starter transformer, else a random
model of the same size). Prints a table. "32 bars as the app writes them" is what Generate does: the
card's masks (polyphony, instruments), a key lock, voices dealt to tracks and the validity check
(MIDI round trip through mido and pretty_midi); it runs 5 times interleaved with the unmasked
generation, and the table gives the median and the range. Target: under 1 s on a quiet 2-core CPU.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

import torch

from aigc_studio.music.event_model import load_music_transformer, new_music_transformer
from aigc_studio.music.tokenizer import MusicTokenizer
from aigc_studio.nn.sampling import SamplingSettings

STARTER = Path(__file__).resolve().parents[1] / "resources" / "models" / "music-chorales-transformer.safetensors"


def main() -> None:
    """Run the measurements and print the table."""
    threads = torch.get_num_threads()
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else STARTER
    if path.exists():
        mt, label = load_music_transformer(path), path.name
    else:
        torch.manual_seed(0)
        mt, label = new_music_transformer(MusicTokenizer(), 4, 4, 192, 320), "random 4x192 (no starter model)"
    settings = SamplingSettings(temperature=1.0, top_p=0.95)
    rows = []

    def timed(bars: int, cache: bool, seed: int = 0):
        counter = [0]
        start = time.perf_counter()
        song, _ = mt.generate(bars, settings, torch.Generator().manual_seed(seed), use_cache=cache,
                              on_token=lambda _t: counter.__setitem__(0, counter[0] + 1))
        return time.perf_counter() - start, counter[0], song

    timed(1, True)  # warm-up
    seconds, tokens, song = timed(32, True)
    rows.append(("generate 32 bars (KV cache)", f"{seconds:.2f} s", f"{tokens / seconds:.0f} tok/s",
                 f"{tokens} tokens, {song.note_count} notes"))
    plain, checked, plain_rate, checked_rate, notes = [], [], [], [], 0
    for seed in range(5):  # interleaved, so both see the same load from whatever else runs
        seconds, tokens, _ = timed(32, True, seed=10 + seed)
        plain.append(seconds)
        plain_rate.append(tokens / seconds)
        seconds, tokens, notes = app_generation(mt, 32, 10 + seed)
        checked.append(seconds)
        checked_rate.append(tokens / seconds)
    rows.append(("32 bars, no masks (x5)", _spread(plain), f"{statistics.median(plain_rate):.0f} tok/s",
                 "median [min-max]"))
    rows.append(("32 bars as the app writes them (x5)", _spread(checked), f"{statistics.median(checked_rate):.0f} tok/s",
                 f"masks + key lock + voices + check; last: {notes} notes"))
    seconds, tokens, _ = timed(4, False, seed=1)
    rows.append(("generate 4 bars (no cache)", f"{seconds:.2f} s", f"{tokens / seconds:.0f} tok/s", f"{tokens} tokens"))
    seconds, tokens, _ = timed(4, True, seed=1)
    rows.append(("generate 4 bars (KV cache)", f"{seconds:.2f} s", f"{tokens / seconds:.0f} tok/s", f"{tokens} tokens"))

    model = mt.model
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    batch, context = 8, mt.context
    x = torch.randint(0, mt.tok.vocab_size, (batch, context))
    steps = 3
    start = time.perf_counter()
    for _ in range(steps):
        loss = model.loss(x, x)
        opt.zero_grad()
        loss.backward()
        opt.step()
    seconds = time.perf_counter() - start
    rows.append(("training step (batch 8)", f"{seconds / steps:.2f} s", f"{steps * batch * context / seconds:.0f} tok/s",
                 f"context {context}"))
    print(f"music benchmark: {label}, {model.num_parameters():,} parameters, CPU, {threads} torch threads")
    print(f"{'what':32} {'time':>9} {'speed':>13}  notes")
    for what, t, speed, note in rows:
        print(f"{what:32} {t:>9} {speed:>13}  {note}")


def app_generation(mt, bars: int, seed: int) -> tuple[float, int, int]:
    """What GenerateMusicJob does after loading: masked sampling, voices, validity check. (seconds, tokens, notes)."""
    from aigc_studio.music.constraints import DecodeLimits, Key, fragment_problems
    from aigc_studio.music.jobs import sampling_defaults
    from aigc_studio.music.voices import Voicing, split_voices

    counter = [0]
    start = time.perf_counter()
    defaults = sampling_defaults(mt.card)
    limits = DecodeLimits.from_card(mt.card, Key(2, "minor"))
    settings = SamplingSettings(temperature=defaults.temperature, top_p=defaults.top_p)
    song, first = mt.generate(bars, settings, torch.Generator().manual_seed(seed), limits=limits,
                              on_token=lambda _t: counter.__setitem__(0, counter[0] + 1))
    voicing = Voicing.from_card(mt.card)
    if voicing is not None:
        song = split_voices(song, None, voicing)
        limits = DecodeLimits(limits.max_onset_notes, limits.max_sounding_notes, None, limits.pitch_classes)
    problems = fragment_problems(song, first, bars, limits)
    seconds = time.perf_counter() - start
    if problems:
        raise SystemExit(f"broken fragment: {problems}")
    return seconds, counter[0], song.note_count


def _spread(values: list[float]) -> str:
    return f"{statistics.median(values):.2f} s [{min(values):.2f}-{max(values):.2f}]"


if __name__ == "__main__":
    main()
