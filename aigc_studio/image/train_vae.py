"""VAE training loop (L1 + SSIM + KL), with the same checkpoints and exact resume as the GAN."""

from __future__ import annotations

import time
from contextlib import nullcontext
from dataclasses import asdict
from typing import Any

import numpy as np
import torch

from aigc_studio.core.device import autocast_dtype
from aigc_studio.core.statefile import load_checkpoint, save_checkpoint
from aigc_studio.errors import Cancelled
from aigc_studio.image.gan import parameter_count
from aigc_studio.image.model import card_for, config_from_card, fit_code_gaussian, to_uint8, vae_tensors
from aigc_studio.image.sampling import seed_latents
from aigc_studio.image.training import (
    LOSS_HISTORY_LIMIT,
    BatchSource,
    ImageTrainSettings,
    Throughput,
    check_resume_data,
    generator_states,
    halve_batch,
    image_grid,
    is_out_of_memory,
    out_path,
    read_dataset,
    restore_generators,
)
from aigc_studio.image.vae import SIZE_PRESETS, ConvVAE, VAEConfig, vae_losses

PREVIEW_SEED = 20240


class VAETrainer:
    """Holds the VAE, its optimiser and RNGs; ``step()`` runs one update."""

    def __init__(
        self, config: VAEConfig, settings: ImageTrainSettings, data: BatchSource, device: torch.device
    ) -> None:
        self.config, self.settings, self.data, self.device = config, settings, data, device
        torch.manual_seed(settings.seed)
        self.vae = ConvVAE(config).to(device)
        self.opt = torch.optim.Adam(self.vae.parameters(), lr=settings.lr or 5e-4)
        self.noise = torch.Generator().manual_seed(settings.seed + 1)
        self.step_count = 0
        self.batch = settings.batch
        self.history: list[list[float]] = []
        dtype = autocast_dtype(device)
        self.autocast = (lambda: torch.autocast(device.type, dtype=dtype)) if dtype == torch.bfloat16 else nullcontext
        fixed = torch.Generator().manual_seed(PREVIEW_SEED)
        idx = torch.randint(len(data), (8,), generator=fixed)
        self.preview_real = (data.images[idx].float() / 127.5 - 1.0).to(device)

    def step(self, check_cancelled=lambda: None) -> dict[str, float]:
        """One optimiser step; returns the loss terms."""
        x = self.data.sample(self.batch, self.device)
        noise = torch.randn(self.batch, self.config.latent_dim, generator=self.noise).to(self.device)
        self.vae.train()
        with self.autocast():
            recon, mu, logvar = self.vae(x, noise)
        losses = vae_losses(self.config, x, recon.float(), mu.float(), logvar.float(), self.step_count)
        self.opt.zero_grad(set_to_none=True)
        losses["total"].backward()
        self.opt.step()
        self.step_count += 1
        return {k: float(v.detach()) for k, v in losses.items()}

    @torch.no_grad()
    def preview(self) -> np.ndarray:
        """Row 1: fixed real images; row 2: their reconstructions; rows 3-4: samples (fitted code Gaussian)."""
        self.vae.eval()
        mu, _ = self.vae.encode(self.preview_real)
        mean, chol = fit_code_gaussian(self.vae, self.data.images, limit=1024)
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
            "settings": self.settings.to_dict(),
        }

    def load_state(self, state: dict[str, Any], model_tensors: dict[str, torch.Tensor]) -> None:
        """Restore weights, optimiser, RNGs, step."""
        self.vae.load_state_dict({k[len("vae.") :]: v for k, v in model_tensors.items() if k.startswith("vae.")})
        self.opt.load_state_dict(state["opt"])
        restore_generators(state["rng"], noise=self.noise, data=self.data.generator)
        self.step_count = int(state["step"])
        self.batch = int(state["batch"])
        self.history = [list(p) for p in state.get("history", [])]


def build_config(settings: ImageTrainSettings) -> VAEConfig:
    """The VAE architecture for a size preset and resolution."""
    config = VAEConfig(resolution=settings.resolution, **SIZE_PRESETS[settings.size])
    for key, value in settings.extra_config.items():
        setattr(config, key, value)
    config.check()
    return config


