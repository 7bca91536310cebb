"""The one training loop: every model family (image GAN and VAE, text GPT and sentence VAE, music
transformer and MusicVAE) runs through :func:`run_training`.

The loop owns stepping, the warm-up + cosine learning rate (:func:`get_lr`),
gradient clipping, out-of-memory batch halving, the ``log_every`` /
``loss_every`` / ``eval_every`` / ``sample_every`` / ``checkpoint_every``
cadence, the save on Cancel, the final save, progress events and exact resume
(step, settings, elapsed time and torch's global RNG are in every checkpoint).
A family (a :class:`TrainingFamily` subclass) supplies only what differs: how
to build its data and model, one step, its state, its card.

Read top to bottom like nanoGPT's ``train.py``: :func:`run_training` is the loop.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from aigc_studio.core.events import HeldOutLoss, LossPoint, Preview, Sample, TrainingResult
from aigc_studio.core.modelfile import ModelCard
from aigc_studio.core.oom import call_halving_on_oom, halve_batch, is_out_of_memory
from aigc_studio.core.rng_state import global_rng_state, restore_global_rng_state
from aigc_studio.core.statefile import load_checkpoint, save_checkpoint
from aigc_studio.core.train_settings import TrainSettings, get_lr, resumed_settings
from aigc_studio.errors import Cancelled, InputError

__all__ = ["Ranks", "Resume", "TrainingFamily", "get_lr", "run_training"]

PROGRESS_INTERVAL_S = 0.1  # progress reports between these are skipped (Cancel is still checked every step)


@dataclass
class Resume:
    """A checkpoint to continue from: its card, its model tensors and its training state."""

    card: ModelCard
    tensors: dict[str, torch.Tensor]
    state: dict[str, Any]


class Ranks:
    """Which process this is in a multi-process run. One process here; a torchrun run uses
    :class:`aigc_studio.core.distributed.DistRanks`, whose methods are collectives.

    Whether this rank saves and logs (``is_main``), how to combine a loss across ranks
    (``reduce``), whether any rank wants to stop (``any``), this rank's slice of a global
    batch (``shard``), and the gradient averaging before an optimiser step.
    """

    rank = 0
    world_size = 1
    is_main = True

    def reduce(self, values: dict[str, float]) -> dict[str, float]:
        """The mean of ``values`` over all ranks (the values themselves with one process)."""
        return values

    def any(self, flag: bool, what: str = "") -> bool:
        """True when ``flag`` is true on at least one rank."""
        return flag

    def shard(self, batch: Any) -> Any:
        """This rank's slice of a global batch (all of it with one process)."""
        return batch

    def average_gradients(self, parameters: Any) -> None:
        """Average the gradients over the ranks (nothing to do with one process)."""

    def gather(self, obj: Any) -> list[Any]:
        """``obj`` from every rank, in rank order."""
        return [obj]

    def average_buffers(self, modules: Any) -> None:
        """Average the modules' float buffers (BatchNorm running statistics) over the ranks."""

    def check_same(self, state: Any) -> None:
        """Raise when the ranks' training states differ (one process: nothing to compare)."""


