"""Streaming generation, one token at a time, for any language-model backend.

A backend (``OwnGPT`` or ``HFCausalLM``) offers ``encode``, ``decode``,
``start_ids``, ``logits(ids, cache)``, ``context`` and ``eos_id``. The loop here
adds the KV cache with a sliding window past the context, sampling, stop
sequences and UTF-8-safe incremental decoding.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

import torch

from aigc_studio.nn.sampling import SamplingSettings, sample_next

_PREFIX_TOKENS = 4  # decode with a little of the prompt so tokenizers keep leading spaces


def _held_back(text: str, stops: Sequence[str]) -> int:
    """Length of the longest suffix of ``text`` that could still grow into a stop sequence."""
    longest = 0
    for stop in stops:
        for n in range(min(len(stop) - 1, len(text)), longest, -1):
            if text.endswith(stop[:n]):
                longest = n
                break
    return longest


def generate_ids(
    lm: Any,
    prompt_ids: list[int],
    settings: SamplingSettings,
    generator: torch.Generator,
    use_cache: bool = True,
    on_oom: Callable[[BaseException], Any] | None = None,
) -> Iterator[int]:
    """Yield new token ids forever (the caller decides when to stop).

    With the cache, each step feeds one token. When the cache reaches the
    context, it is rebuilt from the last three quarters of the window (the
    positions are absolute, so a plain crop would shift them).

    Out of memory calls ``on_oom(exc)``, which frees memory and returns the model
    to go on with (perhaps moved to the CPU) or raises; the cache is then rebuilt
    and no token is lost, so the text is the one an uninterrupted run writes.
    """
    from aigc_studio.core.oom import is_out_of_memory

    ids = list(prompt_ids) or lm.start_ids()
    context = lm.context
    refill = max(1, (context * 3) // 4)
    penalty_window = context
    cache = None
    feed = ids[-context:] if len(ids) <= context else ids[-refill:]
    while True:
        try:
            if use_cache:
                logits, cache = lm.logits(feed, cache)
            else:
                logits, _ = lm.logits(ids[-context:], None)
        except Exception as exc:
            if on_oom is None or not is_out_of_memory(exc):
                raise
            cache = None  # the cache holds most of the memory; rebuild it from the window
            lm = on_oom(exc)
            feed = ids[-context:] if len(ids) <= context else ids[-refill:]
            continue
        previous = torch.tensor(ids[-penalty_window:]) if settings.repetition_penalty != 1.0 else None
        token = sample_next(logits, settings, generator, previous)
        ids.append(token)
        yield token
        if use_cache:
            cached = _cache_length(cache)
            if cached + 1 > context:
                cache, feed = None, ids[-refill:]
            else:
                feed = [token]


def _cache_length(cache: Any) -> int:
    if cache is None:
        return 0
    if hasattr(cache, "get_seq_length"):
        return int(cache.get_seq_length())
    return int(cache[0][0].shape[2])


def stream_text(
    lm: Any,
    prompt: str,
    settings: SamplingSettings,
    generator: torch.Generator,
    stop: Sequence[str] = (),
    use_cache: bool = True,
    on_token: Callable[[], None] | None = None,
    on_oom: Callable[[BaseException], Any] | None = None,
) -> Iterator[str]:
    """Yield pieces of new text as tokens arrive; ends at max tokens, a stop sequence or EOS.

    A piece is held back while it could be the start of a stop sequence or an
    unfinished UTF-8 character, so the writer never sees text that is then taken back.
    ``on_token`` runs after every token (a cancel check: held-back tokens yield nothing).
    """
    stops = [s for s in stop if s]
    prompt_ids = lm.encode(prompt) if prompt else []
    prefix = prompt_ids[-_PREFIX_TOKENS:]
    prefix_text = lm.decode(prefix) if prefix else ""
    new: list[int] = []
    emitted = 0
    eos = getattr(lm, "eos_id", None)
    text = ""
    for count, token in enumerate(generate_ids(lm, prompt_ids, settings, generator, use_cache, on_oom), start=1):
        if on_token is not None:
            on_token()
        if eos is not None and token == eos:
            break
        new.append(token)
        full = lm.decode(prefix + new)
        text = full[len(prefix_text) :] if full.startswith(prefix_text) else lm.decode(new)
        last = count >= settings.max_new_tokens
        cut = min((i for i in (text.find(s, max(0, emitted - len(s))) for s in stops) if i >= 0), default=-1)
        if cut >= 0:
            if cut > emitted:
                yield text[emitted:cut]
            return
        end = len(text) if last else len(text) - _held_back(text, stops)
        if not last and text.endswith("\ufffd"):
            end = min(end, len(text) - 1)
        if end > emitted:
            yield text[emitted:end]
            emitted = end
        if last:
            return
    if len(text) > emitted:  # ended by EOS: release what was held back
        yield text[emitted:]
