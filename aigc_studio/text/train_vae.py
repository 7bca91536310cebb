"""Training the sentence VAE: KL annealing and word dropout (Bowman et al. 2016), exact resume."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

from aigc_studio.core.events import LossPoint, Sample
from aigc_studio.core.modelfile import ModelCard, load_into
from aigc_studio.core.train_settings import TrainSettings
from aigc_studio.core.training_loop import Resume, TrainingFamily
from aigc_studio.errors import InputError
from aigc_studio.text.corpus import load_corpus
from aigc_studio.text.vae import (
    KIND,
    PAD,
    LoadedVAE,
    SentenceVAE,
    VAEConfig,
    WordVocab,
    split_sentences,
    vae_card_fields,
    vae_tensors,
)


@dataclass
class VAETrainSettings(TrainSettings):
    """Every knob of a sentence-VAE run (saved in the checkpoint)."""

    data: list[str] = field(default_factory=list)
    out: str = "text-vae.safetensors"
    steps: int = 3000
    init: str | None = None
    vocab_size: int = 8000
    embed: int = 128
    hidden: int = 256
    latent: int = 32
    max_len: int = 24
    min_words: int = 3
    batch_size: int = 64
    lr: float = 1e-3
    grad_clip: float = 5.0
    word_dropout: float = 0.3
    kl_anneal_steps: int = 0  # 0 = half of the run
    kl_max: float = 1.0
    free_bits: float = 0.25
    sample_every: int = 500
    checkpoint_every: int = 500  # 0 = only at the end


def kl_weight(step: int, s: VAETrainSettings) -> float:
    """Linear KL annealing from 0 to ``kl_max`` (avoids posterior collapse early on)."""
    span = s.kl_anneal_steps or max(1, s.steps // 2)
    return s.kl_max * min(1.0, step / span)


class VAETrainer(TrainingFamily):
    """The sentence VAE's part of the training loop: sentences, vocabulary, one Adam step, blends as samples."""

    kind = KIND
    unit = "sentences"
    settings: VAETrainSettings

    def __init__(self, settings: VAETrainSettings) -> None:
        super().__init__(settings)
        self.title = "Train sentence VAE"

    def setup(self, ctx, resume: Resume | None) -> None:
        s = self.settings
        self.corpus = load_corpus(s.data, log=ctx.log)
        sentences = split_sentences(self.corpus.text)
        if resume is not None:
            self.vocab = WordVocab(resume.card.tokenizer["itos"])
            self.model = SentenceVAE(VAEConfig(**resume.card.config))
            tensors = {k: v for k, v in resume.tensors.items() if k.startswith("vae.")}
            load_into(self.model, tensors, s.resume, prefix="vae.")
        else:
            self.vocab = WordVocab.build(sentences, s.vocab_size)
            self.model = SentenceVAE(VAEConfig(self.vocab.size, s.embed, s.hidden, s.latent, s.max_len))
        encoded = [ids for ids in (self.vocab.encode(x, s.max_len) for x in sentences) if len(ids) >= s.min_words]
        if len(encoded) < 2:
            raise InputError(f"Too few sentences to train a sentence VAE ({len(encoded)} with {s.min_words}+ words).")
        self.encoded = encoded
        self.model.to(self.device).train()
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=s.lr)
        self.optimizers = [self.optimizer]
        self.gen = torch.Generator().manual_seed(s.seed)
        self.history: list[list[float]] = []
        if resume is not None:
            self.optimizer.load_state_dict(resume.state["optimizer"])
            self.gen.set_state(resume.state["rng"])
            self.history = resume.state.get("history", [])
        self.probe = [self.vocab.decode(encoded[0]), self.vocab.decode(encoded[len(encoded) // 2])]

    def describe(self) -> str:
        parameters = sum(p.numel() for p in self.model.parameters())
        return f"{len(self.encoded):,} sentences, {self.vocab.size:,} words, {parameters:,} parameters."

    def train_step(self, step: int) -> dict[str, float]:
        s, device = self.settings, self.device
        pick = torch.randint(len(self.encoded), (min(s.batch_size, len(self.encoded)),), generator=self.gen).tolist()
        batch = [self.encoded[i] for i in pick]
        lengths = torch.tensor([len(b) for b in batch])
        tokens = torch.full((len(batch), int(lengths.max())), PAD, dtype=torch.long)
        for row, ids in enumerate(batch):
            tokens[row, : len(ids)] = torch.tensor(ids)
        tokens, lengths = self.shard(tokens), self.shard(lengths)  # this process's part of the global batch
        weight = kl_weight(step, s)
        if s.batch_size > len(batch):  # a tiny corpus: the batch is all of it, and an OOM halves from there
            s.batch_size = len(batch)
        self.zero_grad()
        total, recon, kl = self.model.loss(
            tokens.to(device), lengths.to(device), s.word_dropout, weight, self.gen, s.free_bits
        )
        total.backward()
        self.clip_and_step(self.model.parameters())
        return {"loss": float(recon), "kl": float(kl), "kl_weight": weight}

    def progress_text(self, losses: dict[str, float]) -> str:
        return f"recon {losses['loss']:.3f}  KL {losses['kl']:.3f}"

    def record(self, step: int, losses: dict[str, float], held_out: dict[str, float] | None) -> None:
        self.history.append([step, losses["loss"], losses["kl"]])

    def replay(self) -> list[LossPoint]:
        return [LossPoint(int(step), {"loss": recon, "kl": kl}) for step, recon, kl in self.history]

    def sample(self, step: int) -> Sample:
        vae = LoadedVAE(self.model, self.vocab, None, self.device)
        text = " / ".join(vae.homotopy(self.probe[0], self.probe[1], 3))
        self.model.train()
        return Sample(step, text)

    def state(self) -> dict[str, Any]:
        return {"optimizer": self.optimizer.state_dict(), "rng": self.gen.get_state(), "history": self.history[-200:]}

    def model_tensors(self, quick: bool) -> dict[str, torch.Tensor]:
        return vae_tensors(self.model)

    def card(self, step: int, seconds: float, quick: bool) -> ModelCard:
        last = self.history[-1] if self.history else [0, None, None]
        return ModelCard(
            kind=KIND,
            **vae_card_fields(self.model, self.vocab),
            training={
                "steps": step,
                "final_loss": last[1],
                "reconstruction": last[1],
                "kl": last[2],
                "sentences": len(self.encoded),
                "seconds": round(seconds, 1),
                "batch_size": self.settings.batch_size,
            },
            **self.card_fields(
                f"Sentence VAE trained on {len(self.encoded):,} sentences",
                ", ".join(p.name for p in self.corpus.files[:20]),
            ),
        )

    def evaluation_data(self) -> tuple[Any, str] | None:
        """The training sentences: the sentence VAE keeps no held-out split, so this checks for copies."""
        from aigc_studio.text.vae import split_sentences

        return split_sentences(self.corpus.text), "training sentences (no held-out split)"

    def result_metrics(self) -> dict[str, Any]:
        last = self.history[-1] if self.history else [0, None, None]
        return {"reconstruction": last[1], "kl": last[2], "sentences": len(self.encoded)}
