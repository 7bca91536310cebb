"""Training settings of the image studio (torch-free, so the Train dialog can build them)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from aigc_studio.errors import InputError


@dataclass
class ImageTrainSettings:
    """Everything the Train dialog and ``aigc-studio train image-*`` can set."""

    data: str
    out: str
    kind: str = "image-gan"  # or image-vae
    resolution: int = 64
    size: str = "small"  # tiny, small or medium (see gan/vae SIZE_PRESETS)
    steps: int = 2000
    batch: int = 32
    lr: float | None = None  # default per kind
    fit: str = "crop"
    flip: bool = True
    augment: str = "color,translation,cutout"  # GAN only
    use_classes: bool = True  # GAN only: class sub-folders give a class-conditional model (False: one pool)
    ema_decay: float = 0.995  # GAN only
    resume: str | None = None
    seed: int = 1234
    checkpoint_every: int = 250  # 0 = only at the end
    log_every: int = 0  # print a "step N/M" line every N steps (0 = never)
    preview_every: int = 100
    loss_every: int = 5
    name: str = ""
    description: str = ""
    license: str = ""
    data_sources: str = ""
    extra_config: dict[str, Any] = field(default_factory=dict)

    def check(self) -> None:
        """Raise InputError for settings that cannot work."""
        if self.steps < 1:
            raise InputError("Steps must be at least 1.")
        if self.batch < 1:
            raise InputError("Batch size must be at least 1.")
        if self.checkpoint_every < 0:
            raise InputError("The checkpoint interval must be 0 (only at the end) or more steps.")
        if not self.out:
            raise InputError("Choose an output file for the trained model.")
        if self.size not in ("tiny", "small", "medium"):
            raise InputError(f"Unknown size preset {self.size!r}; choose tiny, small or medium.")

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form stored in the checkpoint."""
        return asdict(self)
