"""GAN training loop: hinge loss, DiffAugment, EMA generator, exact resume, OOM fallback."""

from __future__ import annotations

import copy
import time
from contextlib import nullcontext
from dataclasses import asdict
from typing import Any

import torch

from aigc_studio.core.device import autocast_dtype
from aigc_studio.core.statefile import load_checkpoint, save_checkpoint
from aigc_studio.errors import Cancelled
from aigc_studio.image.diffaug import diff_augment
from aigc_studio.image.gan import (
    SIZE_PRESETS,
    Discriminator,
    GANConfig,
    Generator,
    hinge_d_loss,
    hinge_g_loss,
    mean_latent,
    parameter_count,
    recalibrate_batchnorm,
    update_ema,
)
from aigc_studio.image.model import card_for, config_from_card, gan_tensors, to_uint8
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

PREVIEW_COUNT = 16
PREVIEW_SEED = 20240


class GANTrainer:
    """Holds G, D, EMA, optimisers and RNGs; ``step()`` runs one D + G update."""

    def __init__(
        self, config: GANConfig, settings: ImageTrainSettings, data: BatchSource, device: torch.device
    ) -> None:
        self.config, self.settings, self.data, self.device = config, settings, data, device
        torch.manual_seed(settings.seed)
        self.g = Generator(config).to(device)
        self.d = Discriminator(config).to(device)
        self.g_ema = copy.deepcopy(self.g).eval().requires_grad_(False)
        lr = settings.lr or 2e-4
        self.opt_g = torch.optim.Adam(self.g.parameters(), lr=lr, betas=(0.5, 0.99))
        self.opt_d = torch.optim.Adam(self.d.parameters(), lr=lr, betas=(0.5, 0.99))
        self.noise = torch.Generator().manual_seed(settings.seed + 1)
        self.aug = torch.Generator().manual_seed(settings.seed + 2)
        self.step_count = 0
        self.batch = settings.batch
        self.history: list[list[float]] = []
        dtype = autocast_dtype(device)
        # bf16 autocast needs no loss scaling; fp16 would, so it stays in fp32.
        self.autocast = (lambda: torch.autocast(device.type, dtype=dtype)) if dtype == torch.bfloat16 else nullcontext

    def _z(self, n: int) -> torch.Tensor:
        return torch.randn(n, self.config.z_dim, generator=self.noise).to(self.device)

    def _augment(self, x: torch.Tensor) -> torch.Tensor:
        return diff_augment(x, self.settings.augment, self.aug)

    def step(self, check_cancelled=lambda: None) -> dict[str, float]:
        """One discriminator and one generator update; returns the losses."""
        real = self.data.sample(self.batch, self.device)
        self.d.requires_grad_(True)
        with self.autocast():
            with torch.no_grad():
                fake = self.g(self._z(self.batch))
            loss_d = hinge_d_loss(self.d(self._augment(real)).float(), self.d(self._augment(fake)).float())
        self.opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        self.opt_d.step()
        check_cancelled()
        self.d.requires_grad_(False)
        with self.autocast():
            loss_g = hinge_g_loss(self.d(self._augment(self.g(self._z(self.batch)))).float())
        self.opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        self.opt_g.step()
        self.step_count += 1
        decay = min(self.settings.ema_decay, (1 + self.step_count) / (10 + self.step_count))
        update_ema(self.g_ema, self.g, decay)
        return {"d": float(loss_d.detach()), "g": float(loss_g.detach())}

    @torch.no_grad()
    def preview(self) -> Any:
        """A grid of EMA samples from fixed latents (the same every time, so progress is visible)."""
        self.finalise_ema()
        z = seed_latents(PREVIEW_SEED, PREVIEW_COUNT, self.config.z_dim).to(self.device)
        return image_grid(to_uint8(self.g_ema(z)), columns=4)

    def finalise_ema(self) -> None:
        """Standing BatchNorm statistics for the EMA weights (before previews and saves)."""
        recalibrate_batchnorm(self.g_ema, batches=4, batch=min(64, max(8, self.batch)))
        self.g_ema.eval()

    def state(self, dataset_hash: str, dataset_size: int) -> dict[str, Any]:
        """Everything needed for an exact resume."""
        return {
            "step": self.step_count,
            "batch": self.batch,
            "g": self.g.state_dict(),
            "d": self.d.state_dict(),
            "opt_g": self.opt_g.state_dict(),
            "opt_d": self.opt_d.state_dict(),
            "rng": generator_states(noise=self.noise, aug=self.aug, data=self.data.generator),
            "dataset_hash": dataset_hash,
            "dataset_size": dataset_size,
            "history": self.history[-LOSS_HISTORY_LIMIT:],
            "settings": self.settings.to_dict(),
        }

    def load_state(self, state: dict[str, Any], model_tensors: dict[str, torch.Tensor]) -> None:
        """Restore from :meth:`state` plus the EMA weights stored as the model."""
        self.g.load_state_dict(state["g"])
        self.d.load_state_dict(state["d"])
        self.g_ema.load_state_dict({k[len("g_ema.") :]: v for k, v in model_tensors.items() if k.startswith("g_ema.")})
        self.opt_g.load_state_dict(state["opt_g"])
        self.opt_d.load_state_dict(state["opt_d"])
        restore_generators(state["rng"], noise=self.noise, aug=self.aug, data=self.data.generator)
        self.step_count = int(state["step"])
        self.batch = int(state["batch"])
        self.history = [list(p) for p in state.get("history", [])]


