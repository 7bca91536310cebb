"""The evaluation job: sample a model, measure the samples and the reference the same way, assemble the JSON.

One job for all six model kinds; the studio-specific measures live in ``images``, ``text`` and
``music`` behind the small interface in ``base``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aigc_studio.errors import InputError

FORMAT = "aigc-studio-evaluation"
VERSION = 1
SECTIONS = ("quality", "diversity", "novelty", "efficiency")
REFERENCE_LIMIT = {"image": 2000, "text": 1, "music": 400}


@dataclass
class Evaluation:
    """The figures (``figures`` is the JSON document) and the nearest pairs for the report and the dialog."""

    figures: dict[str, Any]
    pairs: list[Any] = field(default_factory=list)
    kind: str = ""

    @property
    def warning(self) -> str:
        """The memorisation warning in plain words ('' when there is none)."""
        return self.figures.get("memorisation", {}).get("warning", "")


def studio_for(kind: str) -> Any:
    """The evaluator for a model kind."""
    if kind.startswith("image"):
        from aigc_studio.evaluate.images import ImageStudio

        return ImageStudio()
    if kind.startswith("text"):
        from aigc_studio.evaluate.text import TextStudio

        return TextStudio()
    if kind.startswith("music"):
        from aigc_studio.evaluate.music import MusicStudio

        return MusicStudio()
    raise InputError(f"Cannot evaluate a model of kind {kind!r}.")


def model_kind(ref: str) -> str:
    """The kind of a model name, file or Hugging Face folder (refusing anything else with one clear line)."""
    path = Path(str(ref)).expanduser()
    if path.is_dir():
        from aigc_studio.text.hf import is_hf_folder

        if not is_hf_folder(path):
            raise InputError(f"{path} is a folder but not a Hugging Face model folder (no config.json).")
        return "text-gpt"
    from aigc_studio.core.modelfile import read_card
    from aigc_studio.core.registry import resolve_model

    return read_card(resolve_model(str(ref))).kind


@dataclass
class EvaluateJob:
    """Evaluate ``model`` on ``data`` (optional): ``samples`` samples from ``seed``."""

    model: str
    data: str | None = None
    samples: int = 64
    seed: int = 0
    psi: float = 1.0
    reference: Any = None  # a Reference already in memory (a trainer's held-out split) instead of ``data``
    quick: bool = False  # fewer held-out tokens and shorter text samples: the short evaluation after training
    title: str = "Evaluate model"

    def run(self, ctx: Any) -> Evaluation:
        """Load, read the reference, measure it against itself, sample, measure the samples."""
        if not 4 <= self.samples <= 4096:
            raise InputError("Samples must be between 4 and 4096.")
        kind = model_kind(self.model)
        studio = studio_for(kind)
        if kind.startswith("image"):
            studio.psi = self.psi
        if self.quick:
            studio.quick = True
        if self.data and self.reference is None:
            _check_data_path(self.data)
        ctx.progress(0.0, "Loading the model")
        loaded = studio.load(self.model, ctx)
        whole = ctx
        reference, baseline = self.reference, None
        family = kind.split("-")[0]
        if reference is None and self.data:
            ctx = Phase(whole, 0.02, 0.15)
            reference = studio.read_reference(self.data, loaded, ctx, REFERENCE_LIMIT[family], self.seed)
            if len(reference) < 2 and reference.what != "characters of text":
                raise InputError(f"{self.data} holds only {len(reference)} item(s); the comparison needs at least 2.")
        from aigc_studio.evaluate import efficiency

        watch = efficiency.Stopwatch(whole.device)
        with watch:
            samples, units = studio.sample(loaded, self.samples, Phase(whole, 0.15, 0.6), self.seed)
        if reference is not None:
            fake, rest = _split(studio, reference, len(samples), self.seed, samples)
            baseline = studio.measure(fake, rest, None, Phase(whole, 0.6, 0.7, "Reference vs itself: "), None)
        measured = studio.measure(samples, reference, loaded, Phase(whole, 0.7, 1.0, "Samples: "), baseline)
        ctx = whole
        figures = {
            "format": FORMAT,
            "version": VERSION,
            "model": {"name": loaded.name, "kind": loaded.kind, "hash": loaded.hash, "path": str(loaded.path)},
            "reference": _reference_block(reference, self.data),
            "settings": {
                "samples": len(samples),
                "seed": self.seed,
                **({"psi": self.psi} if family == "image" else {}),
            },
            "quality": measured.quality,
            "diversity": measured.diversity,
            "novelty": measured.novelty,
            "efficiency": efficiency.figures(watch, units, studio.unit, loaded.parameters, loaded.path, ctx.device),
            "reference_figures": (
                {
                    "quality": baseline.quality,
                    "diversity": baseline.diversity,
                    "novelty": {k: v for k, v in baseline.novelty.items() if k != "nearest"},
                    "how": "Reference column: the reference measured against itself, reference items posing as samples "
                    f"({min(len(samples), len(reference) // 2) if reference.what != 'characters of text' else len(samples)}"
                    " of them) compared with the rest of the reference",
                }
                if baseline
                else {}
            ),
            "units": measured.units,
            "missing": measured.missing,
            "memorisation": _memorisation(measured, len(samples)),
            "evaluated_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        ctx.progress(1.0, "Done")
        return Evaluation(figures, measured.pairs, loaded.kind)


class Phase:
    """A view of the job's context whose progress runs over [low, high] of the whole bar.

    A report without a fraction keeps the bar where it is and shows the message.
    """

    def __init__(self, ctx: Any, low: float, high: float, prefix: str = "") -> None:
        self._ctx, self.low, self.high, self.prefix = ctx, low, high, prefix
        self._last = low
        ctx.progress(low, prefix.rstrip(": ") or "")

    def __getattr__(self, name: str) -> Any:
        return getattr(self._ctx, name)

    def progress(self, fraction: float | None, message: str = "", preview: Any = None) -> None:
        """Report ``fraction`` of this phase."""
        if fraction is not None:
            self._last = self.low + (self.high - self.low) * min(1.0, max(0.0, fraction))
        self._ctx.progress(self._last, self.prefix + message, preview)


def _split(studio: Any, reference: Any, count: int, seed: int, samples: list[Any]) -> tuple[list[Any], Any]:
    if reference.what == "characters of text":  # stretches as long as the samples
        length = int(sum(len(s) for s in samples) / max(1, len(samples)))
        return studio.split(reference, count, seed, length)
    return studio.split(reference, count, seed)


def _check_data_path(data: str) -> None:
    path = Path(data).expanduser()
    if not path.exists():
        raise InputError(f"Reference data not found: {path}")
    if path.is_dir() and not any(p.is_file() for p in path.rglob("*")):
        raise InputError(f"The reference folder {path} is empty; choose a folder with the data to compare with.")


def _reference_block(reference: Any, data: str | None) -> dict[str, Any]:
    if reference is None:
        return {"path": None, "items": 0, "what": "none: figures that need reference data are missing"}
    return {
        "path": str(data),
        "items": len(reference) if reference.what != "characters of text" else reference.total,
        "what": reference.what,
        "available": reference.total,
    }


def _memorisation(measured: Any, count: int) -> dict[str, Any]:
    if not measured.memorised_rule:
        return {"samples": None, "warning": ""}
    warning = ""
    if measured.memorised:
        warning = (
            f"{measured.memorised} of {count} samples look copied from the reference data: each is "
            f"{measured.memorised_rule}. If the reference is the training data, the model has memorised it."
        )
    return {"samples": measured.memorised, "rule": measured.memorised_rule, "warning": warning}
