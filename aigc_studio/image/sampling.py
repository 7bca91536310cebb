"""Latent recipes: seeds to noise, variations, interpolation and crossover.

All noise is drawn on a CPU ``torch.Generator`` and only then moved to the
device, so the same seed gives the same latent (and pixels) everywhere.
"""

from __future__ import annotations

import torch


def seed_latent(seed: int, dim: int) -> torch.Tensor:
    """The latent for one seed (A1111-style: image ``i`` of a batch uses ``seed + i``)."""
    gen = torch.Generator().manual_seed(int(seed) & 0xFFFF_FFFF_FFFF_FFFF)
    return torch.randn(dim, generator=gen)


def seed_latents(seed: int, count: int, dim: int) -> torch.Tensor:
    """Latents for seeds ``seed .. seed + count - 1`` as a (count, dim) tensor."""
    return torch.stack([seed_latent(seed + i, dim) for i in range(count)]) if count else torch.zeros(0, dim)


def variations(latent: torch.Tensor, strength: float, count: int, seed: int) -> torch.Tensor:
    """``count`` neighbours of ``latent``: ``sqrt(1 - s^2) z + s n`` keeps the Gaussian scale (s in [0, 1])."""
    s = float(min(1.0, max(0.0, strength)))
    gen = torch.Generator().manual_seed(int(seed))
    noise = torch.randn(count, latent.shape[-1], generator=gen)
    return (1.0 - s * s) ** 0.5 * latent.reshape(1, -1) + s * noise


def lerp(a: torch.Tensor, b: torch.Tensor, t: float) -> torch.Tensor:
    """Linear interpolation."""
    return a + (b - a) * t


def slerp(a: torch.Tensor, b: torch.Tensor, t: float) -> torch.Tensor:
    """Spherical interpolation (stays on the shell where Gaussian latents live)."""
    na, nb = a / a.norm().clamp_min(1e-8), b / b.norm().clamp_min(1e-8)
    omega = torch.acos((na * nb).sum().clamp(-1.0, 1.0))
    if float(omega) < 1e-4:
        return lerp(a, b, t)
    so = torch.sin(omega)
    return torch.sin((1.0 - t) * omega) / so * a + torch.sin(t * omega) / so * b


def interpolate(a: torch.Tensor, b: torch.Tensor, frames: int, mode: str = "slerp") -> torch.Tensor:
    """``frames`` latents from ``a`` to ``b`` inclusive (mode ``lerp`` or ``slerp``)."""
    if frames < 2:
        raise ValueError("interpolation needs at least 2 frames")
    fn = slerp if mode == "slerp" else lerp
    return torch.stack([fn(a.reshape(-1), b.reshape(-1), i / (frames - 1)) for i in range(frames)])


def crossover_mask(count: int, dim: int, seed: int, mix: float = 0.5) -> torch.Tensor:
    """Which latent dimensions each of ``count`` children takes from parent B (probability ``mix``)."""
    gen = torch.Generator().manual_seed(int(seed))
    return torch.rand(count, dim, generator=gen) < mix


def crossover(a: torch.Tensor, b: torch.Tensor, count: int, seed: int, mix: float = 0.5) -> torch.Tensor:
    """``count`` children taking each latent dimension from ``a`` with probability ``1 - mix``, else ``b``."""
    mask = crossover_mask(count, a.shape[-1], seed, mix)
    return torch.where(mask, b.reshape(1, -1), a.reshape(1, -1))


def class_cycle(count: int, classes: int, first: int = 0) -> torch.Tensor:
    """One-hot labels (count, classes) for classes ``first, first + 1, ...`` in turn (every class shows up)."""
    index = (torch.arange(count) + first) % classes
    return torch.nn.functional.one_hot(index, classes).float()


def one_hot(index: int, classes: int, count: int = 1) -> torch.Tensor:
    """``count`` copies of the one-hot label of class ``index``."""
    label = torch.zeros(count, classes)
    label[:, index] = 1.0
    return label
