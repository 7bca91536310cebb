"""Training the own GPT on a corpus: from scratch, fine-tuned (--init) or resumed exactly.

One plain loop (nanoGPT style): random windows from the training split,
AdamW with warm-up and cosine decay, held-out loss, sample text, atomic
checkpoints that hold optimiser and RNG state so that resume is exact.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import torch

from aigc_studio.core.modelfile import ModelCard
from aigc_studio.core.oom import backward_or_halve, call_halving_on_oom
from aigc_studio.core.rng_state import global_rng_state, restore_global_rng_state
from aigc_studio.core.statefile import load_checkpoint, resumed_settings, save_checkpoint
from aigc_studio.errors import Cancelled, InputError
from aigc_studio.nn.sampling import SamplingSettings
from aigc_studio.nn.transformer import TransformerConfig, TransformerLM
from aigc_studio.text.corpus import load_corpus
from aigc_studio.text.generate import stream_text
from aigc_studio.text.gpt import KIND, OwnGPT, config_from_card, gpt_tensors, load_gpt, load_gpt_tensors, new_gpt_model
from aigc_studio.text.tokenizer import TextTokenizer, tokenizer_from_card, train_tokenizer


@dataclass
class GPTTrainSettings:
    """Every knob of a GPT training run (saved in the checkpoint so resume uses the same)."""

    data: list[str] = field(default_factory=list)
    out: str = "text-gpt.safetensors"
    steps: int = 2000
    resume: str | None = None
    init: str | None = None
    tokenizer: str = "auto"  # auto, char or bpe
    vocab_size: int = 2048
    layers: int = 4
    heads: int = 4
    width: int = 128
    context: int = 128
    dropout: float = 0.0
    batch_size: int = 16
    lr: float = 1e-3
    min_lr: float = 1e-4
    warmup: int = 100
    weight_decay: float = 0.1
    val_fraction: float = 0.1
    eval_every: int = 250
    eval_batches: int = 20
    sample_every: int = 500
    sample_tokens: int = 200
    sample_prompt: str = "\n"
    checkpoint_every: int = 500  # 0 = only at the end
    log_every: int = 0  # print a "step N/M" line every N steps (0 = never)
    seed: int = 1337
    name: str = ""
    description: str = ""
    license: str = ""
    data_sources: str = ""


def lr_at(step: int, s: GPTTrainSettings) -> float:
    """Linear warm-up, then cosine decay to ``min_lr`` at the last step."""
    if step < s.warmup:
        return s.lr * (step + 1) / s.warmup
    progress = min(1.0, (step - s.warmup) / max(1, s.steps - s.warmup))
    return s.min_lr + 0.5 * (s.lr - s.min_lr) * (1 + math.cos(math.pi * progress))


def _batch(data: torch.Tensor, context: int, size: int, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    starts = torch.randint(len(data) - context - 1, (size,), generator=gen)
    x = torch.stack([data[i : i + context] for i in starts.tolist()]).long()
    y = torch.stack([data[i + 1 : i + 1 + context] for i in starts.tolist()]).long()
    return x, y


@torch.no_grad()
def evaluate(model: TransformerLM, data: torch.Tensor, context: int, batches: int, batch_size: int, device) -> float:
    """Mean next-token loss on fixed random windows of ``data`` (same windows every call)."""
    gen = torch.Generator().manual_seed(0)
    was_training = model.training
    model.eval()
    losses = []
    try:
        with torch.no_grad():
            for _ in range(batches):
                x, y = _batch(data, context, batch_size, gen)
                losses.append(float(model.loss(x.to(device), y.to(device))))
    finally:
        model.train(was_training)  # also after an out-of-memory failure, which the caller retries
    return sum(losses) / len(losses)


class GPTTrainer:
    """Runs one training session with a JobContext (GUI, CLI and tests alike)."""

    def __init__(self, settings: GPTTrainSettings) -> None:
        self.s = settings

    def _setup(self, ctx, text: str) -> tuple[TransformerLM, TextTokenizer, dict | None]:
        s = self.s
        if s.resume:
            card, tensors, state = load_checkpoint(s.resume, KIND)
            config = config_from_card(card)
            tokenizer = tokenizer_from_card(card.tokenizer)
            model = new_gpt_model(config)
            load_gpt_tensors(model, tensors, s.resume)
            ctx.log(f"Resumed {Path(s.resume).name} at step {state['step']}.")
            return model, tokenizer, state
        if s.init:
            base = load_gpt(s.init)
            ctx.log(f"Fine-tuning {Path(s.init).name} (its tokenizer and architecture are kept).")
            return base.model, base.tokenizer, None
        ctx.progress(0.0, "Building the tokenizer…")
        tokenizer = train_tokenizer(text, s.tokenizer, s.vocab_size)
        config = TransformerConfig(
            vocab_size=tokenizer.vocab_size,
            context=s.context,
            layers=s.layers,
            heads=s.heads,
            width=s.width,
            dropout=s.dropout,
        )
        return new_gpt_model(config), tokenizer, None

    def run(self, ctx) -> dict[str, Any]:
        """Train; returns a summary dict (steps, losses, nats per char, output path)."""
        s = self.s
        torch.manual_seed(s.seed)
        corpus = load_corpus(s.data, log=ctx.log)
        model, tokenizer, state = self._setup(ctx, corpus.text)
        if state is not None:  # the run's settings come from the checkpoint, except length, paths and reporting
            self.s = s = GPTTrainSettings(**resumed_settings(state["settings"], s))
        context = model.config.context
        ctx.progress(0.0, "Tokenising…")
        data = torch.tensor(tokenizer.encode(corpus.text), dtype=torch.int32)
        n_val = int(len(data) * s.val_fraction)
        train, val = data[: len(data) - n_val], data[len(data) - n_val :]
        if len(train) < context + 2:
            raise InputError(
                f"The training text is too short: {len(train)} tokens, but the model reads {context} at a time. "
                "Add more text or use a smaller context."
            )
        if len(val) < context + 2:
            val = None
            ctx.log("Too little text for a held-out split; reporting training loss only.")
        chars_per_token = len(tokenizer.decode(val.tolist())) / len(val) if val is not None else 1.0
        device = ctx.device
        model.to(device).train()
        decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
        no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
        optimizer = torch.optim.AdamW(
            [{"params": decay, "weight_decay": s.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
            lr=s.lr,
            betas=(0.9, 0.95),
        )
        gen = torch.Generator().manual_seed(s.seed)
        step, history = 0, {"val": [], "train": []}
        elapsed_before = 0.0
        if state is not None:
            optimizer.load_state_dict(state["optimizer"])
            gen.set_state(state["rng"])
            torch.set_rng_state(state["torch_rng"])  # dropout draws from the global RNG
            if "cuda_rng" in state:
                restore_global_rng_state({"cpu": state["torch_rng"], "cuda": state["cuda_rng"]}, device)
            step = int(state["step"])
            history = state.get("history", history)
            elapsed_before = float(state.get("elapsed", 0.0))
        ctx.log(
            f"{model.num_parameters():,} parameters, {tokenizer.to_card()['type']} tokenizer with {tokenizer.vocab_size} tokens, "
            f"{len(train):,} training and {0 if val is None else len(val):,} held-out tokens."
        )
        started = time.monotonic()
        trained_tokens = 0
        log_every = max(1, s.steps // 400)

        def snapshot() -> None:
            elapsed = elapsed_before + time.monotonic() - started
            card = self._card(model, tokenizer, corpus, step, history, elapsed, chars_per_token)
            rngs = global_rng_state(device)
            run_state = {
                "step": step,
                "optimizer": optimizer.state_dict(),
                "rng": gen.get_state(),
                "torch_rng": rngs["cpu"],
                **({"cuda_rng": rngs["cuda"]} if "cuda" in rngs else {}),
                "settings": asdict(s),
                "history": history,
                "elapsed": elapsed,
            }
            save_checkpoint(s.out, gpt_tensors(model), card, run_state)

        try:
            while step < s.steps:
                for group in optimizer.param_groups:
                    group["lr"] = lr_at(step, s)
                x, y = _batch(train, context, s.batch_size, gen)
                # After an OOM the smaller batch stays in the settings, so the checkpoint resumes with it.
                loss, s.batch_size = backward_or_halve(
                    optimizer, partial(model.loss, x.to(device), y.to(device)), s.batch_size, ctx, device
                )
                if loss is None:
                    continue
                torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                optimizer.step()
                step += 1
                trained_tokens += x.numel()
                value = float(loss.detach())
                rate = trained_tokens / max(1e-6, time.monotonic() - started)
                if s.log_every and step % s.log_every == 0:
                    ctx.log(f"step {step}/{s.steps} loss {value:.3f}")
                if step % log_every == 0 or step == s.steps:
                    history["train"].append([step, value])
                    ctx.partial({"type": "loss", "step": step, "loss": value, "tokens_per_s": rate})
                ctx.progress(step / s.steps, f"step {step}/{s.steps}  loss {value:.3f}  {rate:,.0f} tok/s")
                if val is not None and (step % s.eval_every == 0 or step == s.steps):
                    val_loss = call_halving_on_oom(
                        lambda batch: evaluate(model, val, context, s.eval_batches, batch, device),
                        s.batch_size,
                        ctx,
                        device,
                        "held-out batch",
                    )
                    history["val"].append([step, val_loss])
                    ctx.partial(
                        {
                            "type": "val_loss",
                            "step": step,
                            "loss": val_loss,
                            "nats_per_char": val_loss / chars_per_token,
                        }
                    )
                    ctx.log(
                        f"step {step}: train {value:.3f}, held-out {val_loss:.3f} nats/token = {val_loss / chars_per_token:.3f} nats/char"
                    )
                if s.sample_every and (step % s.sample_every == 0 or step == s.steps):
                    sample = self._sample(model, tokenizer, card_name=s.name, device=device)
                    ctx.partial({"type": "sample", "step": step, "text": sample})
                    ctx.log(f"sample at step {step}: {sample[:300]!r}")
                if s.checkpoint_every and step % s.checkpoint_every == 0 and step < s.steps:
                    snapshot()
                    ctx.log(f"Checkpoint at step {step} → {s.out}")
        except Cancelled:
            snapshot()  # keep the work; the run can be resumed from here
            ctx.log(f"Stopped at step {step}; checkpoint saved to {s.out}.")
            raise
        snapshot()
        final_val = history["val"][-1][1] if history["val"] else None
        return {
            "out": s.out,
            "steps": step,
            "train_loss": history["train"][-1][1] if history["train"] else None,
            "val_loss": final_val,
            "val_nats_per_char": final_val / chars_per_token if final_val is not None else None,
            "parameters": model.num_parameters(),
            "seconds": elapsed_before + time.monotonic() - started,
        }

    def _sample(self, model: TransformerLM, tokenizer: TextTokenizer, card_name: str, device) -> str:
        lm = OwnGPT(model, tokenizer, ModelCard(KIND, {}, name=card_name), device)
        settings = SamplingSettings(temperature=0.8, top_k=0, top_p=0.95, max_new_tokens=self.s.sample_tokens)
        text = "".join(stream_text(lm, self.s.sample_prompt, settings, torch.Generator().manual_seed(7)))
        model.train()
        return text

    def _card(self, model, tokenizer, corpus, step, history, elapsed, chars_per_token) -> ModelCard:
        s = self.s
        val = history["val"][-1][1] if history["val"] else None
        training = {
            "steps": step,
            "final_loss": history["train"][-1][1] if history["train"] else None,
            "val_loss": val,
            "val_nats_per_char": None if val is None else val / chars_per_token,
            "data_chars": corpus.chars,
            "data_files": len(corpus.files),
            "seconds": round(elapsed, 1),
            "batch_size": s.batch_size,
            "parameters": model.num_parameters(),
            "fine_tuned_from": Path(s.init).name if s.init else None,
        }
        return ModelCard(
            kind=KIND,
            config=asdict(model.config),
            name=s.name or Path(s.out).stem,
            description=s.description or f"GPT trained on {len(corpus.files)} file(s)",
            tokenizer=tokenizer.to_card(),
            training=training,
            license=s.license,
            data_sources=s.data_sources or ", ".join(p.name for p in corpus.files[:20]),
        )
