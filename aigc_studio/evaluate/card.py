"""The short evaluation stored in a model card after training, and its headline for lists and tooltips.

Trainers call :func:`evaluate_for_card` at the end of a run with their held-out split (a folder
or file, or the items in memory); the figures go into the card's ``evaluation`` field.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

CARD_EVALUATION_VERSION = 1
# Per family, the figures worth a glance (first found is shown), in the order shown.
HEADLINE = {
    "image": ("precision_features", "recall_features", "precision_pixel16", "recall_pixel16", "memorised_share"),
    "text": ("held_out_loss_nats_per_char", "held_out_loss_nats_per_token", "real_word_share", "distinct_2",
             "longest_copy_chars_max"),
    "music": ("held_out_loss_nats_per_token", "held_out_reconstruction_nats_per_step", "in_key_share",
              "valid_midi_share", "longest_copied_melody_notes_max"),
}  # fmt: skip


def in_memory_reference(kind: str, items: Any, what: str = "held-out split") -> Any:
    """A Reference from a trainer's held-out items: images (N, H, W, 3), text (a string), sentences or songs."""
    from aigc_studio.evaluate.base import Reference

    if kind.startswith("image"):
        images = list(items)
        res = images[0].shape[0] if images else 0
        return Reference(
            what, images, [f"held-out image {i}" for i in range(len(images))], f"images at {res} px", len(images)
        )
    if kind == "text-vae":
        sentences = list(items)
        return Reference(
            what,
            sentences,
            [f"sentence {i + 1}" for i in range(len(sentences))],
            "sentences",
            len(sentences),
            "\n".join(sentences),
        )
    if kind.startswith("text"):
        return Reference(what, [items], [f"{what}:0"], "characters of text", len(items), items)
    songs = list(items)
    return Reference(what, songs, [f"held-out piece {i + 1}" for i in range(len(songs))], "MIDI pieces", len(songs))


def evaluate_for_card(
    model_path: str | Path, kind: str, heldout: Any, ctx: Any, samples: int = 32, seed: int = 0
) -> dict[str, Any]:
    """Evaluate a just-saved model on its held-out data (a path or items); returns the card's ``evaluation``."""
    from aigc_studio.evaluate.job import EvaluateJob

    job = EvaluateJob(str(model_path), samples=samples, seed=seed, quick=True)
    if isinstance(heldout, (str, Path)):
        job.data = str(heldout)
    elif heldout is not None:
        job.reference = in_memory_reference(kind, heldout)
    return card_evaluation(job.run(ctx).figures)


def card_evaluation(figures: dict[str, Any]) -> dict[str, Any]:
    """The part of a full evaluation that goes into a card (no paths, no snippets of text)."""
    novelty = dict(figures.get("novelty") or {})
    nearest = novelty.pop("nearest", [])
    novelty["nearest"] = [{k: v for k, v in n.items() if k != "copied_text"} for n in nearest[:3]]
    ref = figures.get("reference") or {}
    return {
        "version": CARD_EVALUATION_VERSION,
        "reference": {"what": ref.get("what"), "items": ref.get("items")},
        "settings": figures.get("settings", {}),
        "quality": figures.get("quality", {}),
        "diversity": figures.get("diversity", {}),
        "novelty": novelty,
        "efficiency": figures.get("efficiency", {}),
        "reference_figures": {k: v for k, v in (figures.get("reference_figures") or {}).items() if k != "how"},
        "memorisation": figures.get("memorisation", {}),
        "evaluated_at": figures.get("evaluated_at", ""),
    }


def headline(evaluation: dict[str, Any] | None, kind: str) -> str:
    """'held-out loss 1.41 nats/char · real words 0.89 (ref 0.86) · …' for tooltips and `models list`."""
    if not isinstance(evaluation, dict) or not evaluation:
        return ""
    ref = evaluation.get("reference_figures") or {}
    parts = []
    for name in HEADLINE.get(kind.split("-")[0], ()):
        for section in ("quality", "diversity", "novelty"):
            value = (evaluation.get(section) or {}).get(name)
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                beside = (ref.get(section) or {}).get(name)
                text = f"{name.replace('_', ' ')} {value:.3g}"
                if isinstance(beside, (int, float)) and not isinstance(beside, bool):
                    text += f" (reference {beside:.3g})"
                parts.append(text)
                break
    memo = evaluation.get("memorisation") or {}
    if memo.get("samples"):
        parts.append(f"{memo['samples']} sample(s) look copied")
    return " · ".join(parts)
