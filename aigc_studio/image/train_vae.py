"""VAE training loop (L1 + SSIM + KL, plus a patch discriminator when the config has one), with the same
checkpoints and exact resume as the GAN."""

from __future__ import annotations

from contextlib import nullcontext
from typing import Any

import numpy as np
import torch

from aigc_studio.core.device import autocast_dtype
from aigc_studio.image.gan import parameter_count
from aigc_studio.image.model import fit_code_gaussian, to_uint8, vae_tensors
from aigc_studio.image.patch_discriminator import AdversarialTerm
from aigc_studio.image.sampling import seed_latents
from aigc_studio.image.train_job import ImageTrainJob
from aigc_studio.image.training import (
    LOSS_HISTORY_LIMIT,
    BatchSource,
    ImageTrainSettings,
    generator_states,
    image_grid,
    restore_generators,
)
from aigc_studio.image.vae import SIZE_PRESETS, ConvVAE, VAEConfig, vae_losses

PREVIEW_SEED = 20240


FULL_FIT_IMAGES = 4096  # training images encoded for the sampling Gaussian in a VAE model file
QUICK_FIT_IMAGES = 256  # the same after Cancel


class VAETrainer:
    """Holds the VAE, its optimiser and RNGs; ``step()`` runs one update."""

    def __init__(
        self, config: VAEConfig, settings: ImageTrainSettings, data: BatchSource, device: torch.device
    ) -> None:
        self.config, self.settings, self.data, self.device = config, settings, data, device
        torch.manual_seed(settings.seed)
        self.vae = ConvVAE(config).to(device)
        self.opt = torch.optim.Adam(self.vae.parameters(), lr=settings.lr or 5e-4)
        self.adv = None
        if config.adv_weight > 0:
            self.adv = AdversarialTerm(config.adv_channels, 2e-4, config.adv_start, device)
        self.noise = torch.Generator().manual_seed(settings.seed + 1)
        self.step_count = 0
        self.history: list[list[float]] = []
        self.optimizers = [self.opt]
        self.shard = lambda batch: batch  # with several processes: this rank's slice of the global batch
        self.sync = lambda module: None  # with several processes: average the module's gradients
        dtype = autocast_dtype(device)
        self.autocast = (lambda: torch.autocast(device.type, dtype=dtype)) if dtype == torch.bfloat16 else nullcontext
        fixed = torch.Generator().manual_seed(PREVIEW_SEED)
        idx = torch.randint(len(data), (8,), generator=fixed)
        self.preview_real = (data.images[idx].float() / 127.5 - 1.0).to(device)

    @property
    def batch(self) -> int:
        """The batch size now (the loop halves ``settings.batch_size`` after an out-of-memory error)."""
        return self.settings.batch_size

    @batch.setter
    def batch(self, value: int) -> None:
        self.settings.batch_size = value

    def step(self, check_cancelled=lambda: None) -> dict[str, float]:
        """One optimiser step; returns the loss terms."""
        x = self.shard(self.data.sample(self.batch, self.device))
        noise = self.shard(torch.randn(self.batch, self.config.latent_dim, generator=self.noise)).to(self.device)
        self.vae.train()
        with self.autocast():
            recon, mu, logvar = self.vae(x, noise)
        losses = vae_losses(self.config, x, recon.float(), mu.float(), logvar.float(), self.step_count)
        if self.adv is not None and self.adv.active(self.step_count):
            losses["disc"] = torch.tensor(self.adv.discriminator_step(x, recon.float()))
            losses["adv"] = self.adv.generator_loss(recon.float())
            losses["total"] = losses["total"] + self.config.adv_weight * losses["adv"]
        self.opt.zero_grad(set_to_none=True)
        losses["total"].backward()
        self.sync(self.vae)
        self.opt.step()
        self.step_count += 1
        return {k: float(v.detach()) for k, v in losses.items()}

    @torch.no_grad()
    def preview(self) -> np.ndarray:
        """Row 1: fixed real images; row 2: their reconstructions; rows 3-4: samples (fitted code Gaussian)."""
        self.vae.eval()
        mu, _ = self.vae.encode(self.preview_real)
        mean, chol = fit_code_gaussian(self.vae, self.data.images, limit=QUICK_FIT_IMAGES)
        u = seed_latents(PREVIEW_SEED, 16, self.config.latent_dim)
        samples = self.vae.decode((mean + u @ chol.T).to(self.device))
        self.vae.train()
        images = torch.cat([self.preview_real, self.vae.decode(mu), samples])
        return image_grid(to_uint8(images), columns=8)

    def state(self, dataset_hash: str, dataset_size: int) -> dict[str, Any]:
        """Everything needed for an exact resume (weights are the model tensors)."""
        return {
            "step": self.step_count,
            "batch": self.batch,
            "opt": self.opt.state_dict(),
            "rng": generator_states(noise=self.noise, data=self.data.generator),
            "dataset_hash": dataset_hash,
            "dataset_size": dataset_size,
            "history": self.history[-LOSS_HISTORY_LIMIT:],
            **({"adv": self.adv.state()} if self.adv is not None else {}),
        }

    def load_state(self, state: dict[str, Any], model_tensors: dict[str, torch.Tensor]) -> None:
        """Restore weights, optimiser, RNGs, step."""
        if self.adv is not None:
            self.adv.load_state(state["adv"])
        self.vae.load_state_dict({k[len("vae.") :]: v for k, v in model_tensors.items() if k.startswith("vae.")})
        self.opt.load_state_dict(state["opt"])
        restore_generators(state["rng"], noise=self.noise, data=self.data.generator)
        self.step_count = int(state["step"])
        self.batch = int(state.get("batch", self.batch))
        self.history = [list(p) for p in state.get("history", [])]


class TrainVAEJob(ImageTrainJob):
    """Train (or resume) a VAE on an image folder; checkpoints to ``settings.out``."""

    kind = "image-vae"
    noun = "VAE"
    config_class = VAEConfig
    size_presets = SIZE_PRESETS
    loss_keys = ("total", "l1", "ssim", "kl")

    def make_trainer(self, config, settings, data, device) -> VAETrainer:
        return VAETrainer(config, settings, data, device)

    def describe(self) -> str:
        return (
            f"VAE {self.config.resolution} px: {parameter_count(self.trainer.vae) / 1e6:.2f} M parameters; "
            f"{len(self.dataset)} images."
        )

    def progress_text(self, losses: dict[str, float]) -> str:
        return f"loss {losses['total']:.4f} (L1 {losses['l1']:.3f})"

    def card_notes(self, settings: ImageTrainSettings) -> dict[str, Any]:
        return {"loss": "L1 + SSIM + KL (+ patch discriminator when adv_weight > 0)"}

    def quick_save_notes(self, quick: bool) -> dict[str, Any]:
        if quick and len(self.data.images) > QUICK_FIT_IMAGES:
            return {"latent_fit_images": QUICK_FIT_IMAGES}
        return {}

    def trainer_tensors(self, quick: bool) -> dict[str, torch.Tensor]:
        # Fitting the code Gaussian encodes the training images (seconds for thousands); the save
        # after Cancel fits it on an even spread of QUICK_FIT_IMAGES so that Cancel lands fast.
        return vae_tensors(self.trainer.vae, self.data.images, QUICK_FIT_IMAGES if quick else FULL_FIT_IMAGES)