class TrainingFamily(ABC):
    """What one model family supplies to the loop. Subclasses set the class fields and the methods below.

    The loop calls, in order: :meth:`setup` (data, model, optimisers, and the restored state
    on resume), then per step :meth:`train_step`, and when due :meth:`evaluate`, :meth:`sample`,
    :meth:`card` + :meth:`model_tensors` + :meth:`state` for each save.
    """

    kind = ""  # the model-card kind, e.g. "image-gan"
    resume_kinds: tuple[str, ...] = ()  # kinds a checkpoint may have (default: just ``kind``)
    trains = True  # builds optimisers: warm_up_training() first (see core/jobs.py)
    recipe_keys: tuple[str, ...] = ()  # settings taken from a checkpoint with a note when the new ones differ
    held_out_separate = False  # held-out loss as its own HeldOutLoss event, not inside the step's LossPoint
    unit = "items"  # what ``items_per_step`` counts, for the speed in the progress message

    def __init__(self, settings: TrainSettings) -> None:
        settings.check()
        self.settings = settings
        self.title = f"Train {self.kind}"
        self.device = torch.device("cpu")
        self.optimizers: list[torch.optim.Optimizer] = []
        self.ranks = Ranks()  # the loop puts the run's ranks here before setup()

    # --- what a family supplies ---
    @abstractmethod
    def setup(self, ctx: Any, resume: Resume | None) -> None:
        """Read the data, build the model and ``self.optimizers``; on resume restore them from ``resume``."""

    @abstractmethod
    def train_step(self, step: int) -> dict[str, float]:
        """One update at ``settings.batch_size`` (forward, backward, :meth:`clip_and_step`); returns the losses.

        An out-of-memory error may escape: the loop clears the gradients, halves the batch and calls again.
        """

    def items_per_step(self) -> int:
        """How many ``unit`` the last step trained on (for the speed shown in the progress message)."""
        return self.settings.batch_size

    def evaluate(self, batch_size: int) -> dict[str, float] | None:
        """Held-out metrics (``{"val_loss": ..}``) at ``batch_size``, or None when the family has none."""
        return None

    def sample(self, step: int) -> Preview | Sample | None:
        """A preview picture or sample text for the progress view, or None."""
        return None

    @abstractmethod
    def record(self, step: int, losses: dict[str, float], held_out: dict[str, float] | None) -> None:
        """Keep a loss point in the family's history (saved in the checkpoint for the curves after a resume)."""

    def replay(self) -> list[LossPoint]:
        """The loss points of the history restored from a checkpoint, to redraw the curves after a resume."""
        return []

    @abstractmethod
    def state(self) -> dict[str, Any]:
        """The family's part of the checkpoint state (optimisers, generators, history)."""

    @abstractmethod
    def model_tensors(self, quick: bool) -> dict[str, torch.Tensor]:
        """The tensors saved as the model; ``quick`` (the save after Cancel) may skip work the loader redoes."""

    @abstractmethod
    def card(self, step: int, seconds: float, quick: bool) -> ModelCard:
        """The model card for a save at ``step``, ``seconds`` into the run."""

    def describe(self) -> str:
        """One log line about the model and the data."""
        return ""

    def progress_text(self, losses: dict[str, float]) -> str:
        """The losses part of the progress message."""
        return "  ".join(f"{k} {v:.3f}" for k, v in losses.items())

    def evaluation_data(self) -> tuple[Any, str] | None:
        """Held-out items for the short evaluation stored in the card at the end of a run, and what they
        are (see :func:`aigc_studio.evaluate.card.in_memory_reference`); None to skip it."""
        return None

    def result_metrics(self) -> dict[str, Any]:
        """Final figures for the :class:`TrainingResult`."""
        return {}

    def upgrade_state(self, state: dict[str, Any]) -> dict[str, Any]:
        """Convert the state of a checkpoint written by an older version (keys renamed since)."""
        return state

    def shard_data(self, rank: int, world_size: int) -> None:
        """Draw only this rank's part of the data (e.g. seed the batch generator with ``seed + rank``)."""
        return None  # one process draws from all of it

    # --- helpers for families ---
    def shard(self, batch: Any) -> Any:
        """This rank's slice of a global batch that every rank drew alike (all of it with one process)."""
        return self.ranks.shard(batch)

    def sync_gradients(self, parameters: Any) -> None:
        """Average these parameters' gradients over the ranks (before an optimiser step; none with one process)."""
        self.ranks.average_gradients(parameters)

    def clip_and_step(self, parameters: Any) -> None:
        """Average the gradients over the ranks, clip the norm to ``settings.grad_clip`` (when set), step."""
        parameters = list(parameters)
        self.sync_gradients(parameters)
        if self.settings.grad_clip:
            torch.nn.utils.clip_grad_norm_(parameters, self.settings.grad_clip)
        for optimizer in self.optimizers:
            optimizer.step()

    def zero_grad(self) -> None:
        """Clear every optimiser's gradients."""
        for optimizer in self.optimizers:
            optimizer.zero_grad(set_to_none=True)

    def card_fields(self, default_description: str, default_sources: str = "") -> dict[str, str]:
        """The card's name, description, license and data sources from the settings (or these defaults)."""
        s = self.settings
        return {
            "name": s.name or Path(s.out).stem,
            "description": s.description or default_description,
            "license": s.license,
            "data_sources": s.data_sources or default_sources,
        }

    def run(self, ctx: Any) -> TrainingResult:
        """Run this family through the loop (a family is a job: ``title``, ``trains``, ``run(ctx)``)."""
        return run_training(self, ctx)


