"""The writer's own GPT: the shared TransformerLM plus the tokenizer stored in its card.

``OwnGPT`` is one of the two language-model backends (the other is a local
Hugging Face folder, see ``hf.py``); generation only uses ``encode``,
``decode``, ``start_ids`` and ``logits``.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch

from aigc_studio.core.modelfile import ModelCard, load_into, load_model, save_model
from aigc_studio.core.statefile import model_only
from aigc_studio.errors import ModelFileError
from aigc_studio.nn.transformer import KVCache, TransformerConfig, TransformerLM
from aigc_studio.text.tokenizer import TextTokenizer, tokenizer_from_card

KIND = "text-gpt"
PREFIX = "gpt."


def config_from_card(card: ModelCard) -> TransformerConfig:
    """Rebuild the architecture config from a card (unknown keys are refused)."""
    try:
        return TransformerConfig(**card.config)
    except TypeError as exc:
        raise ModelFileError(f"The model's architecture config is not understood ({exc}).") from exc


class OwnGPT:
    """A loaded text-gpt model ready to generate: module + tokenizer + card."""

    eos_id: int | None = None

    def __init__(self, model: TransformerLM, tokenizer: TextTokenizer, card: ModelCard, device: Any = "cpu") -> None:
        self.model = model.to(device).eval()
        self.tokenizer = tokenizer
        self.card = card
        self.device = torch.device(device)
        self.context = model.config.context
        self.name = card.name or "text-gpt"

    def encode(self, text: str) -> list[int]:
        """Text to token ids."""
        return self.tokenizer.encode(text)

    def decode(self, ids: list[int]) -> str:
        """Token ids to text."""
        return self.tokenizer.decode(ids)

    def start_ids(self) -> list[int]:
        """What to feed when the prompt is empty: a newline (start of a paragraph)."""
        ids = self.tokenizer.encode("\n")
        return ids[:1] or [0]

    @torch.no_grad()
    def logits(self, ids: list[int], cache: KVCache | None) -> tuple[torch.Tensor, KVCache]:
        """Next-token logits ([vocab]) after feeding ``ids`` on top of ``cache``."""
        idx = torch.tensor([ids], dtype=torch.long, device=self.device)
        out, cache = self.model(idx, cache)
        return out[0, -1], cache


def new_gpt_model(config: TransformerConfig) -> TransformerLM:
    """A randomly initialised GPT for ``config``."""
    return TransformerLM(config)


def gpt_tensors(model: TransformerLM) -> dict[str, torch.Tensor]:
    """State dict under the file's prefix (tied weights stored once)."""
    state = model.state_dict()
    if model.config.tie_embeddings:
        state.pop("head.weight", None)
    return {PREFIX + k: v for k, v in state.items()}


def load_gpt_tensors(model: TransformerLM, tensors: dict[str, torch.Tensor], path: str | Path) -> None:
    """Fill ``model`` from file tensors (re-tying the output head)."""
    tensors = {k: v.float() for k, v in model_only(tensors).items()}
    if model.config.tie_embeddings and PREFIX + "tokens.weight" in tensors:
        tensors[PREFIX + "head.weight"] = tensors[PREFIX + "tokens.weight"]
    load_into(model, tensors, path, prefix=PREFIX)


def load_gpt(path: str | Path, device: Any = "cpu") -> OwnGPT:
    """Load a text-gpt model file (also accepts a training checkpoint)."""
    card, tensors = load_model(path, KIND)
    config = config_from_card(card)
    tokenizer = tokenizer_from_card(card.tokenizer)
    if tokenizer.vocab_size != config.vocab_size:
        raise ModelFileError(
            f"{Path(path).name}: its tokenizer has {tokenizer.vocab_size} tokens but the network expects {config.vocab_size}."
        )
    model = new_gpt_model(config)
    load_gpt_tensors(model, tensors, path)
    return OwnGPT(model, tokenizer, card, device)


def save_gpt(
    path: str | Path, model: TransformerLM, tokenizer: TextTokenizer, card: ModelCard, half: bool = False
) -> ModelCard:
    """Save a finished model (no training state); ``half`` stores float16 weights to halve the size."""
    tensors = gpt_tensors(model)
    if half:
        tensors = {k: v.half() for k, v in tensors.items()}
    card.kind = KIND
    card.config = asdict(model.config)
    card.tokenizer = tokenizer.to_card()
    return save_model(path, tensors, card)