def build_config(settings: ImageTrainSettings) -> GANConfig:
    """The GAN architecture for a size preset and resolution."""
    config = GANConfig(resolution=settings.resolution, **SIZE_PRESETS[settings.size])
    for key, value in settings.extra_config.items():
        setattr(config, key, value)
    config.check()
    return config


class TrainGANJob:
    """Train (or resume) a GAN on an image folder; checkpoints to ``settings.out``."""

    def __init__(self, settings: ImageTrainSettings) -> None:
        settings.check()
        self.settings = settings
        self.title = f"Train image GAN ({settings.resolution} px)"

    def run(self, ctx: Any) -> dict[str, Any]:
        """Run the loop; returns a summary (steps, losses, output path)."""
        s = self.settings
        out = out_path(s)
        resume = None
        if s.resume:
            card, model_tensors, state = load_checkpoint(s.resume, "image-gan")
            config = config_from_card(GANConfig, card, out)
            s.resolution = config.resolution
            resume = (model_tensors, state)
        else:
            config = build_config(s)
        dataset = read_dataset(s, ctx)
        data = BatchSource(dataset, s.flip, s.seed)
        trainer = GANTrainer(config, s, data, ctx.device)
        elapsed_before = 0.0
        if resume:
            check_resume_data(resume[1], dataset, ctx)
            trainer.load_state(resume[1], resume[0])
            elapsed_before = float(resume[1].get("seconds", 0.0))
            ctx.log(f"Resumed at step {trainer.step_count} (batch {trainer.batch}).")
            for step, d, g in trainer.history:
                ctx.partial({"type": "loss", "step": int(step), "values": {"d": d, "g": g}})
        ctx.log(
            f"GAN {config.resolution} px: G {parameter_count(trainer.g) / 1e6:.2f} M, "
            f"D {parameter_count(trainer.d) / 1e6:.2f} M parameters; {len(dataset)} images; device {ctx.device}."
        )
        started = time.monotonic()
        speed = Throughput()
        losses: dict[str, float] = {}
        start_step = trainer.step_count

        def save() -> None:
            seconds = elapsed_before + time.monotonic() - started
            card = card_for(
                "image-gan",
                config,
                name=s.name or out.stem,
                description=s.description or f"GAN {config.resolution} px trained on {len(dataset)} images",
                license=s.license,
                data_sources=s.data_sources or str(s.data),
                training={
                    "steps": trainer.step_count,
                    "final_loss": losses.get("d"),
                    "final_losses": losses,
                    "images": len(dataset),
                    "batch": trainer.batch,
                    "seconds": round(seconds, 1),
                    "dataset_hash": dataset.hash,
                    "loss": "hinge",
                    "augment": s.augment,
                },
            )
            state = trainer.state(dataset.hash, len(dataset))
            state["seconds"] = seconds
            trainer.finalise_ema()
            save_checkpoint(out, gan_tensors(trainer.g_ema, mean_latent(trainer.g_ema)), card, state)

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
                    trainer.history.append([step, losses["d"], losses["g"]])
                    ctx.partial({"type": "loss", "step": step, "values": losses})
                preview = trainer.preview() if step % s.preview_every == 0 or step == s.steps else None
                if preview is not None:
                    ctx.partial({"type": "preview", "step": step, "image": preview})
                if step % s.checkpoint_every == 0 and step < s.steps:
                    save()
                    ctx.log(f"Checkpoint at step {step} → {out}")
                fraction = 0.02 + 0.98 * (step - start_step) / max(1, s.steps - start_step)
                message = f"step {step}/{s.steps} · D {losses['d']:.3f} G {losses['g']:.3f} · {speed.rate:.1f} img/s"
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
