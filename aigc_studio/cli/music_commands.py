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
    g.add_argument(
        "--at-bar", type=int, default=None, help="continue from this bar of --prime (0-based; default its end)"
    )
    g.add_argument(
        "--infill",
        default=None,
        metavar="FIRST:LAST",
        help="regenerate bars FIRST..LAST-1 of --prime in context instead of continuing",
    )
    g.add_argument(
        "--variations",
        type=int,
        default=None,
        metavar="N",
        help="with --infill: write N (1-16) alternatives of those bars, OUT-1.mid .. OUT-N.mid",
    )
    g.add_argument("--temperature", type=float, default=None, help="0.1-2.0 (default: the model's, else 1.0)")
    g.add_argument("--top-k", type=int, default=None)
    g.add_argument("--top-p", type=float, default=None, help="default: the model's, else 0.95")
    g.add_argument(
        "--key",
        default=None,
        help='lock notes to a key, e.g. "D major", "F# minor" (default: the key of --prime when it has notes)',
    )
    g.add_argument("--scale", default=None, help="scale of the key lock: major, minor, dorian, mixolydian, blues, ...")
    g.add_argument("--no-key-lock", action="store_true", help="do not lock to --prime's key")
    g.add_argument(
        "--instruments",
        default=None,
        help="only these parts, e.g. drums,bass (families or GM program numbers the model knows)",
    )
    g.add_argument("--seed", type=int, default=None, help="random if omitted; the seed used is printed")
    g.add_argument("--out", required=True, help="output .mid file")
    g.add_argument("--no-cache", action="store_true", help="recompute the whole window for every token (slow)")
    g.set_defaults(func=_generate)

    for kind, helptext in (
        ("music-transformer", "train the event transformer on a folder of MIDI files"),
        ("music-vae", "train a MusicVAE on 2-bar phrases of a folder of MIDI files"),
    ):
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
    from aigc_studio.core.events import MusicVariations
    from aigc_studio.core.modelfile import read_card
    from aigc_studio.core.registry import resolve_model
    from aigc_studio.core.seeds import random_seed
    from aigc_studio.music.jobs import (
        GenerateMusicJob,
        InfillMusicJob,
        SamplingOptions,
        VariationsJob,
        sampling_defaults,
    )
    from aigc_studio.music.midi_io import read_midi, write_midi
    from aigc_studio.music.recipes import record_of
    from aigc_studio.music.song import merge_command

    if not 1 <= args.bars <= 256:
        raise InputError("--bars must be between 1 and 256.")
    if Path(args.out).suffix.lower() not in (".mid", ".midi"):
        raise InputError("--out must end in .mid or .midi.")
    path = resolve_model(args.model, ("music-transformer", "music-vae"))
    card = read_card(path, ("music-transformer", "music-vae"))
    defaults = sampling_defaults(card)
    options = SamplingOptions(
        defaults.temperature if args.temperature is None else args.temperature,
        defaults.top_k if args.top_k is None else args.top_k,
        defaults.top_p if args.top_p is None else args.top_p,
        not args.no_cache,
    )
    if not 0.0 <= options.temperature <= 2.0:
        raise InputError("--temperature must be between 0 and 2.")
    seed = args.seed if args.seed is not None else random_seed()  # drawn once, printed, so the file can be remade
    prime = None
    if args.prime:
        prime, warnings = read_midi(args.prime)
        for w in warnings:
            print(f"note: {w}")
    request = _request(args, card, prime)
    if args.variations is not None and not (1 <= args.variations <= 16 and args.infill):
        raise InputError("--variations takes 1 to 16 and needs --infill FIRST:LAST (the bars to vary) and --prime.")
    if args.infill:
        if prime is None:
            raise InputError("--infill needs --prime FILE.mid.")
        try:
            first, last = (int(x) for x in args.infill.split(":"))
        except ValueError:
            raise InputError("--infill takes FIRST:LAST bar numbers, e.g. 4:6.") from None
        if args.variations is not None:
            job = VariationsJob(
                str(path), prime, first, args.variations, options=options, last_bar=last, request=request, seed=seed
            )
        else:
            job = InfillMusicJob(str(path), prime, first, last, options, request, seed=seed)
        clear = (first * prime.bar_ticks, last * prime.bar_ticks)
    else:
        job = GenerateMusicJob(str(path), args.bars, prime, args.at_bar, options, request, seed=seed)
        clear = None
        if prime is not None and args.at_bar is not None:
            clear = (args.at_bar * prime.bar_ticks, (args.at_bar + args.bars) * prime.bar_ticks)
    result = run_in_terminal(job, device=args.device or "auto", seed=seed)
    if isinstance(result, MusicVariations):
        return _write_variations(result, prime, Path(args.out))
    song = prime.copy() if prime is not None else result.fragment
    if prime is not None:
        merge_command(song, result.fragment, clear).do(song)
    first_bar = result.details["first_bar"]
    end_bar = result.details.get("last_bar", first_bar + result.details.get("bars", 0))
    result.provenance = record_of(job, result.seed, first_bar, stamp=False)
    write_midi(  # the file lasts the bars asked for, and carries the records of its generated notes
        song,
        args.out,
        end_tick=end_bar * song.bar_ticks,
        provenance=[*_earlier_records(args.prime), result.provenance],
    )
    result.path = str(args.out)
    new = result.fragment.note_count
    bars = max(song.bars, end_bar)
    parts = ", ".join(t.name for t in result.fragment.tracks if t.notes)
    key = f", locked to {request.key}" if request.key is not None else ""
    print(f"wrote {args.out}: {new} new notes, {bars} bars ({parts}){key} (seed {result.seed})")
    return 0


