"""What GAN and VAE training share: settings, batches, RNG state, OOM handling, preview grids."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from aigc_studio.image.dataset import ImageDataset, load_image_folder
from aigc_studio.image.settings import ImageTrainSettings

LOSS_HISTORY_LIMIT = 4000  # points kept in the checkpoint for the loss curves after a resume


class BatchSource:
    """Random batches (with replacement) from an in-memory image tensor, drawn on a CPU generator."""

    def __init__(self, dataset: ImageDataset, flip: bool, seed: int) -> None:
        self.images = torch.from_numpy(dataset.images).permute(0, 3, 1, 2).contiguous()  # uint8 N,3,H,W
        self.flip = flip
        self.generator = torch.Generator().manual_seed(seed)

    def __len__(self) -> int:
        return int(self.images.shape[0])

    def sample(self, batch: int, device: torch.device) -> torch.Tensor:
        """A float batch in [-1, 1] on ``device``."""
        idx = torch.randint(len(self), (batch,), generator=self.generator)
        x = self.images[idx].float() / 127.5 - 1.0
        if self.flip:
            mirror = torch.rand(batch, generator=self.generator) < 0.5
            x = torch.where(mirror[:, None, None, None], x.flip(3), x)
        return x.to(device)


def read_dataset(settings: ImageTrainSettings, ctx: Any) -> ImageDataset:
    """Load the training folder, reporting progress and skipped files through ``ctx``."""
    return load_image_folder(
        settings.data,
        settings.resolution,
        settings.fit,
        log=ctx.log,
        check_cancelled=ctx.check_cancelled,
        progress=lambda f, m: ctx.progress(f * 0.02, m),
    )


def generator_states(**gens: torch.Generator) -> dict[str, torch.Tensor]:
    """The states of named CPU generators (plus torch's global RNG) for a checkpoint."""
    states = {name: g.get_state() for name, g in gens.items()}
    states["torch_global"] = torch.get_rng_state()
    return states


def restore_generators(states: dict[str, torch.Tensor], **gens: torch.Generator) -> None:
    """Put generator states from a checkpoint back."""
    for name, g in gens.items():
        g.set_state(states[name])
    torch.set_rng_state(states["torch_global"])


def image_grid(images: np.ndarray, columns: int | None = None, pad: int = 2, background: int = 255) -> np.ndarray:
    """(N, H, W, 3) uint8 -> one (rows*H, cols*W, 3) uint8 mosaic with ``pad`` px gaps."""
    n, h, w, c = images.shape
    columns = columns or max(1, int(math.ceil(math.sqrt(n))))
    rows = int(math.ceil(n / columns))
    grid = np.full((rows * h + (rows + 1) * pad, columns * w + (columns + 1) * pad, c), background, np.uint8)
    for i in range(n):
        r, col = divmod(i, columns)
        y, x = pad + r * (h + pad), pad + col * (w + pad)
        grid[y : y + h, x : x + w] = images[i]
    return grid


def check_resume_data(state: dict[str, Any], dataset: ImageDataset, ctx: Any) -> None:
    """Warn when the data changed since the checkpoint: the run continues but is no longer an exact resume."""
    if state.get("dataset_hash") and state["dataset_hash"] != dataset.hash:
        ctx.log(
            "Warning: the images differ from the ones this checkpoint was trained on "
            f"({state.get('dataset_size', '?')} then, {len(dataset)} now); continuing on the new images."
        )
