"""Settings of a music training run (torch-free so that dialogs can build them)."""

from __future__ import annotations

from dataclasses import dataclass, field

from aigc_studio.core.train_settings import TrainSettings


@dataclass
class MusicTrainSettings(TrainSettings):
    """Every knob of a music training run (stored in checkpoints so resume uses the same)."""

    kind: str = "music-transformer"  # or music-vae
    data: list[str] = field(default_factory=list)
    out: str = "music.safetensors"
    steps: int = 1000
    batch_size: int = 16
    lr: float = 1e-3
    min_lr: float = 1e-4
    warmup: int = 50
    grad_clip: float = 1.0
    weight_decay: float = 0.01
    val_fraction: float = 0.1
    eval_every: int = 100
    eval_batches: int = 8
    transpose: int = 5
    # transformer
    layers: int = 4
    heads: int = 4
    width: int = 192
    context: int = 256
    steps_per_beat: int = 4
    infill_fraction: float = 0.5
    # vae
    hidden: int = 256
    latent: int = 32
    beta: float = 0.5


def train_settings_for(kind: str, **overrides) -> MusicTrainSettings:
    """Defaults for ``kind`` with overrides (used by the CLI and the train dialog)."""
    s = MusicTrainSettings(kind=kind)
    if kind == "music-vae":
        s.batch_size, s.lr, s.eval_every = 64, 2e-3, 100
    for key, value in overrides.items():
        if value is not None:
            setattr(s, key, value)
    return s
