"""``aigc-studio generate music`` and ``aigc-studio train music-transformer|music-vae``."""

from __future__ import annotations

import argparse
from pathlib import Path

from aigc_studio.cli.train_options import add_card_options, add_run_options
from aigc_studio.errors import InputError


def register(generate: argparse._SubParsersAction, train: argparse._SubParsersAction) -> None:
    """Add this studio's generate and train sub-commands."""
    g = generate.add_parser("music", help="generate or continue MIDI with a music model")
    g.add_argument("--model", required=True, help="model name or .safetensors file (music-transformer or music-vae)")
    g.add_argument("--bars", type=int, default=8, help="how many bars to write")
    g.add_argument("--prime", default=None, help="a .mid file to continue")
    g.add_argument("--at-bar", type=int, default=None, help="continue from this bar of --prime (0-based; default its end)")
    g.add_argument("--infill", default=None, metavar="FIRST:LAST",
                   help="regenerate bars FIRST..LAST-1 of --prime in context instead of continuing")
    g.add_argument("--temperature", type=float, default=1.0)
    g.add_argument("--top-k", type=int, default=0)
    g.add_argument("--top-p", type=float, default=0.95)
    g.add_argument("--seed", type=int, default=None, help="random if omitted; the seed used is printed")
    g.add_argument("--out", required=True, help="output .mid file")
    g.add_argument("--no-cache", action="store_true", help="recompute the whole window for every token (slow)")
    g.set_defaults(func=_generate)

    for kind, helptext in (("music-transformer", "train the event transformer on a folder of MIDI files"),
                           ("music-vae", "train a MusicVAE on 2-bar phrases of a folder of MIDI files")):
        t = train.add_parser(kind, help=helptext)
        t.add_argument("--data", required=True, action="append", help="folder or .mid file (repeatable)")
        t.add_argument("--steps", type=int, default=1000)
        t.add_argument("--batch-size", type=int, default=None)
        t.add_argument("--lr", type=float, default=None)
        add_run_options(t, seed=1337, checkpoint_every=200)
        t.add_argument("--transpose", type=int, default=None, help="augment by up to +/- this many semitones")
        t.add_argument("--val-fraction", type=float, default=None)
        t.add_argument("--eval-every", type=int, default=None)
        add_card_options(t)
        if kind == "music-transformer":
            t.add_argument("--layers", type=int, default=None)
            t.add_argument("--heads", type=int, default=None)
            t.add_argument("--width", type=int, default=None)
            t.add_argument("--context", type=int, default=None)
        else:
            t.add_argument("--hidden", type=int, default=None)
            t.add_argument("--latent", type=int, default=None)
        t.set_defaults(func=_train, kind=kind)


def _generate(args: argparse.Namespace) -> int:
    from aigc_studio.cli.runner import run_in_terminal
    from aigc_studio.core.registry import resolve_model
    from aigc_studio.core.seeds import random_seed
    from aigc_studio.music.jobs import GenerateMusicJob, InfillMusicJob, SamplingOptions
    from aigc_studio.music.midi_io import read_midi, write_midi
    from aigc_studio.music.recipes import record_of
    from aigc_studio.music.song import merge_command

    if not 1 <= args.bars <= 256:
        raise InputError("--bars must be between 1 and 256.")
    if Path(args.out).suffix.lower() not in (".mid", ".midi"):
        raise InputError("--out must end in .mid or .midi.")
    path = resolve_model(args.model, ("music-transformer", "music-vae"))
    options = SamplingOptions(args.temperature, args.top_k, args.top_p, not args.no_cache)
    seed = args.seed if args.seed is not None else random_seed()  # drawn once, printed, so the file can be remade
    prime = None
    if args.prime:
        prime, warnings = read_midi(args.prime)
        for w in warnings:
            print(f"note: {w}")
    if args.infill:
        if prime is None:
            raise InputError("--infill needs --prime FILE.mid.")
        try:
            first, last = (int(x) for x in args.infill.split(":"))
        except ValueError:
            raise InputError("--infill takes FIRST:LAST bar numbers, e.g. 4:6.") from None
        job = InfillMusicJob(str(path), prime, first, last, options, seed=seed)
        clear = (first * prime.bar_ticks, last * prime.bar_ticks)
    else:
        job = GenerateMusicJob(str(path), args.bars, prime, args.at_bar, options, seed=seed)
        clear = None
        if prime is not None and args.at_bar is not None:
            clear = (args.at_bar * prime.bar_ticks, (args.at_bar + args.bars) * prime.bar_ticks)
    result = run_in_terminal(job, device=args.device or "auto", seed=seed)
    song = prime.copy() if prime is not None else result.fragment
    if prime is not None:
        merge_command(song, result.fragment, clear).do(song)
    result.provenance = record_of(job, result.seed, result.details.get("first_bar"), stamp=False)
    write_midi(song, args.out, provenance=[*_earlier_records(args.prime), result.provenance])
    result.path = str(args.out)
    new = result.fragment.note_count
    print(f"wrote {args.out}: {new} new notes, {song.bars} bars (seed {result.seed})")
    return 0


def _earlier_records(prime: str | None) -> list:
    """The records already in the --prime file: its earlier generated notes keep theirs."""
    from aigc_studio.music.midi_io import read_provenance

    return read_provenance(prime) if prime else []


def _train(args: argparse.Namespace) -> int:
    from aigc_studio.cli.runner import run_in_terminal
    from aigc_studio.cli.train_options import apply_training_options
    from aigc_studio.core.events import LossPoint
    from aigc_studio.music.training import TrainMusicJob, train_settings_for

    apply_training_options(args)
    overrides = {
        "data": [str(Path(d)) for d in args.data], "out": args.out, "steps": args.steps, "resume": args.resume,
        "batch_size": args.batch_size, "lr": args.lr, "seed": args.seed, "transpose": args.transpose,
        "val_fraction": args.val_fraction, "checkpoint_every": args.checkpoint_every, "log_every": args.log_every,
        "eval_every": args.eval_every,
        "name": args.name, "description": args.description, "license": args.license, "data_sources": args.data_sources,
    }
    for key in ("layers", "heads", "width", "context", "hidden", "latent"):
        overrides[key] = getattr(args, key, None)
    job = TrainMusicJob(train_settings_for(args.kind, **overrides))

    def on_partial(event):
        if isinstance(event, LossPoint) and "val_loss" in event.values:
            print(f"step {event.step}: loss {event.values['loss']:.4f} val_loss {event.values['val_loss']:.4f}", flush=True)

    result = run_in_terminal(job, device=args.device or "auto", seed=args.seed, on_partial=on_partial)
    print(f"saved {result.path}")
    return 0
