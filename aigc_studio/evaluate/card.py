"""The short evaluation stored in a model card after training, and its headline for lists and tooltips.

Trainers call :func:`evaluate_for_card` at the end of a run with their held-out split (a folder
or file, or the items in memory); the figures go into the card's ``evaluation`` field.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aigc_studio.evaluate.job import REFERENCE_LIMIT as REFERENCE_CAP

CARD_EVALUATION_VERSION = 1
CARD_SAMPLES = 16  # a glance, not a study: `aigc-studio evaluate` draws more
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
        images = _spread(list(items), REFERENCE_CAP["image"])
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
    songs = _spread(list(items), REFERENCE_CAP["music"])
    return Reference(what, songs, [f"held-out piece {i + 1}" for i in range(len(songs))], "MIDI pieces", len(songs))


def _spread(items: list[Any], cap: int) -> list[Any]:
    """At most ``cap`` items, evenly spread over the list."""
    if len(items) <= cap:
        return items
    return [items[int(i * len(items) / cap)] for i in range(cap)]


def evaluate_for_card(
    model_path: str | Path, kind: str, heldout: Any, ctx: Any, samples: int = 32, seed: int = 0
) -> dict[str, Any]:
    """Evaluate a just-saved model on its held-out data; returns the card's ``evaluation``.

    ``heldout`` is a ``Path`` (file or folder) or the items: images (N, H, W, 3), the text (a str),
    sentences (text-vae) or songs.
    """
    from aigc_studio.evaluate.job import EvaluateJob

    job = EvaluateJob(str(model_path), samples=samples, seed=seed, quick=True)
    if isinstance(heldout, Path):  # a file or folder; a str is held-out *text*
        job.data = str(heldout)
    elif heldout is not None:
        job.reference = in_memory_reference(kind, heldout)
    return card_evaluation(job.run(ctx).figures)


def card_samples(steps: int) -> int:
    """Samples for the card's evaluation: a short run (a test, a quick try) gets a shorter look."""
    return max(4, min(CARD_SAMPLES, steps // 25))


def evaluate_after_training(
    model_path: str | Path, kind: str, heldout: Any, ctx: Any, what: str, samples: int = CARD_SAMPLES
) -> dict | None:
    """The short evaluation at the end of a training run, or None (logged) when it cannot be made.

    A run's model is already saved when this runs: a failure or a Cancel here only leaves the card
    without figures, never loses the training.
    """
    from aigc_studio.errors import Cancelled, StudioError

    if heldout is None or (hasattr(heldout, "__len__") and len(heldout) < 2):
        ctx.log("No evaluation in the card: too little held-out data.")
        return None
    try:
        job_ctx = _Relabelled(ctx, "Evaluating on the " + what + ": ")
        evaluation = evaluate_for_card(model_path, kind, heldout, job_ctx, samples=samples)
    except Cancelled:
        ctx.log("Evaluation skipped (cancelled); the model is saved without figures in its card.")
        return None
    except (StudioError, ValueError) as exc:
        ctx.log(f"Evaluation skipped: {exc}")
        return None
    evaluation["reference"]["what"] = f"{what} ({evaluation['reference'].get('what')})"
    summary = headline(evaluation, kind)
    if summary:
        ctx.log(f"Evaluation on the {what}: {summary}")
    if warning := evaluation.get("memorisation", {}).get("warning"):
        ctx.log(f"Warning: {warning}")
    return evaluation


class _Relabelled:
    """The training job's context for the evaluation: progress stays at the end of the bar, messages say why."""

    def __init__(self, ctx: Any, prefix: str) -> None:
        self._ctx, self._prefix = ctx, prefix

    def __getattr__(self, name: str) -> Any:
        return getattr(self._ctx, name)

    def progress(self, fraction: float | None, message: str = "", preview: Any = None) -> None:
        """Show the evaluation's message; the bar stays full (training is done)."""
        self._ctx.progress(1.0, self._prefix + message)


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
