"""``aigc-studio generate text`` and ``aigc-studio train text-gpt|text-vae`` for the text studio."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from aigc_studio.cli.train_options import add_card_options, add_run_options
from aigc_studio.errors import InputError, StudioError


def register(generate: argparse._SubParsersAction, train: argparse._SubParsersAction) -> None:
    """Add this studio's generate and train sub-commands."""
    g = generate.add_parser("text", help="continue a prompt with a text model, streaming to the terminal")
    g.add_argument("--model", required=True, help="model name, .safetensors file, or Hugging Face model folder")
    src = g.add_mutually_exclusive_group()
    src.add_argument("--prompt", default=None, help="text to continue")
    src.add_argument("--prompt-file", default=None, help="file whose text is continued")
    g.add_argument("--max-tokens", type=int, default=200)
    g.add_argument("--seed", type=int, default=None, help="random if omitted; the seed used is printed")
    g.add_argument("--temperature", type=float, default=0.8)
    g.add_argument("--top-k", type=int, default=0)
    g.add_argument("--top-p", type=float, default=0.95)
    g.add_argument("--repetition-penalty", type=float, default=1.0)
    g.add_argument("--stop", action="append", default=[], help="stop before this text (repeatable; \\n allowed)")
    g.add_argument("--out", default=None, help="also write prompt + continuation to this file")
    g.add_argument("--allow-pickle", action="store_true", help="allow .bin/.pt pickle weights (can run code!)")
    g.add_argument("--no-cache", action="store_true", help="recompute the whole window for every token (slow)")
    g.set_defaults(func=_generate)

    for kind, helptext in (
        ("text-gpt", "train or fine-tune the own GPT on .txt/.md files"),
        ("text-vae", "train a sentence VAE on .txt/.md files"),
    ):
        t = train.add_parser(kind, help=helptext)
        t.add_argument("--data", required=True, action="append", help="file or folder of .txt/.md (repeatable)")
        t.add_argument("--steps", type=int, default=2000)
        t.add_argument("--batch-size", type=int, default=None)
        t.add_argument("--lr", type=float, default=None)
        add_run_options(t, seed=1337, checkpoint_every=500)
        add_card_options(t)
        if kind == "text-gpt":
            t.add_argument("--init", default=None, help="fine-tune this own-GPT model")
            t.add_argument("--tokenizer", choices=("auto", "char", "bpe"), default="auto")
            t.add_argument("--vocab-size", type=int, default=2048)
            t.add_argument("--layers", type=int, default=4)
            t.add_argument("--heads", type=int, default=4)
            t.add_argument("--width", type=int, default=128)
            t.add_argument("--context", type=int, default=128)
            t.add_argument("--dropout", type=float, default=0.0)
            t.add_argument("--eval-every", type=int, default=250)
            t.add_argument("--sample-every", type=int, default=500)
            t.set_defaults(func=_train_gpt)
        else:
            t.add_argument("--init", default=None, help=argparse.SUPPRESS)
            t.add_argument("--latent", type=int, default=32)
            t.add_argument("--hidden", type=int, default=256)
            t.add_argument("--embed", type=int, default=128)
            t.add_argument("--vocab-size", type=int, default=8000)
            t.set_defaults(func=_train_vae)


def _unescape(text: str) -> str:
    """Let \\n and \\t typed on the command line mean a line break and a tab."""
    return text.replace("\\n", "\n").replace("\\t", "\t")


