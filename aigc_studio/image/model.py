"""Load and save image models (GAN or VAE) and decode latents to pixels.

A GAN file holds the EMA generator (``g_ema.*``) and the truncation centre
``w_avg``; a VAE file holds ``vae.*``. Both carry their config in the card.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch

from aigc_studio.core.modelfile import ModelCard, load_into, load_model
from aigc_studio.core.statefile import model_only
from aigc_studio.errors import InputError, ModelFileError
from aigc_studio.image.gan import GANConfig, Generator, standing_statistics
from aigc_studio.image.vae import ConvVAE, VAEConfig

KINDS = ("image-gan", "image-vae")
DECODE_CHUNK = 8  # decode in fixed-size chunks: the same kernels run whatever the batch, so pixels match


def config_from_card(cls: type, card: ModelCard, path: Path) -> Any:
    """Rebuild a config dataclass from the card, ignoring unknown keys from newer versions."""
    names = {f.name for f in fields(cls)}
    try:
        return cls(**{k: v for k, v in card.config.items() if k in names})
    except (TypeError, InputError) as exc:
        raise ModelFileError(f"{path.name} has an unusable architecture config ({exc}).") from exc


@dataclass
class ImageModel:
    """A loaded GAN or VAE ready to decode latents (and, for a VAE, to encode images)."""

    kind: str
    card: ModelCard
    path: Path
    net: torch.nn.Module
    device: torch.device
    w_avg: torch.Tensor | None = None
    latent_mean: torch.Tensor | None = None  # VAE: Gaussian fitted to the training images' codes
    latent_chol: torch.Tensor | None = None  # Cholesky factor of its covariance

    @property
    def latent_dim(self) -> int:
        """Length of one latent vector (z for a GAN, the VAE latent otherwise)."""
        cfg = self.net.config
        return cfg.z_dim if self.kind == "image-gan" else cfg.latent_dim

    @property
    def resolution(self) -> int:
        """Side of the square output in pixels."""
        return self.net.config.resolution

    @property
    def name(self) -> str:
        """Display name: the card's name or the file name."""
        return self.card.name or self.path.stem

    @torch.no_grad()
    def decode(self, latents: torch.Tensor, psi: float = 1.0, chunk_size: int = DECODE_CHUNK) -> np.ndarray:
        """Latents (N, D) on the CPU -> (N, H, W, 3) uint8. ``psi`` < 1 trades variety for quality.

        ``chunk_size`` is smaller only after running out of memory (pixels may then differ by rounding).
        """
        latents = latents.detach().to(torch.float32).cpu().reshape(-1, self.latent_dim)
        out = []
        for start in range(0, latents.shape[0], chunk_size):
            chunk = latents[start : start + chunk_size]
            real = chunk.shape[0]
            if real < chunk_size:
                chunk = torch.cat([chunk, torch.zeros(chunk_size - real, chunk.shape[1])])
            z = chunk.to(self.device)
            images = (
                self.net(z, psi=psi, w_avg=self.w_avg)
                if self.kind == "image-gan"
                else self.net.decode(self._vae_code(z * psi))
            )
            out.append(to_uint8(images[:real]))
        return np.concatenate(out) if out else np.zeros((0, self.resolution, self.resolution, 3), np.uint8)

    @torch.no_grad()
    def encode(self, images: np.ndarray) -> torch.Tensor:
        """(N, H, W, 3) uint8 at the model's resolution -> standardised latents (N, D) on the CPU (VAE only)."""
        if self.kind != "image-vae":
            raise InputError(
                "Encoding an image needs a VAE model; the selected model is a GAN. Pick an image-vae model."
            )
        x = from_uint8(images).to(self.device)
        mu, _ = self.net.encode(x)
        if self.latent_mean is not None:
            mu = torch.linalg.solve_triangular(self.latent_chol, (mu - self.latent_mean).T, upper=False).T
        return mu.float().cpu()

    def _vae_code(self, u: torch.Tensor) -> torch.Tensor:
        """Canvas latents are standardised: u ~ N(0, 1) maps onto the Gaussian fitted to the training codes."""
        if self.latent_mean is None:
            return u
        return self.latent_mean + u @ self.latent_chol.T


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """(N, 3, H, W) in [-1, 1] -> (N, H, W, 3) uint8."""
    x = ((images.float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return x.permute(0, 2, 3, 1).cpu().numpy()


def from_uint8(images: np.ndarray) -> torch.Tensor:
    """(N, H, W, 3) uint8 -> (N, 3, H, W) float in [-1, 1]."""
    x = torch.from_numpy(np.array(images, dtype=np.uint8)).permute(0, 3, 1, 2).float()
    return x / 127.5 - 1.0


def load_image_model(path: str | Path, device: torch.device | str = "cpu") -> ImageModel:
    """Load a GAN or VAE file (or a training checkpoint) for sampling; refuses other kinds."""
    path = Path(path)
    device = torch.device(device)
    card, tensors = load_model(path, KINDS)
    tensors = model_only(tensors)
    if card.kind == "image-gan":
        config = config_from_card(GANConfig, card, path)
        net = Generator(config)
        load_into(net, tensors, path, prefix="g_ema.")
        w_avg = tensors.get("w_avg")
        if w_avg is None:
            raise ModelFileError(f"{path.name} lacks the mean latent w_avg; it is not a complete image-gan model.")
        w_avg = w_avg.to(device)
        if card.training.get("standing_stats_pending"):  # saved on Cancel, which leaves this to us
            standing_statistics(
                net.to(device), int(card.training.get("batch_size") or card.training.get("batch") or 64)
            )
    else:
        config = config_from_card(VAEConfig, card, path)
        net = ConvVAE(config)
        load_into(net, tensors, path, prefix="vae.")
        w_avg = None
    net.eval().requires_grad_(False).to(device)
    model = ImageModel(card.kind, card, path, net, device, w_avg)
    if "latent_mean" in tensors and "latent_chol" in tensors:
        model.latent_mean = tensors["latent_mean"].float().to(device)
        model.latent_chol = tensors["latent_chol"].float().to(device)
    return model


def gan_tensors(g_ema: Generator, w_avg: torch.Tensor) -> dict[str, torch.Tensor]:
    """The tensors of a GAN model file."""
    tensors = {f"g_ema.{k}": v for k, v in g_ema.state_dict().items()}
    tensors["w_avg"] = w_avg.detach()
    return tensors


def vae_tensors(vae: ConvVAE, images: torch.Tensor | None = None, limit: int = 4096) -> dict[str, torch.Tensor]:
    """The tensors of a VAE model file; with training ``images`` (uint8 N,3,H,W) also the fitted code Gaussian
    (over at most ``limit`` of them)."""
    tensors = {f"vae.{k}": v for k, v in vae.state_dict().items()}
    if images is not None:
        tensors["latent_mean"], tensors["latent_chol"] = fit_code_gaussian(vae, images, limit)
    return tensors


@torch.no_grad()
def fit_code_gaussian(vae: ConvVAE, images: torch.Tensor, limit: int = 4096) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and Cholesky factor of the covariance of the training images' codes. Sampling from this Gaussian
    instead of N(0, 1) keeps samples near the pictures while the KL term is still small (ex-post density fit)."""
    was_training = vae.training
    vae.eval()
    device = next(vae.parameters()).device
    if images.shape[0] > limit:  # evenly spread, not the first files of the folder
        images = images[torch.linspace(0, images.shape[0] - 1, limit).long()]
    codes = []
    for start in range(0, images.shape[0], 256):
        x = images[start : start + 256].float().to(device) / 127.5 - 1.0
        codes.append(vae.encode(x)[0].float().cpu())
    vae.train(was_training)
    mu = torch.cat(codes).double()
    mean = mu.mean(dim=0)
    centred = mu - mean
    cov = centred.T @ centred / max(1, mu.shape[0] - 1) + 1e-4 * torch.eye(mu.shape[1], dtype=torch.float64)
    return mean.float(), torch.linalg.cholesky(cov).float()


def card_for(kind: str, config: Any, **kwargs: Any) -> ModelCard:
    """A model card with the config dataclass stored as a dict."""
    return ModelCard(kind=kind, config=asdict(config), **kwargs)
