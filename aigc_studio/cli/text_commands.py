"""``aigc-studio generate text`` and ``aigc-studio train text-gpt|text-vae`` for the text studio."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from aigc_studio.cli.train_options import add_card_options, add_run_options
from aigc_studio.errors import InputError
from aigc_studio.text.length import FINISHES
from aigc_studio.text.rewrite import PRESETS


def register(generate: argparse._SubParsersAction, train: argparse._SubParsersAction) -> None:
    """Add this studio's generate and train sub-commands."""
    g = generate.add_parser("text", help="continue a prompt with a text model, streaming to the terminal")
    g.add_argument("--model", required=True, help="model name, .safetensors file, or Hugging Face model folder")
    src = g.add_mutually_exclusive_group()
    src.add_argument("--prompt", default=None, help="text to continue")
    src.add_argument("--prompt-file", default=None, help="file whose text is continued")
    src.add_argument("--input", default=None, help="file to rewrite with --instruction or --preset (a chat model)")
    length = g.add_mutually_exclusive_group()
    length.add_argument("--max-tokens", type=int, default=None, help="length in the model's tokens (default 200)")
    length.add_argument("--max-words", type=int, default=None, help="length in words")
    length.add_argument("--max-sentences", type=int, default=None, help="length in sentences")
    length.add_argument("--max-paragraphs", type=int, default=None, help="length in paragraphs")
    g.add_argument(
        "--finish",
        choices=FINISHES,
        default=None,
        help="end at a sentence end (default with words/sentences), a whole word, or anywhere (default with tokens)",
    )
    g.add_argument("--no-loop-stop", action="store_true", help="keep going when the model repeats itself")
    ask = g.add_mutually_exclusive_group()
    ask.add_argument("--instruction", default=None, help="what to do with --input, e.g. 'Make it more formal'")
    ask.add_argument("--preset", choices=sorted(PRESETS), default=None, help="a ready-made instruction for --input")
    g.add_argument("--tone", default="", help="the tone for --preset tone, e.g. warmer")
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


def _length_options(args: argparse.Namespace) -> dict:
    """GenerateTextJob's length fields from --max-tokens/--max-words/--max-sentences/--max-paragraphs/--finish."""
    for unit in ("words", "sentences", "paragraphs"):
        amount = getattr(args, f"max_{unit}")
        if amount is not None:
            if amount < 1:
                raise InputError(f"--max-{unit} must be at least 1.")
            return {"length": amount, "length_unit": unit, "finish": args.finish or "sentence"}
    tokens = 200 if args.max_tokens is None else args.max_tokens
    if tokens < 1:
        raise InputError("--max-tokens must be at least 1.")
    if args.finish in (None, "none"):
        return {"max_new_tokens": tokens}
    return {"length": tokens, "length_unit": "tokens", "finish": args.finish}


def _generate(args: argparse.Namespace) -> int:
    from aigc_studio.core.seeds import random_seed
    from aigc_studio.text.document_io import encoding_note, read_text_file
    from aigc_studio.text.jobs import GenerateTextJob

    asks = args.instruction is not None or args.preset is not None
    if asks != (args.input is not None):
        raise InputError("--instruction (or --preset) and --input go together: the instruction is applied to the file.")
    source = args.input or args.prompt_file
    if source:
        prompt, encoding = read_text_file(source)
        if encoding_note(encoding):
            print(f"note: {Path(source).name}: {encoding_note(encoding)}", file=sys.stderr)
    else:
        prompt = _unescape(args.prompt) if args.prompt else ""
    if str(args.model).endswith(".safetensors") and Path(args.model).is_file():
        from aigc_studio.core.modelfile import read_card

        read_card(args.model)  # a damaged or hostile file is refused here, before torch is even imported
    sampling = {
        "temperature": args.temperature,
        "top_k": args.top_k,
        "top_p": args.top_p,
        "repetition_penalty": args.repetition_penalty,
        "seed": args.seed if args.seed is not None else random_seed(),  # drawn once, printed, to remake the text
        "allow_pickle": args.allow_pickle,
        "use_cache": not args.no_cache,
        "loop_stop": not args.no_loop_stop,
    }
    if asks:
        from aigc_studio.text.rewrite import RewriteJob

        job = RewriteJob(
            model=args.model,
            passage=prompt,
            preset=args.preset,
            instruction=args.instruction or "",
            tone=args.tone,
            **sampling,
        )
        return _stream_job(args, job, echo="")
    job = GenerateTextJob(
        model=args.model, prompt=prompt, stop=[_unescape(s) for s in args.stop], **sampling, **_length_options(args)
    )
    return _stream_job(args, job, echo=prompt)


