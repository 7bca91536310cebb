"""Training the event transformer and the MusicVAE on a folder of MIDI files.

The music families' part of the one training loop (core/training_loop.py):
random batches from the training split (transposed at random), one AdamW step,
held-out loss. The loop does the warm-up and cosine decay, clipping, loss
events, checkpoints and exact resume.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from aigc_studio.core.modelfile import ModelCard, with_article
from aigc_studio.core.training_loop import Resume, TrainingFamily
from aigc_studio.errors import InputError
from aigc_studio.music.dataset import Phrases, TokenWindows, load_corpus, split_validation
from aigc_studio.music.event_model import fill_model, model_tensors, music_transformer_card, new_music_transformer
from aigc_studio.music.tokenizer import MusicTokenizer, TokenizerConfig
from aigc_studio.music.train_settings import MusicTrainSettings, train_settings_for  # noqa: F401 - re-exported
from aigc_studio.music.vae import MusicVAE, MusicVAEConfig, vae_card

KINDS = ("music-transformer", "music-vae")


class TrainMusicJob(TrainingFamily):
    """Train (or resume) a music-transformer or music-vae; returns a TrainingResult."""

    resume_kinds = KINDS
    settings: MusicTrainSettings

    def __init__(self, settings: MusicTrainSettings) -> None:
        if settings.kind not in KINDS:
            raise InputError(f"Unknown music model kind {settings.kind!r}.")
        self.kind = settings.kind
        super().__init__(settings)
        self.unit = "tokens" if self.kind == "music-transformer" else "notes"

    def setup(self, ctx, resume: Resume | None) -> None:
        s = self.settings
        if resume is not None and resume.card.kind != s.kind:
            raise InputError(f"{Path(s.resume).name} is {with_article(resume.card.kind)} checkpoint, not {s.kind}.")
        self.kind = s.kind
        ctx.progress(0.0, "reading MIDI files")
        self.corpus = corpus = load_corpus(s.data, ctx.log, ctx.check_cancelled)
        if corpus.skipped:
            ctx.log(f"skipped {corpus.skipped} of {corpus.files} MIDI files (broken or empty)")
        train_songs, val_songs = split_validation(corpus.songs, s.val_fraction)
        self.train_songs = [song for _, song in train_songs]
        self.val_songs = [song for _, song in val_songs]
        self.gen = torch.Generator().manual_seed(s.seed)
        self.net, self.mt = _build_model(s)
        if s.kind == "music-transformer":
            tok = self.mt.tok
            self.train_data = TokenWindows(self.train_songs, tok, s.context, s.transpose, s.infill_fraction)
            self.mt.limits = self.train_data.limits  # into the card: the decoder never writes more than the data had
            self.val_data = TokenWindows(self.val_songs, tok, s.context, 0, 0.0)
            self.data_size = {"tokens": self.train_data.tokens, "val_tokens": self.val_data.tokens}
        else:
            self.train_data = Phrases(self.train_songs, self.net.config, s.transpose)
            self.val_data = Phrases(self.val_songs, self.net.config, 0)
            self.data_size = {"phrases": len(self.train_data), "val_phrases": len(self.val_data)}
        if resume is not None:
            fill_model(self.net, resume.tensors, s.resume)
        self.net.to(self.device)
        self.optimizer = torch.optim.AdamW(self.net.parameters(), lr=s.lr, weight_decay=s.weight_decay)
        self.optimizers = [self.optimizer]
        self.history: list[dict[str, Any]] = []
        self.seen = 0
        if resume is not None:
            self.optimizer.load_state_dict(resume.state["optimizer"])
            self.gen.set_state(resume.state["generator"])
            self.history = list(resume.state.get("history", []))
            self.seen = int(resume.state.get("seen", 0))
        self.last_val = self.history[-1].get("val_loss") if self.history else None
        self.net.train()

    def describe(self) -> str:
        return (
            f"{len(self.train_songs)} training / {len(self.val_songs)} validation songs, {self.data_size}, "
            f"{sum(p.numel() for p in self.net.parameters()):,} parameters"
        )

    def train_step(self, step: int) -> dict[str, float]:
        s, device = self.settings, self.device
        self.zero_grad()
        if s.kind == "music-transformer":
            x, y = self.train_data.batch(s.batch_size, self.gen)
            self.items = int((y >= 0).sum())  # the global batch; with several processes each trains on its slice
            x, y = self.shard(x), self.shard(y)
            loss = self.net.loss(x.to(device), y.to(device))
            losses = {"loss": float(loss.detach())}
        else:
            batch = self.train_data.batch(s.batch_size, self.gen)
            self.items = batch.numel()
            batch = self.shard(batch).to(device)
            beta = s.beta * min(1.0, step / max(1, s.steps // 3))
            loss, recon, kl = self.net.loss(batch, self.gen, beta=beta)
            losses = {"loss": float(loss.detach()), "recon": float(recon.detach()), "kl": float(kl.detach())}
        loss.backward()
        self.seen += self.items
        self.clip_and_step(self.net.parameters())
        return losses

    def items_per_step(self) -> int:
        return self.items

    def evaluate(self, batch_size: int) -> dict[str, float]:
        s, net, device = self.settings, self.net, self.device
        net.eval()
        eval_gen = torch.Generator().manual_seed(0)
        total = 0.0
        try:
            with torch.no_grad():
                for _ in range(s.eval_batches):
                    if s.kind == "music-transformer":
                        x, y = self.val_data.batch(batch_size, eval_gen, infill=False)
                        total += float(net.loss(x.to(device), y.to(device)))
                    else:
                        batch = self.val_data.batch(batch_size, eval_gen, augment=False).to(device)
                        total += float(net.loss(batch, eval_gen, beta=0.0)[1])
        finally:
            net.train()  # also after an out-of-memory failure, which the caller retries
        self.last_val = total / s.eval_batches
        return {"val_loss": self.last_val}

    def record(self, step: int, losses: dict[str, float], held_out: dict[str, float] | None) -> None:
        self.history.append({"type": "loss", "step": step, **losses, **(held_out or {})})

    def state(self) -> dict[str, Any]:
        return {
            "optimizer": self.optimizer.state_dict(),
            "generator": self.gen.get_state(),
            "history": self.history[-2000:],
            "seen": self.seen,
        }

    def model_tensors(self, quick: bool) -> dict[str, torch.Tensor]:
        return model_tensors(self.net)

    def card(self, step: int, seconds: float, quick: bool) -> ModelCard:
        s, corpus = self.settings, self.corpus
        training = {
            "steps": step,
            "final_loss": self.history[-1]["loss"] if self.history else None,
            "val_loss": self.last_val,
            "files": corpus.files,
            "skipped": corpus.skipped,
            "train_songs": len(self.train_songs),
            "val_songs": len(self.val_songs),
            **self.data_size,
            "seconds": round(seconds, 1),
            "batch_size": s.batch_size,
            "transpose": s.transpose,
            "seen": self.seen,
        }
        fields_ = dict(training=training, untrained=step == 0, **self.card_fields(""))
        if s.kind == "music-transformer":
            return music_transformer_card(self.mt, **fields_)
        return vae_card(self.net, **fields_)

    def evaluation_data(self) -> tuple[Any, str] | None:
        """The validation songs."""
        return (self.val_songs, "held-out split") if len(self.val_songs) >= 2 else None

    def result_metrics(self) -> dict[str, Any]:
        return {"val_loss": self.last_val}


def _build_model(s: MusicTrainSettings):
    if s.kind == "music-transformer":
        tok = MusicTokenizer(TokenizerConfig(steps_per_beat=s.steps_per_beat))
        mt = new_music_transformer(tok, s.layers, s.heads, s.width, s.context)
        return mt.model, mt
    return MusicVAE(MusicVAEConfig(hidden=s.hidden, latent=s.latent)), None
