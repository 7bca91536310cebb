"""Streaming generation, one token at a time, for any language-model backend.

A backend (``OwnGPT`` or ``HFCausalLM``) offers ``encode``, ``decode``,
``start_ids``, ``logits(ids, cache)``, ``context`` and ``eos_id`` (and perhaps
``eos_ids``). The loop here adds the KV cache with a sliding window past the
context, sampling, stop sequences, UTF-8-safe incremental decoding, length goals
in words or sentences (``length.py``) and the repetition-loop stop (``loops.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from aigc_studio.nn.sampling import SamplingSettings, sample_next
from aigc_studio.text.length import LengthGoal
from aigc_studio.text.loops import Loop, LoopDetector

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


@dataclass(frozen=True)
class Retract:
    """Take back the last ``chars`` characters already streamed (the repeats of a loop that was cut)."""

    chars: int


STOP_REASONS = {
    "length": "reached the length",
    "budget": "used the whole token budget",
    "eos": "the model ended the text",
    "stop": "reached a stop sequence",
    "loop": "stopped a repetition loop",
}


class TextStream:
    """Stream new text from ``lm``: iterate for pieces (``str``, or :class:`Retract` after a loop is cut).

    Generation ends at the length goal (or, without one, ``settings.max_new_tokens``),
    a stop sequence, the model's end token or a repetition loop. Text that could
    still be cut (the start of a stop sequence, an unfinished UTF-8 character, the
    words after the last sentence end near the goal) is held back, so only a loop
    ever takes text back. After iteration, ``text`` is the final text and
    ``reason`` one of :data:`STOP_REASONS`.
    """

    def __init__(
        self,
        lm: Any,
        prompt: str,
        settings: SamplingSettings,
        generator: torch.Generator,
        stop: Sequence[str] = (),
        use_cache: bool = True,
        on_token: Callable[[], None] | None = None,
        on_oom: Callable[[BaseException], Any] | None = None,
        length: LengthGoal | None = None,
        loops: LoopDetector | None = None,
        prompt_ids: list[int] | None = None,
    ) -> None:
        self.lm, self.prompt, self.settings, self.generator = lm, prompt, settings, generator
        self.stops = [s for s in stop if s]
        self.use_cache, self.on_token, self.on_oom = use_cache, on_token, on_oom
        self.length, self.loops = length, loops
        self.prompt_ids = prompt_ids
        self.text = ""
        self.reason = ""
        self.loop: Loop | None = None
        self.tokens = 0

    def __iter__(self) -> Iterator[str | Retract]:
        lm, stops = self.lm, self.stops
        prompt_ids = (
            list(self.prompt_ids) if self.prompt_ids is not None else (lm.encode(self.prompt) if self.prompt else [])
        )
        prefix = prompt_ids[-_PREFIX_TOKENS:]
        prefix_text = lm.decode(prefix) if prefix else ""
        new: list[int] = []
        emitted = 0
        ends = set(getattr(lm, "eos_ids", None) or ())
        if getattr(lm, "eos_id", None) is not None:
            ends.add(lm.eos_id)
        text = ""
        ids = generate_ids(lm, prompt_ids, self.settings, self.generator, self.use_cache, self.on_oom)
        for count, token in enumerate(ids, start=1):
            self.tokens = count
            if self.on_token is not None:
                self.on_token()
            if token in ends:
                self.reason = "eos"
                break
            new.append(token)
            full = lm.decode(prefix + new)
            text = full[len(prefix_text) :] if full.startswith(prefix_text) else lm.decode(new)
            spent = count >= self.settings.max_new_tokens
            cut = min((i for i in (text.find(s, max(0, emitted - len(s))) for s in stops) if i >= 0), default=-1)
            if cut >= 0:
                yield from self._finish(text[: max(cut, emitted)], emitted, "stop")
                return
            if self.loops is not None and (loop := self.loops.check(text)) is not None:
                self.loop = loop
                yield from self._finish(text[: loop.keep], emitted, "loop")
                return
            if self.length is not None:
                shown, done = self.length.check(text, spent)
            else:
                shown, done = len(text), spent
            if done:
                reason = "length" if self.length is None or self.length.unit == "tokens" or not spent else "budget"
                yield from self._finish(text[: max(shown, emitted)], emitted, reason)
                return
            end = min(shown, len(text) - _held_back(text, stops))
            if text.endswith("\ufffd"):
                end = min(end, len(text) - 1)
            if end > emitted:
                yield text[emitted:end]
                emitted = end
        yield from self._finish(text, emitted, self.reason or "eos")  # ended by EOS: release what was held back

    def _finish(self, final: str, emitted: int, reason: str) -> Iterator[str | Retract]:
        self.text, self.reason = final, reason
        if len(final) < emitted:
            yield Retract(emitted - len(final))
        elif len(final) > emitted:
            yield final[emitted:]


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
    """Yield pieces of new text as tokens arrive; ends at max tokens, a stop sequence or EOS (no loop stop)."""
    for piece in TextStream(lm, prompt, settings, generator, stop, use_cache, on_token, on_oom):
        assert isinstance(piece, str)  # without a loop detector nothing is taken back
        yield piece
