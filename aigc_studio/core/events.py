"""What a job hands back while it runs and when it ends: small typed records, no Qt.

The GUI and the command line dispatch on the record's class. Each record also
answers ``record["field"]`` (and ``record["type"]``), the dict form older
callers used, so a script written against those dicts keeps working.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, ClassVar


class Event:
    """Base of every record: dict-style read access for older callers."""

    type: ClassVar[str] = ""

    def _extra(self) -> dict[str, Any]:
        return {}

    def __getitem__(self, key: str) -> Any:
        if key == "type":
            return self.type
        if key in {f.name for f in fields(self)}:  # type: ignore[arg-type]
            return getattr(self, key)
        return self._extra()[key]

    def get(self, key: str, default: Any = None) -> Any:
        """``record[key]``, or ``default`` when the record has no such field."""
        try:
            return self[key]
        except KeyError:
            return default


@dataclass
class LossPoint(Event):
    """Training losses at one step (``values`` by name, e.g. {"d": .., "g": ..} or {"loss": ..})."""

    type: ClassVar[str] = "loss"
    step: int
    values: dict[str, float]

    def _extra(self) -> dict[str, Any]:
        return self.values


@dataclass
class HeldOutLoss(LossPoint):
    """Loss on the held-out split at one step (``values["loss"]``, plus e.g. nats per character)."""

    type: ClassVar[str] = "val_loss"


@dataclass
class Preview(Event):
    """A picture that shows how training goes (an (H, W, 3) uint8 array)."""

    type: ClassVar[str] = "preview"
    step: int
    image: Any


@dataclass
class Sample(Event):
    """A sample text (or blend) that shows how training goes."""

    type: ClassVar[str] = "sample"
    step: int
    text: str


@dataclass
class TextPiece(Event):
    """A piece of text streamed while it is being generated."""

    type: ClassVar[str] = "token"
    text: str


@dataclass
class TextTrim(Event):
    """Take back the last ``chars`` characters streamed (the repeats of a repetition loop that was cut)."""

    type: ClassVar[str] = "trim"
    chars: int


@dataclass
class TrainingResult(Event):
    """What a finished training run hands back; ``path`` is where the model was saved."""

    type: ClassVar[str] = "trained"
    path: str
    kind: str
    steps: int
    seconds: float
    metrics: dict[str, Any] = field(default_factory=dict)  # final losses and family facts (parameters, …)

    def _extra(self) -> dict[str, Any]:
        return {"out": self.path, **self.metrics}

    def __fspath__(self) -> str:
        return self.path

    def summary(self) -> str:
        """One line for the terminal or the status bar."""
        parts = [f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}" for k, v in self.flat_metrics().items()]
        return f"trained {self.steps} steps in {self.seconds:.0f}s ({', '.join(parts)}) → {self.path}"

    def flat_metrics(self) -> dict[str, Any]:
        """Scalar metrics, nested loss dicts flattened (for one-line summaries)."""
        flat: dict[str, Any] = {}
        for key, value in self.metrics.items():
            if isinstance(value, dict):
                flat.update({k: v for k, v in value.items() if isinstance(v, (int, float, str))})
            elif isinstance(value, (int, float, str)) and value is not None:
                flat[key] = value
        return flat


@dataclass
class Generated(Event):
    """What a generation job hands back: what it made, the seed it used, and where it was saved (if it was).

    ``details`` holds what a medium adds (a fragment's first bar, the model's hash, …);
    ``record["name"]`` reads them too, with the made thing under ``item_name``.
    """

    type: ClassVar[str] = "generated"
    item_name: ClassVar[str] = "items"
    items: Any
    seed: int | None = None
    model: str = ""
    seconds: float = 0.0
    path: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def _extra(self) -> dict[str, Any]:
        return {**self.details, self.item_name: self.items}


@dataclass
class GeneratedImages(Generated):
    """Pictures: ``items`` is a list of ``{"image": uint8 HxWx3, "recipe": dict}``."""


@dataclass
class GeneratedMusic(Generated):
    """New notes: ``items`` is a Song fragment holding only them (also ``record["fragment"]``)."""

    item_name: ClassVar[str] = "fragment"

    @property
    def fragment(self) -> Any:
        """The generated notes as a Song fragment aligned with the document's tracks."""
        return self.items


@dataclass
class GeneratedText(Generated):
    """Text: ``items`` is the generated continuation (also ``record["text"]``)."""

    item_name: ClassVar[str] = "text"

    @property
    def text(self) -> str:
        """The generated continuation (without the prompt)."""
        return self.items


@dataclass
class JobError(Event):
    """A failure as it crosses to the GUI: what kind, the user's message, and the file it concerns (if any)."""

    type: ClassVar[str] = "error"
    kind: str  # "input", "model-file", "out-of-memory", "internal"
    message: str
    file: str | None = None

    def __str__(self) -> str:
        return self.message

    @classmethod
    def from_exception(cls, exc: BaseException, message: str | None = None) -> JobError:
        """Classify ``exc`` (our own errors by class, allocation failures, anything else is internal)."""
        from aigc_studio.core.oom import is_out_of_memory
        from aigc_studio.errors import InputError, ModelFileError, StudioError

        if isinstance(exc, ModelFileError):
            kind = "model-file"
        elif isinstance(exc, InputError):
            kind = "input"
        elif is_out_of_memory(exc):
            kind = "out-of-memory"
        elif isinstance(exc, StudioError):
            kind = "user"
        else:
            kind = "internal"
        file = getattr(exc, "path", None) or getattr(exc, "filename", None)
        return cls(kind, message if message is not None else str(exc), str(Path(file)) if file else None)
