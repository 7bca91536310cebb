"""Training the own GPT on a corpus: from scratch, fine-tuned (--init) or resumed exactly.

The family's part of the one training loop (core/training_loop.py): random
windows from the training split, one AdamW step, held-out loss, sample text.
The loop does the warm-up and cosine decay, clipping, checkpoints and resume.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from aigc_studio.core.events import HeldOutLoss, LossPoint, Sample
from aigc_studio.core.modelfile import ModelCard
from aigc_studio.core.train_settings import TrainSettings
from aigc_studio.core.training_loop import Resume, TrainingFamily
from aigc_studio.errors import InputError
from aigc_studio.nn.sampling import SamplingSettings
from aigc_studio.nn.transformer import TransformerConfig, TransformerLM
from aigc_studio.text.corpus import load_corpus
from aigc_studio.text.generate import stream_text
from aigc_studio.text.gpt import KIND, OwnGPT, config_from_card, gpt_tensors, load_gpt, load_gpt_tensors, new_gpt_model
from aigc_studio.text.tokenizer import TextTokenizer, tokenizer_from_card, train_tokenizer


@dataclass
class GPTTrainSettings(TrainSettings):
    """Every knob of a GPT training run (saved in the checkpoint so resume uses the same)."""

    data: list[str] = field(default_factory=list)
    out: str = "text-gpt.safetensors"
    steps: int = 2000
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
    grad_clip: float = 1.0
    weight_decay: float = 0.1
    val_fraction: float = 0.1
    eval_every: int = 250
    eval_batches: int = 20
    sample_every: int = 500
    sample_tokens: int = 200
    sample_prompt: str = "\n"
    checkpoint_every: int = 500  # 0 = only at the end
    loss_every: int = 0  # about 400 loss points over the run


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


class GPTTrainer(TrainingFamily):
    """The own GPT's part of the training loop: corpus, tokenizer, model, one AdamW step, held-out loss."""

    kind = KIND
    held_out_separate = True
    unit = "tok"
    settings: GPTTrainSettings

    def __init__(self, settings: GPTTrainSettings) -> None:
        super().__init__(settings)
        self.title = "Train text GPT"

    def _model(self, ctx, resume: Resume | None, text: str) -> tuple[TransformerLM, TextTokenizer]:
        s = self.settings
        if resume is not None:
            model = new_gpt_model(config_from_card(resume.card))
            load_gpt_tensors(model, resume.tensors, s.resume)
            return model, tokenizer_from_card(resume.card.tokenizer)
        if s.init:
            base = load_gpt(s.init)
            ctx.log(f"Fine-tuning {Path(s.init).name} (its tokenizer and architecture are kept).")
            return base.model, base.tokenizer
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
        return new_gpt_model(config), tokenizer

    def setup(self, ctx, resume: Resume | None) -> None:
        s = self.settings
        self.corpus = load_corpus(s.data, log=ctx.log)
        self.model, self.tokenizer = model, tokenizer = self._model(ctx, resume, self.corpus.text)
        self.context = context = model.config.context
        ctx.progress(0.0, "Tokenising…")
        data = torch.tensor(tokenizer.encode(self.corpus.text), dtype=torch.int32)
        n_val = int(len(data) * s.val_fraction)
        self.train, val = data[: len(data) - n_val], data[len(data) - n_val :]
        if len(self.train) < context + 2:
            raise InputError(
                f"The training text is too short: {len(self.train)} tokens, but the model reads {context} at a time. "
                "Add more text or use a smaller context."
            )
        if len(val) < context + 2:
            val = None
            ctx.log("Too little text for a held-out split; reporting training loss only.")
        self.val = val
        self.chars_per_token = len(tokenizer.decode(val.tolist())) / len(val) if val is not None else 1.0
        model.to(self.device).train()
        decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
        no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
        self.optimizer = torch.optim.AdamW(
            [{"params": decay, "weight_decay": s.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
            lr=s.lr,
            betas=(0.9, 0.95),
        )
        self.optimizers = [self.optimizer]
        self.gen = torch.Generator().manual_seed(s.seed)
        self.history: dict[str, list] = {"val": [], "train": []}
        if resume is not None:
            self.optimizer.load_state_dict(resume.state["optimizer"])
            self.gen.set_state(resume.state["rng"])
            self.history = resume.state.get("history", self.history)

    def describe(self) -> str:
        return (
            f"{self.model.num_parameters():,} parameters, {self.tokenizer.to_card()['type']} tokenizer with "
            f"{self.tokenizer.vocab_size} tokens, {len(self.train):,} training and "
            f"{0 if self.val is None else len(self.val):,} held-out tokens."
        )

    def train_step(self, step: int) -> dict[str, float]:
        x, y = _batch(self.train, self.context, self.settings.batch_size, self.gen)
        self.items = x.numel()  # the global batch; with several processes each trains on its slice
        x, y = self.shard(x), self.shard(y)
        self.zero_grad()
        loss = self.model.loss(x.to(self.device), y.to(self.device))
        loss.backward()
        self.clip_and_step(self.model.parameters())
        return {"loss": float(loss.detach())}

    def items_per_step(self) -> int:
        return self.items

    def evaluate(self, batch_size: int) -> dict[str, float] | None:
        if self.val is None:
            return None
        val_loss = evaluate(self.model, self.val, self.context, self.settings.eval_batches, batch_size, self.device)
        return {"val_loss": val_loss, "nats_per_char": val_loss / self.chars_per_token}

    def record(self, step: int, losses: dict[str, float], held_out: dict[str, float] | None) -> None:
        if step % self.settings.loss_interval() == 0 or step == self.settings.steps:
            self.history["train"].append([step, losses["loss"]])
        if held_out:
            self.history["val"].append([step, held_out["val_loss"]])

    def replay(self) -> list[LossPoint]:
        return [LossPoint(int(step), {"loss": value}) for step, value in self.history["train"]] + [
            HeldOutLoss(int(step), {"loss": value}) for step, value in self.history["val"]
        ]

    def progress_text(self, losses: dict[str, float]) -> str:
        return f"loss {losses['loss']:.3f}"

    def sample(self, step: int) -> Sample:
        return Sample(step, self._sample())

    def state(self) -> dict[str, Any]:
        return {"optimizer": self.optimizer.state_dict(), "rng": self.gen.get_state(), "history": self.history}

    def model_tensors(self, quick: bool) -> dict[str, torch.Tensor]:
        return gpt_tensors(self.model)

    def evaluation_data(self) -> tuple[Any, str] | None:
        """The held-out text (the last ``val_fraction`` of the corpus), decoded."""
        if self.val is None:
            return None
        return self.tokenizer.decode(self.val.tolist()), "held-out split"

    def result_metrics(self) -> dict[str, Any]:
        final_val = self.history["val"][-1][1] if self.history["val"] else None
        return {
            "train_loss": self.history["train"][-1][1] if self.history["train"] else None,
            "val_loss": final_val,
            "val_nats_per_char": final_val / self.chars_per_token if final_val is not None else None,
            "parameters": self.model.num_parameters(),
        }

    def _sample(self) -> str:
        s = self.settings
        lm = OwnGPT(self.model, self.tokenizer, ModelCard(KIND, {}, name=s.name), self.device)
        sampling = SamplingSettings(temperature=0.8, top_k=0, top_p=0.95, max_new_tokens=s.sample_tokens)
        text = "".join(stream_text(lm, s.sample_prompt, sampling, torch.Generator().manual_seed(7)))
        self.model.train()
        return text

    def card(self, step: int, seconds: float, quick: bool) -> ModelCard:
        s, history, corpus = self.settings, self.history, self.corpus
        val = history["val"][-1][1] if history["val"] else None
        training = {
            "steps": step,
            "final_loss": history["train"][-1][1] if history["train"] else None,
            "val_loss": val,
            "val_nats_per_char": None if val is None else val / self.chars_per_token,
            "data_chars": corpus.chars,
            "data_files": len(corpus.files),
            "seconds": round(seconds, 1),
            "batch_size": s.batch_size,
            "parameters": self.model.num_parameters(),
            "fine_tuned_from": Path(s.init).name if s.init else None,
        }
        return ModelCard(
            kind=KIND,
            config=asdict(self.model.config),
            tokenizer=self.tokenizer.to_card(),
            training=training,
            **self.card_fields(
                f"GPT trained on {len(corpus.files)} file(s)", ", ".join(p.name for p in corpus.files[:20])
            ),
        )