def out_path(out: str) -> Path:
    """The output file, with its folder created; refuses a folder as output."""
    path = Path(out).expanduser()
    if path.is_dir():
        raise InputError(f"{path} is a folder; the output must be a .safetensors file.")
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def _upgrade_common(state: dict[str, Any]) -> dict[str, Any]:
    """Checkpoints written before the loop was one kept elapsed time and the global RNG under other keys."""
    if "elapsed" not in state and "seconds" in state:  # image trainers
        state["elapsed"] = state["seconds"]
    if "global_rng" not in state:
        if "torch_rng" in state:  # text GPT
            state["global_rng"] = {
                "cpu": state["torch_rng"],
                **({"cuda": state["cuda_rng"]} if "cuda_rng" in state else {}),
            }
        elif isinstance(state.get("rng"), dict) and "torch_global" in state["rng"]:  # image trainers
            state["global_rng"] = {"cpu": state["rng"]["torch_global"]}
    return state


def _evaluate_for_card(family: TrainingFamily, out: Path, ctx: Any, steps: int) -> dict[str, Any] | None:
    """The short evaluation of the saved model on the family's held-out data (None when there is none)."""
    from aigc_studio.evaluate.card import card_samples, evaluate_after_training

    data = family.evaluation_data()
    if data is None:
        return None
    items, what = data
    return evaluate_after_training(out, family.kind, items, ctx, what, card_samples(steps))


def _resume(family: TrainingFamily, ctx: Any) -> Resume | None:
    """Load the checkpoint named by ``settings.resume`` and take its settings (except the run fields)."""
    s = family.settings
    if not s.resume:
        return None
    card, tensors, state = load_checkpoint(s.resume, family.resume_kinds or family.kind)
    state = _upgrade_common(family.upgrade_state(dict(state)))
    merged = resumed_settings(state.get("settings", {}), s)
    for key in family.recipe_keys:
        if getattr(merged, key) != getattr(s, key):
            ctx.log(f"Resuming with the checkpoint's {key} = {getattr(merged, key)!r} (not {getattr(s, key)!r}).")
    family.settings = merged
    return Resume(card, tensors, state)


def _halve_for_ranks(batch: int, ctx: Any, ranks: Ranks) -> int:
    """The global batch after an out-of-memory error, kept a multiple of the number of ranks."""
    new = halve_batch(batch, ctx, ctx.device)
    new -= new % ranks.world_size
    if new < ranks.world_size:
        from aigc_studio.errors import StudioError

        raise StudioError(
            f"Out of memory even with a batch of {ranks.world_size} (one per process). "
            "Choose a smaller model, length or resolution."
        )
    return new