def _generate(args: argparse.Namespace) -> int:
    from aigc_studio.cli.runner import run_in_terminal
    from aigc_studio.core.events import TextPiece
    from aigc_studio.core.seeds import random_seed
    from aigc_studio.text.document_io import encoding_note, read_text_file
    from aigc_studio.text.jobs import GenerateTextJob

    if args.prompt_file:
        prompt, encoding = read_text_file(args.prompt_file)
        if encoding_note(encoding):
            print(f"note: {Path(args.prompt_file).name}: {encoding_note(encoding)}", file=sys.stderr)
    else:
        prompt = _unescape(args.prompt) if args.prompt else ""
    if args.max_tokens < 1:
        raise InputError("--max-tokens must be at least 1.")
    seed = args.seed if args.seed is not None else random_seed()  # drawn once, printed, so the text can be remade
    job = GenerateTextJob(
        model=args.model,
        prompt=prompt,
        temperature=args.temperature,
        top_k=args.top_k,
        top_p=args.top_p,
        repetition_penalty=args.repetition_penalty,
        max_new_tokens=args.max_tokens,
        stop=[_unescape(s) for s in args.stop],
        seed=seed,
        allow_pickle=args.allow_pickle,
        use_cache=not args.no_cache,
    )
    echoed: list[bool] = []

    def echo_prompt() -> None:  # only once the model is loaded, so errors do not follow a stray prompt
        if not echoed:
            echoed.append(True)
            sys.stdout.write(prompt)

    def on_partial(event):
        if isinstance(event, TextPiece):
            echo_prompt()
            sys.stdout.write(event.text)
            sys.stdout.flush()

    device = args.device or "auto"
    result = run_in_terminal(job, device=device, seed=seed, on_partial=on_partial, show_progress=False)
    echo_prompt()
    sys.stdout.write("\n")
    print(f"seed {result.seed}", file=sys.stderr)  # on stderr: the text on stdout stays clean for pipes
    if args.out:
        from aigc_studio.core.atomic import atomic_write_text
        from aigc_studio.ui.text.sidecar import write_sidecar  # Qt-free, like the rest of the document code

        text = prompt + result.text
        atomic_write_text(args.out, text)
        span = [len(prompt), len(text)]
        result.provenance = _provenance(args, len(prompt), result.seed)
        write_sidecar(args.out, text, [span] if span[1] > span[0] else [], [result.provenance])
    return 0


def _provenance(args: argparse.Namespace, prompt_chars: int, seed: int | None):
    """The record of this generation, stored with its span in the --out file's sidecar."""
    from aigc_studio.core.provenance import Provenance, model_identity
    from aigc_studio.core.registry import resolve_model

    try:
        name, model_hash = model_identity(resolve_model(args.model, "text-gpt"), "text-gpt")
    except StudioError:
        name, model_hash = args.model, ""  # a Hugging Face folder: no card of ours
    settings = {"temperature": args.temperature, "top_k": args.top_k, "top_p": args.top_p,
                "repetition_penalty": args.repetition_penalty, "max_new_tokens": args.max_tokens,
                "stop": [_unescape(s) for s in args.stop], "prompt_chars": prompt_chars}
    return Provenance("text", "continue", name, model_hash, seed, settings).stamped()


def _common_settings(args: argparse.Namespace) -> dict:
    from aigc_studio.cli.train_options import apply_training_options

    apply_training_options(args)
    settings = {
        "data": [str(Path(d)) for d in args.data],
        "out": args.out,
        "steps": args.steps,
        "resume": args.resume,
        "seed": args.seed,
        "name": args.name,
        "description": args.description,
        "license": args.license,
        "data_sources": args.data_sources,
        "checkpoint_every": args.checkpoint_every,
        "log_every": args.log_every,
    }
    if args.batch_size:
        settings["batch_size"] = args.batch_size
    if args.lr:
        settings["lr"] = args.lr
    return settings


def _train_gpt(args: argparse.Namespace) -> int:
    from aigc_studio.cli.runner import run_in_terminal
    from aigc_studio.text.jobs import TrainGPTJob

    settings = _common_settings(args)
    settings.update(
        init=args.init,
        tokenizer=args.tokenizer,
        vocab_size=args.vocab_size,
        layers=args.layers,
        heads=args.heads,
        width=args.width,
        context=args.context,
        dropout=args.dropout,
        eval_every=args.eval_every,
        sample_every=args.sample_every,
    )
    print(run_in_terminal(TrainGPTJob(settings), device=args.device or "auto", seed=args.seed).summary())
    return 0


def _train_vae(args: argparse.Namespace) -> int:
    from aigc_studio.cli.runner import run_in_terminal
    from aigc_studio.text.jobs import TrainVAEJob

    settings = _common_settings(args)
    settings.update(latent=args.latent, hidden=args.hidden, embed=args.embed, vocab_size=args.vocab_size)
    print(run_in_terminal(TrainVAEJob(settings), device=args.device or "auto", seed=args.seed).summary())
    return 0