class TrainVAEJob:
    """Train (or resume) a VAE on an image folder; checkpoints to ``settings.out``."""

    def __init__(self, settings: ImageTrainSettings) -> None:
        settings.check()
        self.settings = settings
        self.title = f"Train image VAE ({settings.resolution} px)"

    def run(self, ctx: Any) -> dict[str, Any]:
        """Run the loop; returns a summary (steps, losses, output path)."""
        s = self.settings
        out = out_path(s)
        resume = None
        if s.resume:
            card, model_tensors, state = load_checkpoint(s.resume, "image-vae")
            config = config_from_card(VAEConfig, card, out)
            s.resolution = config.resolution
            resume = (model_tensors, state)
        else:
            config = build_config(s)
        dataset = read_dataset(s, ctx)
        data = BatchSource(dataset, s.flip, s.seed)
        trainer = VAETrainer(config, s, data, ctx.device)
        elapsed_before = 0.0
        if resume:
            check_resume_data(resume[1], dataset, ctx)
            trainer.load_state(resume[1], resume[0])
            elapsed_before = float(resume[1].get("seconds", 0.0))
            ctx.log(f"Resumed at step {trainer.step_count} (batch {trainer.batch}).")
            for step, total, l1, ssim_term, kl in trainer.history:
                ctx.partial(
                    {
                        "type": "loss",
                        "step": int(step),
                        "values": {"total": total, "l1": l1, "ssim": ssim_term, "kl": kl},
                    }
                )
        ctx.log(
            f"VAE {config.resolution} px: {parameter_count(trainer.vae) / 1e6:.2f} M parameters; {len(dataset)} images."
        )
        started = time.monotonic()
        speed = Throughput()
        losses: dict[str, float] = {}
        start_step = trainer.step_count

        def save() -> None:
            seconds = elapsed_before + time.monotonic() - started
            card = card_for(
                "image-vae",
                config,
                name=s.name or out.stem,
                description=s.description or f"VAE {config.resolution} px trained on {len(dataset)} images",
                license=s.license,
                data_sources=s.data_sources or str(s.data),
                training={
                    "steps": trainer.step_count,
                    "final_loss": losses.get("total"),
                    "final_losses": losses,
                    "images": len(dataset),
                    "batch": trainer.batch,
                    "seconds": round(seconds, 1),
                    "dataset_hash": dataset.hash,
                    "loss": "L1 + SSIM + KL",
                },
            )
            state = trainer.state(dataset.hash, len(dataset))
            state["seconds"] = seconds
            save_checkpoint(out, vae_tensors(trainer.vae, data.images), card, state)

        try:
            while trainer.step_count < s.steps:
                try:
                    losses = trainer.step(ctx.check_cancelled)
                except Cancelled:
                    raise
                except Exception as exc:
                    if not is_out_of_memory(exc):
                        raise
                    trainer.batch = halve_batch(trainer.batch, ctx, ctx.device)
                    continue
                speed.add(trainer.batch)
                step = trainer.step_count
                if step % s.loss_every == 0 or step == s.steps:
                    trainer.history.append([step, losses["total"], losses["l1"], losses["ssim"], losses["kl"]])
                    ctx.partial({"type": "loss", "step": step, "values": losses})
                preview = trainer.preview() if step % s.preview_every == 0 or step == s.steps else None
                if preview is not None:
                    ctx.partial({"type": "preview", "step": step, "image": preview})
                if step % s.checkpoint_every == 0 and step < s.steps:
                    save()
                    ctx.log(f"Checkpoint at step {step} → {out}")
                fraction = 0.02 + 0.98 * (step - start_step) / max(1, s.steps - start_step)
                message = f"step {step}/{s.steps} · loss {losses['total']:.4f} (L1 {losses['l1']:.3f}) · {speed.rate:.1f} img/s"
                ctx.progress(fraction, message, preview=preview)
        except Cancelled:
            if trainer.step_count > start_step:
                save()
                ctx.log(f"Stopped at step {trainer.step_count}; resumable checkpoint saved to {out}")
            raise
        save()
        ctx.log(f"Finished {trainer.step_count} steps → {out}")
        return {
            "path": str(out),
            "steps": trainer.step_count,
            "losses": losses,
            "seconds": elapsed_before + time.monotonic() - started,
            "config": asdict(config),
        }
