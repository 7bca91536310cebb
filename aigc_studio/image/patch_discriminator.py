"""A patch discriminator that sharpens VAE reconstructions (the adversarial term of VAE-GAN / VQGAN).

Pixel and structure losses are satisfied by a slightly blurred average; a discriminator that judges
overlapping patches (each logit sees about 30 px at 64 px) penalises exactly that softness, without a
downloaded perceptual network. Spectral norm and a hinge loss keep it stable on small data; it only
joins after ``start`` steps, once reconstructions are roughly right (VQGAN starts it late too).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.nn import functional as F
from torch.nn.utils.parametrizations import spectral_norm


class PatchDiscriminator(nn.Module):
    """Strided 4x4 convolutions down to a map of logits, one per overlapping patch (pix2pix's PatchGAN)."""

    def __init__(self, channels: int = 32, layers: int = 3) -> None:
        super().__init__()
        blocks: list[nn.Module] = []
        cin = 3
        for i in range(layers):
            cout = channels * 2**i
            blocks += [spectral_norm(nn.Conv2d(cin, cout, 4, stride=2, padding=1)), nn.LeakyReLU(0.2)]
            cin = cout
        blocks.append(spectral_norm(nn.Conv2d(cin, 1, 3, padding=1)))
        self.net = nn.Sequential(*blocks)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Images in [-1, 1] -> (N, 1, H/8, W/8) patch logits."""
        return self.net(x)


class AdversarialTerm:
    """The patch discriminator, its optimiser and the two hinge losses, for a VAE trainer to call."""

    def __init__(self, channels: int, lr: float, start: int, device: torch.device) -> None:
        self.d = PatchDiscriminator(channels).to(device)
        self.opt = torch.optim.Adam(self.d.parameters(), lr=lr, betas=(0.5, 0.99))
        self.start = start

    def active(self, step: int) -> bool:
        """True once the reconstructions have had ``start`` steps on their own."""
        return step >= self.start

    def discriminator_step(self, real: torch.Tensor, fake: torch.Tensor) -> float:
        """One hinge update of D on real pictures and (detached) reconstructions; returns its loss."""
        self.d.requires_grad_(True)
        logits = self.d(torch.cat([real, fake.detach()]))
        n = real.shape[0]
        loss = F.relu(1.0 - logits[:n]).mean() + F.relu(1.0 + logits[n:]).mean()
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        return float(loss.detach())

    def generator_loss(self, fake: torch.Tensor) -> torch.Tensor:
        """The reconstruction's adversarial loss (gradients flow to the VAE, not to D)."""
        self.d.requires_grad_(False)
        return -self.d(fake).mean()

    def state(self) -> dict[str, Any]:
        """Weights and optimiser for an exact resume."""
        return {"d": self.d.state_dict(), "opt_d": self.opt.state_dict()}

    def load_state(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state`."""
        self.d.load_state_dict(state["d"])
        self.opt.load_state_dict(state["opt_d"])
