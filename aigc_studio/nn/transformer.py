"""A small decoder-only transformer with a KV cache, shared by the text GPT and the music model.

In the spirit of nanoGPT: a config dataclass, ``CausalSelfAttention``, ``MLP``,
``Block``, and a ``TransformerLM`` whose ``forward`` takes an optional cache so
that generation costs one token's work per step.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass
class TransformerConfig:
    """Architecture of a :class:`TransformerLM`; saved in the model card."""

    vocab_size: int
    context: int = 256
    layers: int = 4
    heads: int = 4
    width: int = 256
    dropout: float = 0.0
    tie_embeddings: bool = True


KVCache = list[tuple[torch.Tensor, torch.Tensor]]


class CausalSelfAttention(nn.Module):
    """Multi-head self-attention that only looks backwards; appends to a KV cache."""

    def __init__(self, config: TransformerConfig) -> None:
        super().__init__()
        assert config.width % config.heads == 0, "width must be divisible by heads"
        self.heads = config.heads
        self.qkv = nn.Linear(config.width, 3 * config.width)
        self.proj = nn.Linear(config.width, config.width)
        self.dropout = config.dropout

    def forward(
        self, x: torch.Tensor, past: tuple[torch.Tensor, torch.Tensor] | None = None
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        batch, length, width = x.shape
        q, k, v = self.qkv(x).split(width, dim=2)
        q, k, v = (t.view(batch, length, self.heads, width // self.heads).transpose(1, 2) for t in (q, k, v))
        if past is not None:
            k = torch.cat([past[0], k], dim=2)
            v = torch.cat([past[1], v], dim=2)
        # With a cache the new queries may see every cached key; within the new chunk, causal.
        if past is None or length > 1:
            mask = _causal_mask(length, k.shape[2], x.device)
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=self.dropout if self.training else 0.0)
        else:
            y = F.scaled_dot_product_attention(q, k, v)
        y = y.transpose(1, 2).contiguous().view(batch, length, width)
        return self.proj(y), (k, v)


def _causal_mask(queries: int, keys: int, device: torch.device) -> torch.Tensor:
    offset = keys - queries
    rows = torch.arange(queries, device=device).unsqueeze(1) + offset
    cols = torch.arange(keys, device=device).unsqueeze(0)
    return cols <= rows


class MLP(nn.Module):
    """The feed-forward part of a block (4x expansion, GELU)."""

    def __init__(self, config: TransformerConfig) -> None:
        super().__init__()
        self.up = nn.Linear(config.width, 4 * config.width)
        self.down = nn.Linear(4 * config.width, config.width)
        self.drop = nn.Dropout(config.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.drop(self.down(F.gelu(self.up(x))))


class Block(nn.Module):
    """Pre-norm transformer block: attention then MLP, each with a residual."""

    def __init__(self, config: TransformerConfig) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(config.width)
        self.attn = CausalSelfAttention(config)
        self.norm2 = nn.LayerNorm(config.width)
        self.mlp = MLP(config)

    def forward(self, x, past=None):
        attended, present = self.attn(self.norm1(x), past)
        x = x + attended
        x = x + self.mlp(self.norm2(x))
        return x, present


class TransformerLM(nn.Module):
    """Token embedding + learned positions + blocks + output head."""

    def __init__(self, config: TransformerConfig) -> None:
        super().__init__()
        self.config = config
        self.tokens = nn.Embedding(config.vocab_size, config.width)
        self.positions = nn.Embedding(config.context, config.width)
        self.drop = nn.Dropout(config.dropout)
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.layers))
        self.norm = nn.LayerNorm(config.width)
        self.head = nn.Linear(config.width, config.vocab_size, bias=False)
        if config.tie_embeddings:
            self.head.weight = self.tokens.weight
        self.apply(_init_weights)
        for name, param in self.named_parameters():
            if name.endswith("proj.weight") or name.endswith("down.weight"):
                nn.init.normal_(param, mean=0.0, std=0.02 / math.sqrt(2 * config.layers))

    def forward(
        self, idx: torch.Tensor, cache: KVCache | None = None
    ) -> tuple[torch.Tensor, KVCache]:
        """Logits for every position of ``idx`` and the updated cache.

        ``cache`` holds keys/values for the tokens before ``idx``; their count gives
        the position offset. Callers keep the total below ``config.context``.
        """
        start = cache[0][0].shape[2] if cache else 0
        length = idx.shape[1]
        if start + length > self.config.context:
            raise ValueError(f"sequence of {start + length} tokens exceeds the context of {self.config.context}")
        pos = torch.arange(start, start + length, device=idx.device)
        x = self.drop(self.tokens(idx) + self.positions(pos))
        present: KVCache = []
        for i, block in enumerate(self.blocks):
            x, kv = block(x, cache[i] if cache else None)
            present.append(kv)
        return self.head(self.norm(x)), present

    def loss(self, idx: torch.Tensor, targets: torch.Tensor, ignore_index: int = -100) -> torch.Tensor:
        """Mean cross-entropy of next-token prediction (nats per token)."""
        logits, _ = self(idx)
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), ignore_index=ignore_index)

    def num_parameters(self) -> int:
        """Parameter count (tied weights counted once)."""
        return sum(p.numel() for p in self.parameters())


def _init_weights(module: nn.Module) -> None:
    if isinstance(module, nn.Linear):
        nn.init.normal_(module.weight, mean=0.0, std=0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.Embedding):
        nn.init.normal_(module.weight, mean=0.0, std=0.02)


def crop_cache(cache: KVCache, keep: int) -> KVCache:
    """Keep only the last ``keep`` positions of a cache (sliding window past the context)."""
    return [(k[:, :, -keep:], v[:, :, -keep:]) for k, v in cache]
