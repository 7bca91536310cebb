"""Write a music model's decoding limits, voices and recommended sampling settings into its card.

Usage:
  python resources/recipes/music/card_limits.py MODEL.safetensors --data DIR          # measured from the data
  python resources/recipes/music/card_limits.py MODEL.safetensors --max-onset 4 --max-sounding 4 --programs 0 \\
      --voices Soprano,Alto,Tenor,Bass --voice-program 52 --temperature 0.9 --top-p 0.8 --note "..."

``--data`` counts, over the tokenised MIDI files, the most notes at one onset, the most notes
sounding at once and the programs used (what the decoder then allows). Explicit options override
the measured figures (the chorales: 4 voices, although a few chorales with instrumental parts
have more). The weights are copied unchanged; the card's content hash is recomputed.
"""

from __future__ import annotations

import argparse
import json


def main(argv: list[str] | None = None) -> None:
    """Rewrite the model file's card in place (atomically)."""
    from aigc_studio.core.modelfile import load_model, save_model
    from aigc_studio.music.dataset import song_limits
    from aigc_studio.music.tokenizer import MusicTokenizer

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("model")
    p.add_argument("--data", default=None, help="MIDI folder to measure the limits on")
    p.add_argument("--max-onset", type=int, default=None)
    p.add_argument("--max-sounding", type=int, default=None)
    p.add_argument("--programs", default=None, help="comma-separated GM programs (128 = drums)")
    p.add_argument("--voices", default=None, help="voice names, top first, e.g. Soprano,Alto,Tenor,Bass")
    p.add_argument("--voice-program", type=int, default=52, help="GM program of the voice tracks")
    p.add_argument("--temperature", type=float, default=None)
    p.add_argument("--top-p", type=float, default=None)
    p.add_argument("--note", default="", help="how the limits were found, for the card")
    p.add_argument("--description", default=None, help="one line for the model list")
    args = p.parse_args(argv)

    card, tensors = load_model(args.model)
    limits = dict((card.extra or {}).get("limits") or {})
    if args.data:
        from aigc_studio.music.dataset import load_corpus

        corpus = load_corpus([args.data])
        measured = song_limits([song for _, song in corpus.songs], MusicTokenizer.from_card(card.tokenizer))
        limits.update(measured, measured_on=f"{len(corpus.songs)} MIDI files")
        print("measured:", json.dumps(measured))
    for key, value in (("max_onset_notes", args.max_onset), ("max_sounding_notes", args.max_sounding)):
        if value is not None:
            limits[key] = value
    if args.programs is not None:
        limits["programs"] = sorted(int(p) for p in args.programs.split(","))
    if args.note:
        limits["note"] = args.note
    card.extra = dict(card.extra or {}, limits=limits)
    if args.voices:
        card.extra["voices"] = {"names": args.voices.split(","), "program": args.voice_program, "source_program": 0}
    if args.temperature is not None or args.top_p is not None:
        sampling = dict(card.extra.get("sampling") or {})
        if args.temperature is not None:
            sampling["temperature"] = args.temperature
        if args.top_p is not None:
            sampling["top_p"] = args.top_p
        card.extra["sampling"] = sampling
    if args.description is not None:
        card.description = args.description
    card.content_hash = ""
    save_model(args.model, tensors, card)
    print(
        f"{args.model}: limits {json.dumps(limits)}; voices {card.extra.get('voices')}; "
        f"sampling {card.extra.get('sampling')}"
    )


if __name__ == "__main__":
    main()
