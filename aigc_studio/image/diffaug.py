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
    """Shift each image by up to ``ratio`` of its size, filling with zeros."""
    n, _, h, w = x.shape
    sx, sy = int(h * ratio + 0.5), int(w * ratio + 0.5)
    tx = _randint(gen, -sx, sx + 1, (n, 1, 1), x.device)
    ty = _randint(gen, -sy, sy + 1, (n, 1, 1), x.device)
    gb, gx, gy = torch.meshgrid(
        torch.arange(n, device=x.device),
        torch.arange(h, device=x.device),
        torch.arange(w, device=x.device),
        indexing="ij",
    )
    gx = torch.clamp(gx + tx + 1, 0, h + 1)
    gy = torch.clamp(gy + ty + 1, 0, w + 1)
    padded = F.pad(x, [1, 1, 1, 1])
    return padded.permute(0, 2, 3, 1).contiguous()[gb, gx, gy].permute(0, 3, 1, 2)


def rand_cutout(x: torch.Tensor, gen: torch.Generator, ratio: float = 0.5) -> torch.Tensor:
    """Zero a random square of ``ratio`` of the image size in each image."""
    n, _, h, w = x.shape
    ch, cw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    ox = _randint(gen, 0, h + (1 - ch % 2), (n, 1, 1), x.device)
    oy = _randint(gen, 0, w + (1 - cw % 2), (n, 1, 1), x.device)
    gb, gx, gy = torch.meshgrid(
        torch.arange(n, device=x.device),
        torch.arange(ch, device=x.device),
        torch.arange(cw, device=x.device),
        indexing="ij",
    )
    gx = torch.clamp(gx + ox - ch // 2, min=0, max=h - 1)
    gy = torch.clamp(gy + oy - cw // 2, min=0, max=w - 1)
    mask = torch.ones(n, h, w, dtype=x.dtype, device=x.device)
    mask[gb, gx, gy] = 0
    return x * mask.unsqueeze(1)


_OPS = {"color": rand_color, "translation": rand_translation, "cutout": rand_cutout}


def diff_augment(x: torch.Tensor, policy: str, gen: torch.Generator) -> torch.Tensor:
    """Apply the comma-separated ``policy`` (e.g. ``color,translation,cutout``); empty policy = identity."""
    for name in [p.strip() for p in policy.split(",") if p.strip()]:
        if name not in _OPS:
            raise ValueError(f"unknown DiffAugment op {name!r}")
        x = _OPS[name](x, gen)
    return x.contiguous()
