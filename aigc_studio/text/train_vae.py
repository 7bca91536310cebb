"""Training the sentence VAE: KL annealing and word dropout (Bowman et al. 2016), exact resume."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import torch

from aigc_studio.core.modelfile import ModelCard, load_into
from aigc_studio.core.oom import backward_or_halve
from aigc_studio.core.rng_state import global_rng_state, restore_global_rng_state
from aigc_studio.core.statefile import load_checkpoint, resumed_settings, save_checkpoint
from aigc_studio.errors import Cancelled, InputError
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
class VAETrainSettings:
    """Every knob of a sentence-VAE run (saved in the checkpoint)."""

    data: list[str] = field(default_factory=list)
    out: str = "text-vae.safetensors"
    steps: int = 3000
    resume: str | None = None
    init: str | None = None
    vocab_size: int = 8000
    embed: int = 128
    hidden: int = 256
    latent: int = 32
    max_len: int = 24
    min_words: int = 3
    batch_size: int = 64
    lr: float = 1e-3
    word_dropout: float = 0.3
    kl_anneal_steps: int = 0  # 0 = half of the run
    kl_max: float = 1.0
    free_bits: float = 0.25
    sample_every: int = 500
    checkpoint_every: int = 500  # 0 = only at the end
    log_every: int = 0  # print a "step N/M" line every N steps (0 = never)
    seed: int = 1337
    name: str = ""
    description: str = ""
    license: str = ""
    data_sources: str = ""


def kl_weight(step: int, s: VAETrainSettings) -> float:
    """Linear KL annealing from 0 to ``kl_max`` (avoids posterior collapse early on)."""
    span = s.kl_anneal_steps or max(1, s.steps // 2)
    return s.kl_max * min(1.0, step / span)


class VAETrainer:
    """Runs one sentence-VAE training session with a JobContext."""

    def __init__(self, settings: VAETrainSettings) -> None:
        self.s = settings

    def run(self, ctx) -> dict[str, Any]:
        """Train; returns a summary (steps, reconstruction, KL, output path)."""
        s = self.s
        torch.manual_seed(s.seed)
        corpus = load_corpus(s.data, log=ctx.log)
        sentences = split_sentences(corpus.text)
        state = None
        if s.resume:
            card, tensors, state = load_checkpoint(s.resume, KIND)
            self.s = s = VAETrainSettings(**resumed_settings(state["settings"], s))
            vocab = WordVocab(card.tokenizer["itos"])
            model = SentenceVAE(VAEConfig(**card.config))
            load_into(model, {k: v for k, v in tensors.items() if k.startswith("vae.")}, s.resume, prefix="vae.")
        else:
            vocab = WordVocab.build(sentences, s.vocab_size)
            model = SentenceVAE(VAEConfig(vocab.size, s.embed, s.hidden, s.latent, s.max_len))
        encoded = [ids for ids in (vocab.encode(x, s.max_len) for x in sentences) if len(ids) >= s.min_words]
        if len(encoded) < 2:
            raise InputError(f"Too few sentences to train a sentence VAE ({len(encoded)} with {s.min_words}+ words).")
        ctx.log(
            f"{len(encoded):,} sentences, {vocab.size:,} words, {sum(p.numel() for p in model.parameters()):,} parameters."
        )
        device = ctx.device
        model.to(device).train()
        optimizer = torch.optim.Adam(model.parameters(), lr=s.lr)
        gen = torch.Generator().manual_seed(s.seed)
        step, elapsed_before, history = 0, 0.0, []
        if state is not None:
            optimizer.load_state_dict(state["optimizer"])
            gen.set_state(state["rng"])
            if "global_rng" in state:
                restore_global_rng_state(state["global_rng"], device)
            step, elapsed_before, history = int(state["step"]), float(state["elapsed"]), state.get("history", [])
            ctx.log(f"Resumed {Path(s.resume).name} at step {step}.")
        started = time.monotonic()
        probe = [vocab.decode(encoded[0]), vocab.decode(encoded[len(encoded) // 2])]

        def snapshot() -> None:
            elapsed = elapsed_before + time.monotonic() - started
            last = history[-1] if history else [0, None, None]
            card = ModelCard(
                kind=KIND,
                **vae_card_fields(model, vocab),
                name=s.name or Path(s.out).stem,
                description=s.description or f"Sentence VAE trained on {len(encoded):,} sentences",
                training={
                    "steps": step,
                    "final_loss": last[1],
                    "reconstruction": last[1],
                    "kl": last[2],
                    "sentences": len(encoded),
                    "seconds": round(elapsed, 1),
                },
                license=s.license,
                data_sources=s.data_sources or ", ".join(p.name for p in corpus.files[:20]),
            )
            run_state = {
                "step": step,
                "optimizer": optimizer.state_dict(),
                "rng": gen.get_state(),
                "global_rng": global_rng_state(device),
                "settings": asdict(s),
                "history": history[-200:],
                "elapsed": elapsed,
            }
            save_checkpoint(s.out, vae_tensors(model), card, run_state)

        try:
            while step < s.steps:
                pick = torch.randint(len(encoded), (min(s.batch_size, len(encoded)),), generator=gen).tolist()
                batch = [encoded[i] for i in pick]
                lengths = torch.tensor([len(b) for b in batch])
                tokens = torch.full((len(batch), int(lengths.max())), PAD, dtype=torch.long)
                for row, ids in enumerate(batch):
                    tokens[row, : len(ids)] = torch.tensor(ids)
                weight = kl_weight(step, s)
                # After an OOM the smaller batch stays in the settings, so the checkpoint resumes with it.
                forward = partial(
                    model.loss, tokens.to(device), lengths.to(device), s.word_dropout, weight, gen, s.free_bits
                )
                result, smaller = backward_or_halve(optimizer, forward, len(batch), ctx, device)
                if result is None:
                    s.batch_size = smaller
                    continue
                total, recon, kl = result
                torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
                optimizer.step()
                step += 1
                history.append([step, float(recon), float(kl)])
                ctx.partial({"type": "loss", "step": step, "loss": float(recon), "kl": float(kl), "kl_weight": weight})
                ctx.progress(step / s.steps, f"step {step}/{s.steps}  recon {float(recon):.2f}  KL {float(kl):.2f}")
                if s.log_every and step % s.log_every == 0:
                    ctx.log(f"step {step}/{s.steps} recon {float(recon):.3f} KL {float(kl):.3f}")
                if s.sample_every and step % s.sample_every == 0:
                    vae = LoadedVAE(model, vocab, None, device)
                    text = " / ".join(vae.homotopy(probe[0], probe[1], 3))
                    model.train()
                    ctx.partial({"type": "sample", "step": step, "text": text})
                    ctx.log(f"step {step}: {text}")
                if s.checkpoint_every and step % s.checkpoint_every == 0 and step < s.steps:
                    snapshot()
                    ctx.log(f"Checkpoint at step {step} → {s.out}")
        except Cancelled:
            snapshot()
            raise
        snapshot()
        return {
            "out": s.out,
            "steps": step,
            "reconstruction": history[-1][1],
            "kl": history[-1][2],
            "sentences": len(encoded),
            "seconds": elapsed_before + time.monotonic() - started,
        }
