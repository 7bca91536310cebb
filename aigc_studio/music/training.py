"""Training the event transformer and the MusicVAE on a folder of MIDI files.

Plain loops: random batches from the training split, AdamW with warm-up and
cosine decay, held-out loss, loss points streamed through ``ctx.partial``,
atomic checkpoints holding optimiser and RNG state so that resume is exact.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict
from functools import partial
from pathlib import Path
from typing import Any

import torch

from aigc_studio.core.modelfile import with_article
from aigc_studio.core.oom import backward_or_halve, call_halving_on_oom
from aigc_studio.core.rng_state import global_rng_state, restore_global_rng_state
from aigc_studio.core.statefile import load_checkpoint, save_checkpoint
from aigc_studio.errors import Cancelled, InputError
from aigc_studio.music.dataset import Phrases, TokenWindows, load_corpus, split_validation
from aigc_studio.music.event_model import fill_model, model_tensors, music_transformer_card, new_music_transformer
from aigc_studio.music.tokenizer import MusicTokenizer, TokenizerConfig
from aigc_studio.music.train_settings import MusicTrainSettings, train_settings_for  # noqa: F401 - re-exported
from aigc_studio.music.vae import MusicVAE, MusicVAEConfig, vae_card


def _lr(settings: MusicTrainSettings, step: int) -> float:
    if step < settings.warmup:
        return settings.lr * (step + 1) / settings.warmup
    progress = min(1.0, (step - settings.warmup) / max(1, settings.steps - settings.warmup))
    return settings.min_lr + 0.5 * (settings.lr - settings.min_lr) * (1 + math.cos(math.pi * progress))


class TrainMusicJob:
    """Train (or resume) a music-transformer or music-vae; returns the output path."""

    trains = True  # builds optimisers: warm_up_training() first (see core/jobs.py)

    def __init__(self, settings: MusicTrainSettings) -> None:
        self.settings = settings
        self.title = f"Train {settings.kind}"

    def run(self, ctx) -> str:
        s = self.settings
        state: dict[str, Any] | None = None
        resume_tensors = None
        if s.resume:
            card, resume_tensors, state = load_checkpoint(s.resume, ("music-transformer", "music-vae"))
            saved = MusicTrainSettings.from_dict(state["settings"])
            saved.steps, saved.out, saved.resume, saved.data = s.steps, s.out, s.resume, s.data or saved.data
            saved.checkpoint_every, saved.log_every = s.checkpoint_every, s.log_every  # reporting, not training
            s = self.settings = saved
            if card.kind != s.kind:
                raise InputError(f"{Path(s.resume).name} is {with_article(card.kind)} checkpoint, not {s.kind}.")
        if s.kind not in ("music-transformer", "music-vae"):
            raise InputError(f"Unknown music model kind {s.kind!r}.")
        ctx.progress(0.0, "reading MIDI files")
        corpus = load_corpus(s.data, ctx.log, ctx.check_cancelled)
        if corpus.skipped:
            ctx.log(f"skipped {corpus.skipped} of {corpus.files} MIDI files (broken or empty)")
        train_songs, val_songs = split_validation(corpus.songs, s.val_fraction)
        train_songs = [song for _, song in train_songs]
        val_songs = [song for _, song in val_songs]
        gen = torch.Generator().manual_seed(s.seed)
        device = ctx.device
        # Same seed, same initial weights; the global RNG (dropout) then runs from the seed too, not from
        # the random state a fresh process starts with, so that two runs and a resumed one stay identical.
        torch.manual_seed(s.seed)
        net, mt = _build_model(s)
        if s.kind == "music-transformer":
            tok = mt.tok
            train_data = TokenWindows(train_songs, tok, s.context, s.transpose, s.infill_fraction)
            mt.limits = train_data.limits  # into the card: the decoder never writes more than the data had
            val_data = TokenWindows(val_songs, tok, s.context, 0, 0.0)
            data_size = {"tokens": train_data.tokens, "val_tokens": val_data.tokens}
        else:
            train_data = Phrases(train_songs, net.config, s.transpose)
            val_data = Phrases(val_songs, net.config, 0)
            data_size = {"phrases": len(train_data), "val_phrases": len(val_data)}
        if resume_tensors is not None:
            fill_model(net, resume_tensors, s.resume)
        net.to(device)
        opt = torch.optim.AdamW(net.parameters(), lr=s.lr, weight_decay=s.weight_decay)
        step, history, elapsed_before, seen = 0, [], 0.0, 0
        if state is not None:
            opt.load_state_dict(state["optimizer"])
            gen.set_state(state["generator"])
            if "global_rng" in state:
                restore_global_rng_state(state["global_rng"], device)
            step, history = int(state["step"]), list(state.get("history", []))
            elapsed_before, seen = float(state.get("elapsed", 0.0)), int(state.get("seen", 0))
            ctx.log(f"Resumed {Path(s.resume).name} at step {step}.")
        ctx.log(
            f"{len(train_songs)} training / {len(val_songs)} validation songs, {data_size}, "
            f"{sum(p.numel() for p in net.parameters()):,} parameters"
        )
        started = time.monotonic()
        last_val = history[-1].get("val_loss") if history else None

        def evaluate(batch_size: int) -> float:
            net.eval()
            eval_gen = torch.Generator().manual_seed(0)
            total = 0.0
            try:
                with torch.no_grad():
                    for _ in range(s.eval_batches):
                        if s.kind == "music-transformer":
                            x, y = val_data.batch(batch_size, eval_gen, infill=False)
                            total += float(net.loss(x.to(device), y.to(device)))
                        else:
                            batch = val_data.batch(batch_size, eval_gen, augment=False).to(device)
                            total += float(net.loss(batch, eval_gen, beta=0.0)[1])
            finally:
                net.train()  # also after an out-of-memory failure, which the caller retries
            return total / s.eval_batches

        def checkpoint(final: bool = False) -> None:
            nonlocal elapsed_before, started
            elapsed = elapsed_before + time.monotonic() - started
            training = {
                "steps": step,
                "final_loss": history[-1]["loss"] if history else None,
                "val_loss": last_val,
                "files": corpus.files,
                "skipped": corpus.skipped,
                "train_songs": len(train_songs),
                "val_songs": len(val_songs),
                **data_size,
                "time_s": round(elapsed, 1),
                "batch_size": s.batch_size,
                "transpose": s.transpose,
                "seen": seen,
            }
            fields_ = dict(
                name=s.name or Path(s.out).stem,
                description=s.description,
                training=training,
                license=s.license,
                data_sources=s.data_sources,
                untrained=step == 0,
            )
            card = music_transformer_card(mt, **fields_) if s.kind == "music-transformer" else vae_card(net, **fields_)
            st = {
                "settings": asdict(s),
                "step": step,
                "optimizer": opt.state_dict(),
                "generator": gen.get_state(),
                "global_rng": global_rng_state(device),
                "history": history[-2000:],
                "elapsed": elapsed,
                "seen": seen,
            }
            save_checkpoint(s.out, model_tensors(net), card, st)

        net.train()
        last_report = 0.0
        try:
            while step < s.steps:
                for group in opt.param_groups:
                    group["lr"] = _lr(s, step)
                # After an OOM the smaller batch stays in the settings, so the checkpoint resumes with it.
                result, s.batch_size = backward_or_halve(
                    opt, partial(_forward, s, net, train_data, gen, step, device), s.batch_size, ctx, device
                )
                if result is None:
                    continue
                loss, point, items = result
                seen += items
                torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
                opt.step()
                step += 1
                if step % s.eval_every == 0 or step == s.steps:
                    last_val = call_halving_on_oom(evaluate, s.batch_size, ctx, device, "held-out batch")
                    point["val_loss"] = last_val
                    ctx.log(f"step {step}: loss {point['loss']:.3f} val {last_val:.3f}")
                history.append(point)
                ctx.partial(point)
                if s.log_every and step % s.log_every == 0:
                    ctx.log(f"step {step}/{s.steps} loss {point['loss']:.3f}")
                now = time.monotonic()
                if now - last_report > 0.2 or step == s.steps:
                    last_report = now
                    ctx.progress(step / s.steps, f"step {step}/{s.steps} loss {point['loss']:.3f}")
                if s.checkpoint_every and step % s.checkpoint_every == 0 and step < s.steps:
                    checkpoint()
                    ctx.log(f"Checkpoint at step {step} → {s.out}")
        except Cancelled:
            checkpoint()
            raise
        checkpoint(final=True)
        return s.out


def _forward(s: MusicTrainSettings, net, train_data, gen: torch.Generator, step: int, device):
    """One training batch through the model: (loss, loss-history point, items seen)."""
    if s.kind == "music-transformer":
        x, y = train_data.batch(s.batch_size, gen)
        loss = net.loss(x.to(device), y.to(device))
        return loss, {"type": "loss", "step": step + 1, "loss": float(loss.detach())}, int((y >= 0).sum())
    batch = train_data.batch(s.batch_size, gen).to(device)
    beta = s.beta * min(1.0, step / max(1, s.steps // 3))
    loss, recon, kl = net.loss(batch, gen, beta=beta)
    point = {
        "type": "loss",
        "step": step + 1,
        "loss": float(loss.detach()),
        "recon": float(recon.detach()),
        "kl": float(kl.detach()),
    }
    return loss, point, batch.numel()


def _build_model(s: MusicTrainSettings):
    if s.kind == "music-transformer":
        tok = MusicTokenizer(TokenizerConfig(steps_per_beat=s.steps_per_beat))
        mt = new_music_transformer(tok, s.layers, s.heads, s.width, s.context)
        return mt.model, mt
    return MusicVAE(MusicVAEConfig(hidden=s.hidden, latent=s.latent)), None
