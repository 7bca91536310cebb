"""GAN training loop: hinge loss, DiffAugment, EMA generator, exact resume, OOM fallback."""

from __future__ import annotations

import copy
from contextlib import nullcontext
from typing import Any

import torch

from aigc_studio.core.device import autocast_dtype
from aigc_studio.errors import InputError
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
    standing_statistics,
    update_ema,
)
from aigc_studio.image.model import gan_tensors, to_uint8
from aigc_studio.image.sampling import class_cycle, seed_latents
from aigc_studio.image.train_job import ImageTrainJob
from aigc_studio.image.training import (
    LOSS_HISTORY_LIMIT,
    BatchSource,
    ImageTrainSettings,
    generator_states,
    image_grid,
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
        self.history: list[list[float]] = []
        self.optimizers = [self.opt_d, self.opt_g]
        self.shard = lambda batch: batch  # with several processes: this rank's slice of the global batch
        self.sync = lambda module: None  # with several processes: average the module's gradients
        dtype = autocast_dtype(device)
        # bf16 autocast needs no loss scaling; fp16 would, so it stays in fp32.
        self.autocast = (lambda: torch.autocast(device.type, dtype=dtype)) if dtype == torch.bfloat16 else nullcontext

    def _z(self, n: int) -> torch.Tensor:
        return torch.randn(n, self.config.z_dim, generator=self.noise).to(self.device)

    def _augment(self, x: torch.Tensor) -> torch.Tensor:
        return diff_augment(x, self.settings.augment, self.aug)

    @property
    def batch(self) -> int:
        """The batch size now (the loop halves ``settings.batch_size`` after an out-of-memory error)."""
        return self.settings.batch_size

    @batch.setter
    def batch(self, value: int) -> None:
        self.settings.batch_size = value

    def step(self, check_cancelled=lambda: None) -> dict[str, float]:
        """One discriminator and one generator update; returns the losses.

        A conditional model's fakes take the real batch's classes, so both sides see the data's class mix.
        Under torchrun every rank draws the whole global batch and keeps its slice (``shard``)."""
        real, labels = self.data.sample_labelled(self.batch, self.device)
        real = self.shard(real)
        labels = None if labels is None else self.shard(labels)
        self.d.requires_grad_(True)
        with self.autocast():
            with torch.no_grad():
                fake = self.g(self.shard(self._z(self.batch)), labels=labels)
            if self.config.d_norm == "batch":  # BatchNorm: real and fake batches keep their own statistics
                loss_d = hinge_d_loss(
                    self.d(self._augment(real), labels).float(), self.d(self._augment(fake), labels).float()
                )
            else:  # one pass over both: the same logits without BatchNorm, and one batch of 2N runs faster
                both_labels = None if labels is None else torch.cat([labels, labels])
                logits = self.d(self._augment(torch.cat([real, fake])), both_labels).float()
                loss_d = hinge_d_loss(logits[: real.shape[0]], logits[real.shape[0] :])
        self.opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        self.sync(self.d)
        self.opt_d.step()
        check_cancelled()
        self.d.requires_grad_(False)
        with self.autocast():
            z = self.shard(self._z(self.batch))
            loss_g = hinge_g_loss(self.d(self._augment(self.g(z, labels=labels)), labels).float())
        self.opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        self.sync(self.g)
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
        labels = None
        if self.config.num_classes:  # one class per row and column in turn: every class shows up
            labels = class_cycle(PREVIEW_COUNT, self.config.num_classes).to(self.device)
        return image_grid(to_uint8(self.g_ema(z, labels=labels)), columns=4)

    def finalise_ema(self) -> None:
        """Standing BatchNorm statistics for the EMA weights (before previews and saves)."""
        standing_statistics(self.g_ema, self.batch)
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
        self.batch = int(state.get("batch", self.batch))
        self.history = [list(p) for p in state.get("history", [])]


class TrainGANJob(ImageTrainJob):
    """Train (or resume) a GAN on an image folder; checkpoints to ``settings.out``."""

    kind = "image-gan"
    noun = "GAN"
    config_class = GANConfig
    size_presets = SIZE_PRESETS
    loss_keys = ("d", "g")

    def make_trainer(self, config, settings, data, device) -> GANTrainer:
        if not settings.resume:  # a fresh run on class sub-folders trains a class-conditional model
            config.classes = list(data.classes) if settings.use_classes else []
        elif config.classes and config.classes != data.classes:  # an unconditional model resumes on any folder
            then = ", ".join(config.classes)
            now = ", ".join(data.classes) or "no classes (a flat folder)"
            raise InputError(
                f"This checkpoint was trained on {then}; the folder has {now}. Resume on a folder with the same "
                "class sub-folders, or start a new model."
            )
        return GANTrainer(config, settings, data, device)

    def describe(self) -> str:
        t, config = self.trainer, self.config
        classes = f"{config.num_classes} classes" if config.num_classes else "unconditional"
        return (
            f"GAN {config.resolution} px: G {parameter_count(t.g) / 1e6:.2f} M, "
            f"D {parameter_count(t.d) / 1e6:.2f} M parameters; {len(self.dataset)} images, {classes}; "
            f"device {t.device}."
        )

    def progress_text(self, losses: dict[str, float]) -> str:
        return f"D {losses['d']:.3f} G {losses['g']:.3f}"

    def card_notes(self, settings: ImageTrainSettings) -> dict[str, Any]:
        return {"loss": "hinge", "augment": settings.augment}

    def quick_save_notes(self, quick: bool) -> dict[str, Any]:
        return {"standing_stats_pending": True} if quick else {}

    def trainer_tensors(self, quick: bool) -> dict[str, torch.Tensor]:
        if not quick:  # a quick (Cancel) save leaves the statistics to the loader: see standing_stats_pending
            self.trainer.finalise_ema()
        return gan_tensors(self.trainer.g_ema, mean_latent(self.trainer.g_ema))
