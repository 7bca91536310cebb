"""``aigc-studio models list|info``."""

from __future__ import annotations

import argparse
import json

from aigc_studio.core.registry import list_models, resolve_model


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``models`` command."""
    models = subparsers.add_parser("models", help="list and inspect models")
    sub = models.add_subparsers(dest="models_command", required=True, metavar="{list,info}")
    listing = sub.add_parser("list", help="list bundled and user models")
    listing.add_argument("--json", action="store_true", help="print a JSON list (name, kind, path, ...)")
    listing.add_argument("--kind", help="only this kind or family (e.g. image, text-gpt)")
    listing.set_defaults(func=list_command)
    info = sub.add_parser("info", help="print a model's card")
    info.add_argument("model", help="model name from `models list` or a .safetensors path")
    info.set_defaults(func=info_command)


def list_command(args: argparse.Namespace) -> int:
    """Print the models the app knows about."""
    entries = list_models(args.kind)
    if args.json:
        print(json.dumps([e.to_dict() for e in entries], indent=2))
        return 0
    if not entries:
        print("No models found. Train one with `aigc-studio train ...`.")
        return 0
    width = max(len(e.name) for e in entries)
    for e in entries:
        size = f"{e.size_bytes / 1e6:.1f} MB"
        print(f"{e.name:<{width}}  {e.kind:<17}  {size:>8}  {e.source:<7}  {e.card.summary()}")
    return 0


def info_command(args: argparse.Namespace) -> int:
    """Print one model's card as JSON (without bulky tokenizer/state data)."""
    from aigc_studio.core.modelfile import read_card

    path = resolve_model(args.model)
    card = read_card(path)
    data = json.loads(card.to_json())
    if data.get("tokenizer") is not None:
        data["tokenizer"] = "<stored>"
    data.get("extra", {}).pop("training_state", None)
    data["path"] = str(path)
    print(json.dumps(data, indent=2, ensure_ascii=False))
    return 0
