"""Training settings of the image studio (torch-free, so the Train dialog can build them)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from aigc_studio.core.train_settings import TrainSettings
from aigc_studio.errors import InputError


@dataclass
class ImageTrainSettings(TrainSettings):
    """Everything the Train dialog and ``aigc-studio train image-*`` can set (shared fields: TrainSettings)."""

    data: str = ""  # the image folder
    out: str = ""
    kind: str = "image-gan"  # or image-vae
    resolution: int = 64
    size: str = "small"  # tiny, small or medium (see gan/vae SIZE_PRESETS)
    steps: int = 2000
    batch_size: int = 32
    lr: float | None = None  # default per kind
    seed: int = 1234
    checkpoint_every: int = 250  # 0 = only at the end
    sample_every: int = 100  # a preview grid every N steps
    loss_every: int = 5
    fit: str = "crop"
    flip: bool = True
    augment: str = "color,translation,cutout"  # GAN only
    ema_decay: float = 0.995  # GAN only
    extra_config: dict[str, Any] = field(default_factory=dict)

    def check(self) -> None:
        """Raise InputError for settings that cannot work."""
        super().check()
        if self.size not in ("tiny", "small", "medium"):
            raise InputError(f"Unknown size preset {self.size!r}; choose tiny, small or medium.")