LAG = 2000  # characters a file or pipe trails behind, more than a loop's repeats can take back


def _stream_job(args: argparse.Namespace, job, echo: str) -> int:
    """Run a text job, streaming to stdout, with notes on stderr.

    A terminal sees every piece at once; a file or pipe trails ``LAG`` characters
    behind, so that the repeats of a loop that was cut never reach it.
    """
    from aigc_studio.cli.runner import run_in_terminal
    from aigc_studio.core.events import TextPiece, TextTrim

    live = sys.stdout.isatty()
    echoed: list[bool] = []
    pending: list[str] = [""]  # generated text not yet written (files and pipes only)
    written = [0]

    def echo_prompt() -> None:  # only once the model is loaded, so errors do not follow a stray prompt
        if not echoed:
            echoed.append(True)
            sys.stdout.write(echo)

    def on_partial(event):
        if isinstance(event, TextPiece):
            echo_prompt()
            if live:
                sys.stdout.write(event.text)
            else:
                pending[0] += event.text
                if len(pending[0]) > LAG:
                    sys.stdout.write(pending[0][:-LAG])
                    written[0] += len(pending[0]) - LAG
                    pending[0] = pending[0][-LAG:]
            sys.stdout.flush()
        elif isinstance(event, TextTrim) and not live:
            pending[0] = pending[0][: max(0, len(pending[0]) - event.chars)]

    device = args.device or "auto"
    result = run_in_terminal(job, device=device, seed=job.seed, on_partial=on_partial, show_progress=False)
    echo_prompt()
    if not live:
        sys.stdout.write(result.text[written[0] :])
    sys.stdout.write("\n")
    sys.stdout.flush()
    if result.get("trimmed"):
        where = "--out leaves them out" if live else "they were left out"
        print(
            f"note: stopped a repetition loop; its repeats ({result['trimmed']} characters) were cut: {where}.",
            file=sys.stderr,
        )
    print(f"seed {result.seed}", file=sys.stderr)  # on stderr: the text on stdout stays clean for pipes
    if getattr(job, "length", None) is not None:
        print(f"note: {result['words']} words added ({result['reason_text']}).", file=sys.stderr)
    if args.out:
        from aigc_studio.core.atomic import atomic_write_text
        from aigc_studio.text.sidecar import write_sidecar  # Qt-free, like the rest of the document code

        generated = result.text if echo else result.get("replacement", result.text)
        text = echo + generated
        atomic_write_text(args.out, text)
        result.provenance = _provenance(args, job, len(echo))
        spans = [[len(echo), len(text)]] if generated else []
        write_sidecar(args.out, text, spans, [result.provenance])
    return 0


def _provenance(args: argparse.Namespace, job, prompt_chars: int):
    """The record of this generation (seed already drawn), stored with its span in the --out file's sidecar."""
    from aigc_studio.core.registry import resolve_model
    from aigc_studio.errors import StudioError
    from aigc_studio.text.recipes import record_of

    try:
        model = resolve_model(args.model, "text-gpt")
    except StudioError:
        model = Path(args.model)  # a Hugging Face folder: no card of ours
    return record_of(job, model, prompt_chars)


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