def _restore_rng(resume: Resume, ranks: Ranks, ctx: Any) -> None:
    """Each rank's own global RNG state when the world size is the same; rank 0's (with a note) otherwise."""
    state = resume.state
    saved_world = int(state.get("world_size", 1))
    if saved_world == ranks.world_size and "rank_rng" in state:
        restore_global_rng_state(state["rank_rng"][ranks.rank], ctx.device)
        return
    if "global_rng" in state:
        restore_global_rng_state(state["global_rng"], ctx.device)
    if saved_world != ranks.world_size:
        ctx.log(
            f"This checkpoint was trained on {saved_world} process(es), now {ranks.world_size}: training continues "
            "with the same global batch, but not bit-identical to a run that stays at one world size."
        )


def run_training(family: TrainingFamily, ctx: Any, ranks: Ranks | None = None) -> TrainingResult:
    """Train (or resume) ``family`` to ``settings.steps``, saving to ``settings.out``; returns the result.

    Started by torchrun (``RANK``/``WORLD_SIZE`` set), every rank runs this with the others
    (core/distributed.py): one global batch split across them, gradients averaged, one writer.
    """
    own_ranks = False
    if ranks is None:
        from aigc_studio.core.distributed import DistRanks, RankContext, launched_by_torchrun

        if launched_by_torchrun():
            ranks, own_ranks = DistRanks(ctx.device), True
            ctx = RankContext(ctx, ranks)
        else:
            ranks = Ranks()
    distributed = ranks.world_size > 1
    family.ranks = ranks
    resume = _resume(family, ctx)
    s = family.settings
    if s.batch_size % ranks.world_size:
        raise InputError(
            f"The batch ({s.batch_size}) is split evenly among the {ranks.world_size} processes: "
            f"choose a multiple of {ranks.world_size}."
        )
    out = out_path(s.out)
    family.device = ctx.device
    # Same seed, same initial weights; the global RNG (dropout) then runs from the seed too, not from the
    # random state a fresh process starts with, so that two runs and a resumed one stay identical.
    torch.manual_seed(s.seed)
    family.setup(ctx, resume)
    family.shard_data(ranks.rank, ranks.world_size)
    step, elapsed_before = 0, 0.0
    if resume is not None:
        step = int(resume.state["step"])
        elapsed_before = float(resume.state.get("elapsed", 0.0))
        _restore_rng(resume, ranks, ctx)
        ctx.log(f"Resumed {Path(s.resume).name} at step {step} (batch {s.batch_size}).")
        for point in family.replay():
            ctx.partial(point)
    description = family.describe()
    if description:
        ctx.log(description)
    start_step, started = step, time.monotonic()
    losses: dict[str, float] = {}

    last_rank_rng: list[Any] = []  # every rank's global RNG at the last save (several processes)

    def save(quick: bool = False, evaluation: dict[str, Any] | None = None, rng: Any = None, at: float = 0.0) -> None:
        if rng is None:  # every rank takes part in this save (rank 0 writes); the re-save with evaluation is rank 0's
            rng = global_rng_state(ctx.device)
            if distributed:
                last_rank_rng[:] = ranks.gather(rng)
        if not ranks.is_main:  # one process writes the file; the others hold the same weights
            return
        seconds = elapsed_before + (at or time.monotonic()) - started
        state = {
            **family.state(),
            "step": step,
            "settings": s.to_dict(),
            "elapsed": seconds,
            "global_rng": rng,
            "world_size": ranks.world_size,
            **({"rank_rng": list(last_rank_rng)} if distributed else {}),
        }
        card = family.card(step, seconds, quick)
        if evaluation:
            card.evaluation = evaluation
        save_checkpoint(out, family.model_tensors(quick), card, state)

    items, last_report = 0, 0.0
    try:
        while step < s.steps:
            lr = get_lr(step, s)
            if lr is not None:
                for optimizer in family.optimizers:
                    for group in optimizer.param_groups:
                        group["lr"] = lr
            try:
                losses = family.train_step(step)
            except Cancelled:
                raise
            except (RuntimeError, MemoryError) as exc:
                from aigc_studio.core.distributed import PeerOutOfMemory

                if not isinstance(exc, PeerOutOfMemory):
                    if not is_out_of_memory(exc):
                        raise
                    # The other ranks wait at the gradient averaging: tell them, so that all halve together.
                    ranks.any(True, "agreeing on the batch after out-of-memory")
                family.zero_grad()
                # The smaller batch stays in the settings, so the checkpoint resumes with it.
                s.batch_size = (
                    _halve_for_ranks(s.batch_size, ctx, ranks)
                    if distributed
                    else halve_batch(s.batch_size, ctx, ctx.device)
                )
                continue
            step += 1
            items += family.items_per_step()
            losses = ranks.reduce(losses)
            held_out = None
            if s.eval_every and (step % s.eval_every == 0 or step == s.steps):
                held_out = call_halving_on_oom(family.evaluate, s.batch_size, ctx, ctx.device, "held-out batch")
            if held_out is not None:
                held_out = ranks.reduce(held_out)
            family.record(step, losses, held_out)
            preview = None
            if ranks.is_main:
                if s.log_every and step % s.log_every == 0:
                    ctx.log(f"step {step}/{s.steps} · {family.progress_text(losses)}")
                if step % s.loss_interval() == 0 or step == s.steps or (held_out and not family.held_out_separate):
                    values = dict(losses) if family.held_out_separate or not held_out else {**losses, **held_out}
                    ctx.partial(LossPoint(step, values))
                if held_out:
                    if family.held_out_separate:
                        ctx.partial(HeldOutLoss(step, {"loss": held_out["val_loss"], **held_out}))
                    ctx.log(f"step {step}: {family.progress_text(losses)}, held-out {held_out['val_loss']:.3f}")
                if s.sample_every and (step % s.sample_every == 0 or step == s.steps):
                    preview = family.sample(step)
                    if preview is not None:
                        ctx.partial(preview)
                        if isinstance(preview, Sample):
                            ctx.log(f"sample at step {step}: {preview.text[:300]!r}")
            if s.checkpoint_every and step % s.checkpoint_every == 0 and step < s.steps:
                save()
                ctx.log(f"Checkpoint at step {step} → {out}")
            if distributed and ranks.any(ctx.wants_to_stop(), "agreeing to stop"):
                raise Cancelled()  # every rank at the same step, so that the save below sees the same weights
            now = time.monotonic()
            if now - last_report >= PROGRESS_INTERVAL_S or step == s.steps or preview is not None:
                last_report = now
                fraction = 0.02 + 0.98 * (step - start_step) / max(1, s.steps - start_step)
                rate = items / max(1e-6, now - started)
                message = f"step {step}/{s.steps} · {family.progress_text(losses)} · {rate:,.1f} {family.unit}/s"
                image = preview.image if isinstance(preview, Preview) else None
                ctx.progress(fraction, message, preview=image)
            else:
                ctx.check_cancelled()
    except Cancelled:
        if step > start_step:
            save(quick=True)
            ctx.log(f"Stopped at step {step}; resumable checkpoint saved to {out}")
        if own_ranks:
            ranks.close()
        raise
    if distributed:
        ranks.check_same(family.state())  # the ranks took the same steps: a drift would be a bug, say so
    save()
    ctx.log(f"Finished {step} steps → {out}")
    if ranks.is_main and s.evaluate_at_end and step > start_step:
        # The evaluation must leave no trace in the run: the re-saved checkpoint keeps the random
        # state and the training time of the save above, so a later --resume continues exactly.
        rng, finished = global_rng_state(ctx.device), time.monotonic()
        evaluation = _evaluate_for_card(family, out, ctx, step)
        restore_global_rng_state(rng, ctx.device)
        if evaluation:
            save(evaluation=evaluation, rng=rng, at=finished)
    if own_ranks:
        ranks.close()
    return TrainingResult(
        path=str(out),
        kind=family.kind,
        steps=step,
        seconds=elapsed_before + time.monotonic() - started,
        metrics={"losses": losses, **family.result_metrics()},
    )
