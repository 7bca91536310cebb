"""Turning logits into the next token: temperature, top-k, top-p, repetition penalty.

Noise comes from a CPU ``torch.Generator`` so that a seed gives the same
choices on any device type.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class SamplingSettings:
    """User-facing sampling knobs (temperature 0 means greedy)."""

    temperature: float = 0.8
    top_k: int = 0  # 0 = off
    top_p: float = 1.0  # 1.0 = off
    repetition_penalty: float = 1.0  # 1.0 = off
    max_new_tokens: int = 200


def apply_repetition_penalty(logits: torch.Tensor, previous: torch.Tensor, penalty: float) -> torch.Tensor:
    """CTRL-style penalty: make tokens already present less likely (logits: [vocab])."""
    if penalty == 1.0 or previous.numel() == 0:
        return logits
    logits = logits.clone()
    seen = torch.unique(previous)
    values = logits[seen]
    logits[seen] = torch.where(values > 0, values / penalty, values * penalty)
    return logits


def filter_logits(logits: torch.Tensor, top_k: int = 0, top_p: float = 1.0) -> torch.Tensor:
    """Set logits outside top-k / the top-p nucleus to -inf (logits: [vocab])."""
    logits = logits.clone()
    if top_k and top_k < logits.shape[-1]:
        kth = torch.topk(logits, top_k).values[-1]
        logits[logits < kth] = float("-inf")
    if top_p < 1.0:
        sorted_logits, order = torch.sort(logits, descending=True)
        probs = torch.softmax(sorted_logits, dim=-1)
        cumulative = torch.cumsum(probs, dim=-1)
        remove = cumulative - probs > top_p  # keep the token that crosses the threshold
        logits[order[remove]] = float("-inf")
    return logits


def sample_next(
    logits: torch.Tensor,
    settings: SamplingSettings,
    generator: torch.Generator,
    previous: torch.Tensor | None = None,
) -> int:
    """Pick the next token id from the last position's logits ([vocab])."""
    logits = logits.detach().float().cpu()
    if previous is not None:
        logits = apply_repetition_penalty(logits, previous.cpu(), settings.repetition_penalty)
    if settings.temperature <= 0:
        return int(torch.argmax(logits))
    logits = logits / settings.temperature
    if settings.top_k and settings.top_k < logits.shape[-1]:
        # The nucleus of the k best is found among those k alone: no sort of the whole vocabulary per token.
        values, indices = torch.topk(logits, settings.top_k)
        values = _nucleus(values, settings.top_p)
        pick = torch.multinomial(torch.softmax(values, dim=-1), 1, generator=generator)
        return int(indices[pick])
    if settings.top_p < 1.0:
        # Draw from the nucleus in sorted order: one softmax, and the draw is over the nucleus alone.
        sorted_logits, order = torch.sort(logits, descending=True)
        probs = torch.softmax(sorted_logits, dim=-1)
        keep = int((torch.cumsum(probs, dim=-1) - probs <= settings.top_p).sum())  # keep the one that crosses
        pick = torch.multinomial(probs[: max(1, keep)], 1, generator=generator)
        return int(order[pick])
    probs = torch.softmax(logits, dim=-1)
    return int(torch.multinomial(probs, 1, generator=generator))


def _nucleus(sorted_logits: torch.Tensor, top_p: float) -> torch.Tensor:
    """Top-p on logits already sorted from most to least likely."""
    if top_p >= 1.0:
        return sorted_logits
    probs = torch.softmax(sorted_logits, dim=-1)
    remove = torch.cumsum(probs, dim=-1) - probs > top_p  # keep the token that crosses the threshold
    return sorted_logits.masked_fill(remove, float("-inf"))
