"""A convolutional VAE for 32-256 px images, with an L1 + SSIM reconstruction loss.

Why L1 + SSIM: a pixel loss alone (L2 especially) rewards the average of all
plausible images, which is the grey-blurry look. SSIM compares local means,
contrast and structure in 11x11 windows, so washed-out edges and flat contrast
cost extra. It needs no pretrained network (nothing to download, works offline),
is cheap on the CPU and is stable, unlike an adversarial term on tiny data.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from aigc_studio.errors import InputError

RESOLUTIONS = (32, 64, 128, 256)


@dataclass
class VAEConfig:
    """Architecture and loss weights of a VAE; stored in the model card."""

    resolution: int = 64
    latent_dim: int = 64
    channels: int = 16  # channels at full resolution; doubles per halving up to max_channels
    max_channels: int = 256
    ssim_weight: float = 0.5
    kl_weight: float = 0.5  # per image, against reconstruction losses summed over pixels
    kl_warmup: int = 2000  # steps over which the KL weight ramps up from 0 (avoids posterior collapse)
    ssim_scales: int = 1  # SSIM averaged over this many scales (full, 1/2, 1/4 ...): multi-scale structure
    adv_weight: float = 0.0  # weight of the patch discriminator's loss (0: none, as older files)
    adv_start: int = 0  # steps before the discriminator joins
    adv_channels: int = 32  # width of the patch discriminator's first layer

    def check(self) -> None:
        """Raise InputError for a configuration we cannot build."""
        if self.resolution not in RESOLUTIONS:
            raise InputError(f"Resolution {self.resolution} is not supported; choose one of {RESOLUTIONS}.")

    def width(self, res: int) -> int:
        """Channels at resolution ``res``."""
        return min(self.max_channels, self.channels * self.resolution // res)


# What a fresh run trains (the dataclass defaults stay those of older files): structure compared at three
# scales, a patch discriminator once the reconstructions are roughly right, and for "small" a wider code (128,
# the first starter had 64: too few numbers to hold the details of thousands of different pictures).
RECIPE = dict(ssim_weight=1.0, ssim_scales=3, adv_weight=0.05, adv_start=300)
SIZE_PRESETS = {
    "tiny": dict(channels=8, max_channels=128, latent_dim=32, **RECIPE),
    "small": dict(channels=16, max_channels=128, latent_dim=128, **RECIPE),
    "medium": dict(channels=32, max_channels=512, latent_dim=256, **RECIPE),
}


def _he_init(module: nn.Module) -> None:
    """He init, zero biases: PyTorch's default init shrinks the signal ~6x per layer, so after a dozen layers
    without normalisation every input encodes alike and the decoder settles on the mean (white) picture."""
    if isinstance(module, (nn.Linear, nn.Conv2d)):
        nn.init.kaiming_normal_(module.weight, a=0.2, nonlinearity="leaky_relu")
        if module.bias is not None:
            nn.init.zeros_(module.bias)


class ConvVAE(nn.Module):
    """Encoder: strided convs to 4x4 -> (mu, logvar). Decoder: upsample + convs -> RGB in [-1, 1]."""

    def __init__(self, config: VAEConfig) -> None:
        super().__init__()
        config.check()
        self.config = config
        enc: list[nn.Module] = [nn.Conv2d(3, config.width(config.resolution), 3, padding=1), nn.LeakyReLU(0.2)]
        res = config.resolution
        while res > 4:
            enc += [nn.Conv2d(config.width(res), config.width(res // 2), 4, stride=2, padding=1), nn.LeakyReLU(0.2)]
            res //= 2
        self.encoder = nn.Sequential(*enc)
        c4 = config.width(4)
        self.to_stats = nn.Linear(c4 * 16, 2 * config.latent_dim)
        self.from_latent = nn.Linear(config.latent_dim, c4 * 16)
        dec: list[nn.Module] = []
        res = 4
        while res < config.resolution:
            dec += [
                nn.Upsample(scale_factor=2.0, mode="nearest"),
                nn.Conv2d(config.width(res), config.width(res * 2), 3, padding=1),
                nn.LeakyReLU(0.2),
            ]
            if res * 2 <= 16:
                dec += [nn.Conv2d(config.width(res * 2), config.width(res * 2), 3, padding=1), nn.LeakyReLU(0.2)]
            res *= 2
        # No tanh: L1 drives the white background to exactly 1, where tanh saturates and stops all learning.
        dec += [nn.Conv2d(config.width(config.resolution), 3, 3, padding=1)]
        self.decoder = nn.Sequential(*dec)
        self.apply(_he_init)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Images in [-1, 1] -> (mu, logvar)."""
        h = self.encoder(x).flatten(1)
        mu, logvar = self.to_stats(h).chunk(2, dim=1)
        return mu, logvar.clamp(-10.0, 10.0)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Latents -> images, about [-1, 1] (clamped when converted to pixels)."""
        c4 = self.config.width(4)
        return self.decoder(F.leaky_relu(self.from_latent(z), 0.2).view(z.shape[0], c4, 4, 4))

    def forward(self, x: torch.Tensor, noise: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Reconstruct ``x`` with the reparameterisation trick (``noise`` ~ N(0, 1), drawn by the caller)."""
        mu, logvar = self.encode(x)
        z = mu + noise * torch.exp(0.5 * logvar)
        return self.decode(z), mu, logvar