def _write_variations(result, prime, out: Path) -> int:
    """One file per alternative: the prime with that alternative in place of the varied bars."""
    from aigc_studio.music.midi_io import write_midi
    from aigc_studio.music.song import merge_command

    first, last = result.details["first_bar"], result.details["last_bar"]
    bt = prime.bar_ticks
    paths = []
    for number, alternative in enumerate(result.alternatives, 1):
        song = prime.copy()
        merge_command(song, alternative, (first * bt, last * bt)).do(song)
        path = out.with_name(f"{out.stem}-{number}{out.suffix}")
        write_midi(song, path, end_tick=max(song.bars, last) * bt)
        paths.append(path)
    result.path = str(paths[0])
    print(
        f"wrote {len(paths)} variations of bars {first}-{last - 1}: {paths[0]} .. {paths[-1].name} (seed {result.seed})"
    )
    return 0


def _request(args: argparse.Namespace, card, prime):
    """The key lock and instruments asked for on the command line (checked against the model's card)."""
    from aigc_studio.music.constraints import Key, detect_key, parse_instruments, parse_key, parse_scale
    from aigc_studio.music.jobs import MusicRequest, trained_programs

    key = None
    if args.key:
        key = parse_key(args.key, args.scale)
    elif args.scale:
        detected = detect_key(prime) if prime is not None else None
        key = Key(detected.tonic if detected else 0, parse_scale(args.scale))
    elif prime is not None and not args.no_key_lock:
        key = detect_key(prime)
    instruments = None
    if args.instruments:
        instruments = parse_instruments(args.instruments, trained_programs(card))
    return MusicRequest(key, instruments)


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
        "data": [str(Path(d)) for d in args.data],
        "out": args.out,
        "steps": args.steps,
        "resume": args.resume,
        "batch_size": args.batch_size,
        "lr": args.lr,
        "seed": args.seed,
        "transpose": args.transpose,
        "val_fraction": args.val_fraction,
        "checkpoint_every": args.checkpoint_every,
        "log_every": args.log_every,
        "eval_every": args.eval_every,
        "name": args.name,
        "description": args.description,
        "license": args.license,
        "data_sources": args.data_sources,
    }
    for key in ("layers", "heads", "width", "context", "hidden", "latent"):
        overrides[key] = getattr(args, key, None)
    job = TrainMusicJob(train_settings_for(args.kind, **overrides))

    def on_partial(event):
        if isinstance(event, LossPoint) and "val_loss" in event.values:
            print(
                f"step {event.step}: loss {event.values['loss']:.4f} val_loss {event.values['val_loss']:.4f}",
                flush=True,
            )

    result = run_in_terminal(job, device=args.device or "auto", seed=args.seed, on_partial=on_partial)
    print(f"saved {result.path}")
    return 0
