"""The issue-12 table for a music model: N seeds x 16 bars, checked file by file, against held-out songs.

Usage:
  python resources/recipes/music/table.py MODEL REFERENCE_DIR [--seeds 100] [--bars 16] [--reference 30]
      [--lock] [--instruments drums,bass] [--json OUT.json]

Each seed's piece goes through the same job as ``aigc-studio generate music`` (the model's
sampling defaults) and is written as a .mid file in memory (lasting the bars asked for). A piece
is *broken* when mido and pretty_midi read different note counts, when the file does not last
exactly the bars asked for, or when an onset holds more notes than the card allows. Figures
(pitched notes only): share in the best-fitting major/minor key (Krumhansl), notes per bar,
pitch range. ``--lock`` locks each seed to one of the 24 major/minor keys (seed % 24) and reports
the share of notes in that scale. The reference is the first ``--reference`` songs of the
validation split (10 % by file-name hash, as in training), their first ``--bars`` bars.
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import time
from collections import Counter


def piece_report(song, bars: int, max_onset: int | None) -> dict:
    """Write ``song`` as a file and read it back: note counts, length in bars, busiest onset."""
    import mido
    import pretty_midi

    from aigc_studio.music.midi_io import midi_bytes

    data = midi_bytes(song, end_tick=bars * song.bar_ticks)
    midi = mido.MidiFile(file=io.BytesIO(data))
    pm = pretty_midi.PrettyMIDI(io.BytesIO(data))
    mido_notes = sum(1 for t in midi.tracks for m in t if m.type == "note_on" and m.velocity > 0)
    pm_notes = [n for i in pm.instruments for n in i.notes]
    length = max(sum(m.time for m in t) for t in midi.tracks)
    onset = max(Counter(n.start for t in song.tracks for n in t.notes).values(), default=0)
    problems = []
    if mido_notes != len(pm_notes):
        problems.append(f"mido {mido_notes} notes, pretty_midi {len(pm_notes)}")
    if length != bars * song.bar_ticks:
        problems.append(f"{length / song.bar_ticks:.2f} bars")
    if max_onset is not None and onset > max_onset:
        problems.append(f"{onset} notes at one onset")
    channels = {i.program if not i.is_drum else "drums" for i in pm.instruments if i.notes}
    return {"problems": problems, "notes": mido_notes, "onset": onset, "parts": sorted(map(str, channels))}


def summarise(figs: list[dict]) -> dict:
    """Mean and worst in-key share, mean notes per bar and pitch range."""
    return {
        "pieces": len(figs),
        "in_key": round(statistics.mean(f["in_key"] for f in figs), 4),
        "in_key_worst": round(min(f["in_key"] for f in figs), 4),
        "notes_per_bar": round(statistics.mean(f["notes_per_bar"] for f in figs), 2),
        "pitch_range": round(statistics.mean(f["pitch_range"] for f in figs), 2),
    }


def main(argv: list[str] | None = None) -> dict:
    """Print and return the figures."""
    import torch

    from aigc_studio.core.jobs import run_job
    from aigc_studio.core.modelfile import read_card
    from aigc_studio.music.analysis import figures
    from aigc_studio.music.constraints import Key, in_scale_share, parse_instruments
    from aigc_studio.music.dataset import load_corpus, split_validation
    from aigc_studio.music.jobs import GenerateMusicJob, MusicRequest, sampling_defaults, trained_programs

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("model")
    p.add_argument("reference")
    p.add_argument("--seeds", type=int, default=100)
    p.add_argument("--bars", type=int, default=16)
    p.add_argument("--reference-count", type=int, default=30)
    p.add_argument("--lock", action="store_true")
    p.add_argument("--instruments", default=None)
    p.add_argument("--json", default=None)
    args = p.parse_args(argv)
    torch.set_num_threads(1)

    card = read_card(args.model)
    max_onset = ((card.extra or {}).get("limits") or {}).get("max_onset_notes")
    instruments = parse_instruments(args.instruments, trained_programs(card)) if args.instruments else None
    options = sampling_defaults(card)
    figs, broken, locked, parts = [], [], [], Counter()
    started = time.monotonic()
    for seed in range(args.seeds):
        key = Key(seed % 12, "major" if seed % 24 < 12 else "minor") if args.lock else None
        job = GenerateMusicJob(args.model, args.bars, options=options, request=MusicRequest(key, instruments))
        song = run_job(job, seed=seed)["fragment"]
        report = piece_report(song, args.bars, max_onset)
        parts.update(report["parts"])
        if report["problems"]:
            broken.append((seed, report["problems"]))
        figs.append(figures(song))
        if key is not None:
            locked.append(in_scale_share(song, key))
    seconds = time.monotonic() - started
    out = {
        "model": card.name,
        "sampling": {"temperature": options.temperature, "top_p": options.top_p},
        "bars": args.bars,
        "broken": len(broken),
        "broken_examples": broken[:5],
        "generated": summarise(figs),
        "parts_seen": dict(parts),
        "seconds_per_piece": round(seconds / args.seeds, 2),
    }
    if locked:
        out["in_locked_scale"] = round(statistics.mean(locked), 4)
        out["in_locked_scale_worst"] = round(min(locked), 4)
    corpus = load_corpus([args.reference])
    _, val = split_validation(corpus.songs, 0.1)
    reference = [song.slice_bars(0, args.bars) for _, song in val[: args.reference_count]]
    out["reference"] = summarise([figures(s) for s in reference])
    print(json.dumps(out, indent=1))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)
    return out


if __name__ == "__main__":
    main()
