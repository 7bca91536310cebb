"""The settings every training run shares: run length, batch, schedule, reporting and card fields.

Torch-free, so that dialogs can build them. Each model family subclasses
:class:`TrainSettings` with its own architecture and method fields; the shared
fields have the same names in every studio, on the command line and in checkpoints.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any, ClassVar, TypeVar

from aigc_studio.errors import InputError

S = TypeVar("S", bound="TrainSettings")

# What a resumed run takes from the new command rather than the checkpoint: how long, where, from
# what data, and how it reports. Everything else (sizes, rates, seeds, batch) stays as it was.
RUN_FIELDS = ("steps", "out", "resume", "data", "checkpoint_every", "log_every")


@dataclass
class TrainSettings:
    """The run and card fields of every trainer (a family's settings add their own after these)."""

    data: Any = ""  # a folder (image) or a list of files and folders (text, music)
    out: str = ""
    steps: int = 1000
    resume: str | None = None
    batch_size: int = 16
    lr: float | None = None  # None: the family's default
    min_lr: float | None = None  # cosine decay to this at the last step; None: no schedule after warm-up
    warmup: int = 0  # linear warm-up steps
    grad_clip: float = 0.0  # clip the gradient norm to this (0 = no clipping)
    seed: int = 1337
    checkpoint_every: int = 200  # 0 = only at the end
    log_every: int = 0  # print a "step N/M" line every N steps (0 = never)
    loss_every: int = 1  # a loss point every N steps (0 = about 400 points over the run)
    eval_every: int = 0  # held-out loss every N steps (0 = never)
    sample_every: int = 0  # a preview (picture grid, sample text) every N steps (0 = never)
    evaluate_at_end: bool = True  # a short evaluation on the held-out data, stored in the card (evaluate/card.py)
    name: str = ""
    description: str = ""
    license: str = ""
    data_sources: str = ""

    # Names older versions used, as they appear in saved settings (checkpoints, settings files).
    OLD_NAMES: ClassVar[dict[str, str]] = {"batch": "batch_size", "preview_every": "sample_every"}

    @classmethod
    def from_dict(cls: type[S], data: dict[str, Any]) -> S:
        """Rebuild from :meth:`to_dict` output, accepting old field names and ignoring unknown keys."""
        names = {f.name for f in fields(cls)}
        renamed = {cls.OLD_NAMES.get(k, k): v for k, v in data.items() if k not in cls.OLD_NAMES}
        for old, new in cls.OLD_NAMES.items():  # an old name fills in only where the new one is absent
            if old in data and new not in renamed:
                renamed[new] = data[old]
        return cls(**{k: v for k, v in renamed.items() if k in names})

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form stored in the checkpoint."""
        return asdict(self)

    def check(self) -> None:
        """Raise InputError for settings that cannot work."""
        if self.steps < 1:
            raise InputError("Steps must be at least 1.")
        if self.batch_size < 1:
            raise InputError("Batch size must be at least 1.")
        if self.checkpoint_every < 0:
            raise InputError("The checkpoint interval must be 0 (only at the end) or more steps.")
        if not self.out:
            raise InputError("Choose an output file for the trained model.")

    def loss_interval(self) -> int:
        """Steps between loss points (``loss_every``, or about 400 points over the run when it is 0)."""
        return self.loss_every or max(1, self.steps // 400)


def resumed_settings(saved: dict[str, Any], current: S) -> S:
    """The checkpoint's settings with the run fields of ``current`` put in (its data only when it names some)."""
    merged = type(current).from_dict(saved)
    for name in RUN_FIELDS:
        value = getattr(current, name)
        if name == "data" and not value:
            continue
        setattr(merged, name, value)
    return merged


def get_lr(step: int, s: TrainSettings) -> float | None:
    """Linear warm-up, then cosine decay to ``min_lr`` at the last step; None when the run has no schedule."""
    if s.lr is None or (s.warmup <= 0 and s.min_lr is None):
        return None
    if step < s.warmup:
        return s.lr * (step + 1) / s.warmup
    if s.min_lr is None:
        return s.lr
    import math

    progress = min(1.0, (step - s.warmup) / max(1, s.steps - s.warmup))
    return s.min_lr + 0.5 * (s.lr - s.min_lr) * (1 + math.cos(math.pi * progress))
