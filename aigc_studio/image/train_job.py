"""The run loop shared by the image trainers: resume, checkpoints, progress, OOM fallback, cancel.

A subclass says what differs between the GAN and the VAE: how to build the
config and the trainer, what one loss-history row holds, and which tensors
make the saved model.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from dataclasses import asdict
from typing import Any

import torch

from aigc_studio.core.oom import halve_batch, is_out_of_memory
from aigc_studio.core.statefile import load_checkpoint, save_checkpoint
from aigc_studio.errors import Cancelled
from aigc_studio.image.model import card_for, config_from_card
from aigc_studio.image.training import (
    BatchSource,
    ImageTrainSettings,
    Throughput,
    check_resume_data,
    out_path,
    read_dataset,
)

# Settings that decide what each step draws and does; a resume takes them from the checkpoint, so that the
# Train dialog (which does not show them) or a shorter command line cannot change the run half-way.
RECIPE_KEYS = ("flip", "augment", "ema_decay", "fit")


def keep_training_recipe(settings: ImageTrainSettings, saved: dict[str, Any], ctx: Any) -> None:
    """Use the checkpoint's augmentation, EMA and fit settings for a resumed run; say so when they differ."""
    for key in RECIPE_KEYS:
        if key in saved and getattr(settings, key) != saved[key]:
            ctx.log(f"Resuming with the checkpoint's {key} = {saved[key]!r} (not {getattr(settings, key)!r}).")
            setattr(settings, key, saved[key])


class ImageTrainJob(ABC):
    """Train (or resume) one image model kind on a folder; checkpoints to ``settings.out``."""

    kind = ""  # model-card kind, e.g. "image-gan"
    trains = True  # builds optimisers: warm_up_training() first (see core/jobs.py)
    noun = ""  # "GAN" or "VAE", for titles and messages
    config_class: type = object
    size_presets: dict[str, dict[str, Any]] = {}  # "tiny"/"small"/"medium" -> config fields
    loss_keys: tuple[str, ...] = ()  # order of the values in a loss-history row

    def __init__(self, settings: ImageTrainSettings) -> None:
        settings.check()
        self.settings = settings
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
        """An object with ``step(check)``, ``preview()``, ``state()``, ``load_state()``, ``step_count``, ``batch``, ``history``."""

    @abstractmethod
    def describe(self, trainer: Any, config: Any, images: int) -> str:
        """One log line about the model and data."""

    @abstractmethod
    def progress_text(self, losses: dict[str, float]) -> str:
        """The losses part of the progress message."""

    @abstractmethod
    def card_notes(self, settings: ImageTrainSettings) -> dict[str, Any]:
        """Facts about the method for the card's training summary (loss, augmentation)."""

    def quick_save_notes(self, trainer: Any, data: BatchSource, quick: bool) -> dict[str, Any]:
        """What a quick (Cancel) save left out, for the card's training summary."""
        return {}

    @abstractmethod
    def model_tensors(self, trainer: Any, data: BatchSource, quick: bool = False) -> dict[str, torch.Tensor]:
        """The tensors saved as the model (the rest of the training state goes beside them).

        ``quick`` (the save after Cancel) may skip work the loader can redo, so Cancel lands fast.
        """

    # --- the shared loop ---
    def run(self, ctx: Any) -> dict[str, Any]:
        """Run the loop; returns a summary (steps, losses, output path)."""
        s = self.settings
        out = out_path(s)
        resume = None
        if s.resume:
            card, model_tensors, state = load_checkpoint(s.resume, self.kind)
            config = config_from_card(self.config_class, card, out)
            s.resolution = config.resolution
            keep_training_recipe(s, state.get("settings", {}), ctx)
            resume = (model_tensors, state)
        else:
            config = self.build_config(s)
        dataset = read_dataset(s, ctx)
        data = BatchSource(dataset, s.flip, s.seed)
        trainer = self.make_trainer(config, s, data, ctx.device)
        elapsed_before = 0.0
        if resume:
            check_resume_data(resume[1], dataset, ctx)
            trainer.load_state(resume[1], resume[0])
            elapsed_before = float(resume[1].get("seconds", 0.0))
            ctx.log(f"Resumed at step {trainer.step_count} (batch {trainer.batch}).")
            for step, *values in trainer.history:
                ctx.partial({"type": "loss", "step": int(step), "values": dict(zip(self.loss_keys, values))})
        ctx.log(self.describe(trainer, config, len(dataset)))
        started = time.monotonic()
        speed = Throughput()
        losses: dict[str, float] = {}
        start_step = trainer.step_count

        def save(quick: bool = False) -> None:
            seconds = elapsed_before + time.monotonic() - started
            card = card_for(
                self.kind,
                config,
                name=s.name or out.stem,
                description=s.description or f"{self.noun} {config.resolution} px trained on {len(dataset)} images",
                license=s.license,
                data_sources=s.data_sources or str(s.data),
                training={
                    "steps": trainer.step_count,
                    "final_loss": losses.get(self.loss_keys[0]),
                    "final_losses": losses,
                    "images": len(dataset),
                    "batch": trainer.batch,
                    "seconds": round(seconds, 1),
                    "dataset_hash": dataset.hash,
                    **self.card_notes(s),
                    **self.quick_save_notes(trainer, data, quick),
                },
            )
            state = trainer.state(dataset.hash, len(dataset))
            state["seconds"] = seconds
            save_checkpoint(out, self.model_tensors(trainer, data, quick), card, state)

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
                if s.log_every and step % s.log_every == 0:
                    ctx.log(f"step {step}/{s.steps} · {self.progress_text(losses)}")
                if step % s.loss_every == 0 or step == s.steps:
                    trainer.history.append([step, *(losses[k] for k in self.loss_keys)])
                    ctx.partial({"type": "loss", "step": step, "values": losses})
                preview = trainer.preview() if step % s.preview_every == 0 or step == s.steps else None
                if preview is not None:
                    ctx.partial({"type": "preview", "step": step, "image": preview})
                if s.checkpoint_every and step % s.checkpoint_every == 0 and step < s.steps:
                    save()
                    ctx.log(f"Checkpoint at step {step} → {out}")
                fraction = 0.02 + 0.98 * (step - start_step) / max(1, s.steps - start_step)
                message = f"step {step}/{s.steps} · {self.progress_text(losses)} · {speed.rate:.1f} img/s"
                ctx.progress(fraction, message, preview=preview)
        except Cancelled:
            if trainer.step_count > start_step:
                save(quick=True)
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
