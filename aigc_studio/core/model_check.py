"""Check a model file the user picked by building it exactly as a job would.

Reading the card proves the file is one of ours; only building the network
proves that its tensors fit the architecture in the card. This runs on the
engine thread (it imports torch and the model families).
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from aigc_studio.core.jobs import JobContext
from aigc_studio.core.modelfile import ModelCard, read_card

# The loader each job uses for a kind: (module, function(path, device)).
LOADERS = {
    "image-gan": ("aigc_studio.image.model", "load_image_model"),
    "image-vae": ("aigc_studio.image.model", "load_image_model"),
    "text-gpt": ("aigc_studio.text.gpt", "load_gpt"),
    "text-vae": ("aigc_studio.text.vae", "load_vae"),
    "music-transformer": ("aigc_studio.music.event_model", "load_music_transformer"),
    "music-vae": ("aigc_studio.music.vae", "load_music_vae"),
}


def build_model(path: str | Path, kinds: tuple[str, ...] | None = None) -> tuple[ModelCard, Any]:
    """Load ``path`` on the CPU with its kind's loader; raises ModelFileError naming what does not fit."""
    card = read_card(path, kinds)
    module, function = LOADERS[card.kind]
    loader = getattr(importlib.import_module(module), function)
    return card, loader(Path(path), "cpu")


class CheckModelJob:
    """Build a picked model once so that a file whose weights contradict its card is refused at once."""

    def __init__(self, path: str | Path, kinds: tuple[str, ...] | None = None) -> None:
        self.path = Path(path)
        self.kinds = kinds
        self.title = f"Check {self.path.name}"

    def run(self, ctx: JobContext) -> ModelCard:
        """Returns the card when the model builds."""
        ctx.progress(None, f"Checking {self.path.name}")
        card, _ = build_model(self.path, self.kinds)
        return card
