"""A 'model forced to loop' for the writer tests: scripted logits behind the language-model interface."""

from __future__ import annotations

import torch

from aigc_studio.text.tokenizer import CharTokenizer


class ScriptedLM:
    """A character-level 'model' whose logits always pick the next character of ``script`` (then repeat it)."""

    eos_id = None
    context = 64

    def __init__(self, script: str, loop_from: int = 0) -> None:
        self.tokenizer = CharTokenizer.train(script + " \n")
        self.script = self.tokenizer.encode(script)
        self.loop_from = loop_from
        self.name = "scripted"

    def encode(self, text):
        return self.tokenizer.encode(text)

    def decode(self, ids):
        return self.tokenizer.decode(ids)

    def start_ids(self):
        return self.encode("\n")

    def logits(self, ids, cache):
        step = cache.step if cache else 0
        period = len(self.script) - self.loop_from
        at = step if step < len(self.script) else self.loop_from + (step - self.loop_from) % period
        logits = torch.full((self.tokenizer.vocab_size,), -30.0)
        logits[self.script[at]] = 30.0
        return logits, _Step(step + 1)


class _Step:
    """The scripted model's 'cache': how many tokens it has written (never full, so never rebuilt)."""

    def __init__(self, step: int) -> None:
        self.step = step

    def get_seq_length(self) -> int:
        return 0