def _gaussian_window(size: int = 11, sigma: float = 1.5) -> torch.Tensor:
    coords = torch.arange(size, dtype=torch.float32) - size // 2
    g = torch.exp(-(coords**2) / (2 * sigma**2))
    g = g / g.sum()
    return g[:, None] * g[None, :]


def ssim(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Mean SSIM per image of two batches in [-1, 1] (computed on [0, 1])."""
    a, b = (a + 1) / 2, (b + 1) / 2
    channels = a.shape[1]
    window = _gaussian_window().to(a.device, a.dtype).expand(channels, 1, 11, 11).contiguous()

    def blur(x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, window, groups=channels)

    mu_a, mu_b = blur(a), blur(b)
    var_a = blur(a * a) - mu_a**2
    var_b = blur(b * b) - mu_b**2
    cov = blur(a * b) - mu_a * mu_b
    c1, c2 = 0.01**2, 0.03**2
    score = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2))
    return score.mean(dim=[1, 2, 3])


def multiscale_ssim(a: torch.Tensor, b: torch.Tensor, scales: int = 3) -> torch.Tensor:
    """Mean SSIM per image over ``scales`` scales (each half the size of the one before, down to 16 px at least)."""
    scores = [ssim(a, b)]
    for _ in range(scales - 1):
        if a.shape[-1] < 32:
            break
        a, b = F.avg_pool2d(a, 2), F.avg_pool2d(b, 2)
        scores.append(ssim(a, b))
    return torch.stack(scores).mean(dim=0)


def vae_losses(
    config: VAEConfig,
    x: torch.Tensor,
    recon: torch.Tensor,
    mu: torch.Tensor,
    logvar: torch.Tensor,
    step: int | None = None,
) -> dict[str, torch.Tensor]:
    """Loss terms per pixel: ``l1``, ``ssim`` (1 - SSIM), ``kl`` and their weighted ``total`` (KL warm-up by ``step``)."""
    pixels = x[0].numel()
    l1 = (x - recon).abs().mean()
    structure = (
        1.0 - (ssim(x, recon) if config.ssim_scales <= 1 else multiscale_ssim(x, recon, config.ssim_scales)).mean()
    )
    kl = (-0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum(dim=1)).mean() / pixels
    ramp = 1.0 if step is None or config.kl_warmup <= 0 else min(1.0, step / config.kl_warmup)
    total = l1 + config.ssim_weight * structure + config.kl_weight * ramp * kl
    return {"total": total, "l1": l1, "ssim": structure, "kl": kl * pixels}
