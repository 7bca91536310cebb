"""DiffAugment (Zhao et al. 2020): differentiable colour, translation and cutout.

Applied identically in kind (not in draw) to real and fake images before the
discriminator, so D cannot memorise a small data set. Random numbers come from
an explicit CPU generator, whose state is saved in checkpoints (exact resume).
"""

from __future__ import annotations

import torch
from torch.nn import functional as F

DEFAULT_POLICY = "color,translation,cutout"


def _rand(gen: torch.Generator, shape: tuple[int, ...], device: torch.device) -> torch.Tensor:
    return torch.rand(shape, generator=gen).to(device)


def _randint(gen: torch.Generator, low: int, high: int, shape: tuple[int, ...], device: torch.device) -> torch.Tensor:
    return torch.randint(low, high, shape, generator=gen).to(device)


def rand_color(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Random brightness, saturation and contrast per image."""
    n = x.shape[0]
    x = x + (_rand(gen, (n, 1, 1, 1), x.device) - 0.5)
    mean = x.mean(dim=1, keepdim=True)
    x = (x - mean) * (_rand(gen, (n, 1, 1, 1), x.device) * 2) + mean
    mean = x.mean(dim=[1, 2, 3], keepdim=True)
    return (x - mean) * (_rand(gen, (n, 1, 1, 1), x.device) + 0.5) + mean


def rand_translation(x: torch.Tensor, gen: torch.Generator, ratio: float = 0.125) -> torch.Tensor:
    """Shift each image by up to ``ratio`` of its size, filling with zeros (pad once, crop per image)."""
    n, _, h, w = x.shape
    sx, sy = int(h * ratio + 0.5), int(w * ratio + 0.5)
    tx = torch.randint(-sx, sx + 1, (n,), generator=gen).tolist()
    ty = torch.randint(-sy, sy + 1, (n,), generator=gen).tolist()
    padded = F.pad(x, [sy, sy, sx, sx])
    return torch.stack([padded[i, :, sx + a : sx + a + h, sy + b : sy + b + w] for i, (a, b) in enumerate(zip(tx, ty))])


def rand_cutout(x: torch.Tensor, gen: torch.Generator, ratio: float = 0.5) -> torch.Tensor:
    """Zero a random square of ``ratio`` of the image size in each image (a broadcast mask, no gathers)."""
    n, _, h, w = x.shape
    ch, cw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    ox = _randint(gen, 0, h + (1 - ch % 2), (n, 1, 1), x.device) - ch // 2
    oy = _randint(gen, 0, w + (1 - cw % 2), (n, 1, 1), x.device) - cw // 2
    rows = torch.arange(h, device=x.device).view(1, h, 1)
    cols = torch.arange(w, device=x.device).view(1, 1, w)
    inside = (rows >= ox) & (rows < ox + ch) & (cols >= oy) & (cols < oy + cw)
    return x * (~inside).unsqueeze(1).to(x.dtype)


_OPS = {"color": rand_color, "translation": rand_translation, "cutout": rand_cutout}


def diff_augment(x: torch.Tensor, policy: str, gen: torch.Generator) -> torch.Tensor:
    """Apply the comma-separated ``policy`` (e.g. ``color,translation,cutout``); empty policy = identity."""
    for name in [p.strip() for p in policy.split(",") if p.strip()]:
        if name not in _OPS:
            raise ValueError(f"unknown DiffAugment op {name!r}")
        x = _OPS[name](x, gen)
    return x.contiguous()
