"""The image studio's part of the training loop: what the GAN and the VAE share (data, resume, card).

A subclass says what differs between the GAN and the VAE: how to build the
trainer, what one loss-history row holds, and which tensors make the saved model.
The loop itself is core/training_loop.py.
"""

from __future__ import annotations

from abc import abstractmethod
from dataclasses import asdict
from typing import Any

import torch

from aigc_studio.core.events import LossPoint, Preview
from aigc_studio.core.modelfile import ModelCard
from aigc_studio.core.training_loop import Resume, TrainingFamily
from aigc_studio.image.model import card_for, config_from_card
from aigc_studio.image.training import BatchSource, ImageTrainSettings, check_resume_data, read_dataset


class ImageTrainJob(TrainingFamily):
    """Train (or resume) one image model kind on a folder; checkpoints to ``settings.out``."""

    noun = ""  # "GAN" or "VAE", for titles and messages
    config_class: type = object
    size_presets: dict[str, dict[str, Any]] = {}  # "tiny"/"small"/"medium" -> config fields
    loss_keys: tuple[str, ...] = ()  # order of the values in a loss-history row
    # Settings that decide what each step draws and does: a resume keeps the checkpoint's and says so when
    # the Train dialog (which does not show them) or a shorter command line asked for others.
    recipe_keys = ("flip", "augment", "ema_decay", "fit")
    unit = "img"
    settings: ImageTrainSettings

    def __init__(self, settings: ImageTrainSettings) -> None:
        super().__init__(settings)
        self.title = f"Train image {self.noun} ({settings.resolution} px)"

    # --- what differs between the kinds ---
    def build_config(self, settings: ImageTrainSettings) -> Any:
        """The architecture for a fresh run: the size preset at the resolution, plus any overrides."""
        config = self.config_class(resolution=settings.resolution, **self.size_presets[settings.size])
        for key, value in settings.extra_config.items():
            setattr(config, key, value)
        config.check()
        return config

    @abstractmethod
    def make_trainer(self, config: Any, settings: ImageTrainSettings, data: BatchSource, device: torch.device) -> Any:
        """An object with ``step(check)``, ``preview()``, ``state()``, ``load_state()``, ``step_count``, ``history``."""

    def card_notes(self, settings: ImageTrainSettings) -> dict[str, Any]:
        """Facts about the method for the card's training summary (loss, augmentation)."""
        return {}

    def quick_save_notes(self, quick: bool) -> dict[str, Any]:
        """What a quick (Cancel) save left out, for the card's training summary."""
        return {}

    # --- the family's part of the loop ---
    def upgrade_state(self, state: dict[str, Any]) -> dict[str, Any]:
        # Older image checkpoints kept the batch after any out-of-memory halving beside the settings.
        if "batch" in state:
            state["settings"] = {**state.get("settings", {}), "batch_size": int(state["batch"])}
        return state

    def setup(self, ctx: Any, resume: Resume | None) -> None:
        s = self.settings
        if resume is not None:
            self.config = config_from_card(self.config_class, resume.card, s.out)
            s.resolution = self.config.resolution
        else:
            self.config = self.build_config(s)
        self.dataset = read_dataset(s, ctx)
        self.data = BatchSource(self.dataset, s.flip, s.seed)
        self.trainer = self.make_trainer(self.config, s, self.data, ctx.device)
        self.optimizers = self.trainer.optimizers
        self.trainer.shard = self.shard  # several processes: each trains on its slice, gradients averaged
        self.trainer.sync = lambda module: self.sync_gradients(list(module.parameters()))
        self.check_cancelled = ctx.check_cancelled
        if resume is not None:
            check_resume_data(resume.state, self.dataset, ctx)
            self.trainer.load_state(resume.state, resume.tensors)

    def train_step(self, step: int) -> dict[str, float]:
        losses = self.trainer.step(self.check_cancelled)
        if self.ranks.world_size > 1:  # BatchNorm statistics come from each rank's slice: keep one set
            self.ranks.average_buffers([m for m in vars(self.trainer).values() if isinstance(m, torch.nn.Module)])
        return losses

    def record(self, step: int, losses: dict[str, float], held_out: dict[str, float] | None) -> None:
        self.last_losses = losses
        if step % self.settings.loss_interval() == 0 or step == self.settings.steps:
            self.trainer.history.append([step, *(losses[k] for k in self.loss_keys)])

    def replay(self) -> list[LossPoint]:
        return [LossPoint(int(step), dict(zip(self.loss_keys, values))) for step, *values in self.trainer.history]

    def sample(self, step: int) -> Preview | None:
        image = self.trainer.preview()
        return None if image is None else Preview(step, image)

    def state(self) -> dict[str, Any]:
        return self.trainer.state(self.dataset.hash, len(self.dataset))

    def model_tensors(self, quick: bool) -> dict[str, torch.Tensor]:
        return self.trainer_tensors(quick)

    @abstractmethod
    def trainer_tensors(self, quick: bool) -> dict[str, torch.Tensor]:
        """The tensors saved as the model (the rest of the training state goes beside them)."""

    def card(self, step: int, seconds: float, quick: bool) -> ModelCard:
        s, config = self.settings, self.config
        losses = getattr(self, "last_losses", None)
        if losses is None:  # nothing trained in this process yet: the last point of the resumed history
            losses = dict(zip(self.loss_keys, self.trainer.history[-1][1:])) if self.trainer.history else {}
        return card_for(
            self.kind,
            config,
            **self.card_fields(
                f"{self.noun} {config.resolution} px trained on {len(self.dataset)} images", str(s.data)
            ),
            training={
                "steps": step,
                "final_loss": losses.get(self.loss_keys[0]),
                "final_losses": losses,
                "images": len(self.dataset),
                "batch_size": s.batch_size,
                "seconds": round(seconds, 1),
                "dataset_hash": self.dataset.hash,
                **self.card_notes(s),
                **self.quick_save_notes(quick),
            },
        )

    def evaluation_data(self) -> tuple[Any, str] | None:
        """The training images: image models keep no held-out split, so this checks for copies."""
        return self.dataset.images, "training images (no held-out split)"

    def result_metrics(self) -> dict[str, Any]:
        return {"config": asdict(self.config)}
