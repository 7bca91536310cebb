"""Length a writer understands: words, sentences or paragraphs, ended at a word or sentence boundary.

A :class:`LengthGoal` looks at the text generated so far and says how much of it
may be shown now and whether generation is done. Text that might still be cut
(a half-written word, the words after the last sentence end near the goal) is
held back, so a streamed ending is never taken back. The token budget that
backs every goal comes from the model's own tokenizer (:func:`token_budget`).
Plain Python: no torch, no Qt.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from aigc_studio.errors import InputError

UNITS = ("words", "sentences", "paragraphs", "tokens")
FINISHES = ("sentence", "word", "none")
OVERSHOOT = 0.1  # a sentence may end this fraction of the goal early or late (at least MIN_OVERSHOOT words)
MIN_OVERSHOOT = 3

# Sentence punctuation (with closing quotes or brackets) that is followed by white space.
_SENTENCE_END = re.compile(r"[.!?\u2026]+[\"'\u201d\u2019)\]\u00bb]*(?=\s)")
_ENDS_SENTENCE = re.compile(r"[.!?\u2026][\"'\u201d\u2019)\]\u00bb]*$")
_PARAGRAPH_END = re.compile(r"\S(?=[ \t]*\n[ \t]*\n)")
_WORD_END = re.compile(r"\S(?=\s)")
_SAMPLE = (
    "The rain had stopped by the time she reached the bridge, and the river below it was loud with the "
    "water of three days. She waited for a while, listening, then turned back towards the town. Nobody "
    "had followed her. The lamps were lit in the windows of the inn; somebody was singing an old song "
    "about the sea, badly, and the others laughed and joined in."
)
WORDS_PER_SENTENCE = 40  # generous: the budget must not end a long sentence
WORDS_PER_PARAGRAPH = 200
MAX_BUDGET = 16384


@dataclass
class LengthGoal:
    """How much to write: ``amount`` of ``unit``, ending at a ``finish`` boundary."""

    amount: int
    unit: str = "words"
    finish: str = "sentence"

    def __post_init__(self) -> None:
        if self.unit not in UNITS:
            raise InputError(f"Unknown length unit {self.unit!r}; use one of {', '.join(UNITS)}.")
        if self.finish not in FINISHES:
            raise InputError(f"Unknown ending {self.finish!r}; use one of {', '.join(FINISHES)}.")
        if self.amount < 1:
            raise InputError(f"The length must be at least 1 {self.unit[:-1]}.")

    @property
    def overshoot(self) -> int:
        """How many words a sentence ending may fall before or after a word goal."""
        return max(MIN_OVERSHOOT, math.ceil(self.amount * OVERSHOOT))

    def check(self, text: str, budget_spent: bool = False) -> tuple[int, bool]:
        """``(shown, done)``: how many characters of ``text`` may be shown, and whether to stop.

        When ``done``, ``text[:shown]`` is the final text. ``budget_spent`` says the
        token budget ran out: the goal then ends at the best boundary it has.
        """
        if self.unit == "words":
            return self._check_words(text, budget_spent)
        if self.unit == "sentences":
            return self._check_count(sentence_ends(text), text, budget_spent)
        if self.unit == "paragraphs":
            return self._check_count(paragraph_ends(text), text, budget_spent)
        return self._check_tokens(text, budget_spent)

    def _check_words(self, text: str, budget_spent: bool) -> tuple[int, bool]:
        if self.finish == "none":
            return len(text), budget_spent or count_words(text) >= self.amount
        ends = word_ends(text)
        shown = _last(ends)  # a half-written word and the space before it wait: the goal may end just before them
        if self.finish == "word" or self.amount <= self.overshoot:
            if len(ends) >= self.amount:
                return ends[self.amount - 1], True
            return shown, budget_spent
        lo, hi = self.amount - self.overshoot, self.amount + self.overshoot
        sentences = [(end, _words_before(ends, end)) for end in sentence_ends(text)]
        early = [(end, words) for end, words in sentences if lo <= words < self.amount]
        for end, words in sentences:
            if words >= self.amount:  # the first sentence end at or past the goal, or the last one before if nearer
                if early and self.amount - early[-1][1] < words - self.amount:
                    return early[-1][0], True
                return end, True
        early = [end for end, _words in early]
        if len(ends) >= hi or budget_spent:  # no sentence ended in time: the last one near the goal, or a whole word
            if early:
                return early[-1], True
            return (ends[self.amount - 1] if len(ends) >= self.amount else shown), True
        if len(ends) < lo:
            return shown, False
        # Near the goal, every possible ending lies at or after the last early sentence end (or word lo).
        return min(shown, max([ends[lo - 1], *early])), False

    def _check_count(self, boundaries: list[int], text: str, budget_spent: bool) -> tuple[int, bool]:
        if len(boundaries) >= self.amount:
            return boundaries[self.amount - 1], True
        return _last(word_ends(text)), budget_spent

    def _check_tokens(self, text: str, budget_spent: bool) -> tuple[int, bool]:
        if self.finish == "none":
            return len(text), budget_spent
        ends = word_ends(text)
        if self.finish == "sentence":
            sentences = sentence_ends(text)
            if budget_spent:
                return (sentences[-1] if sentences else _last(ends)), True
            return _last(sentences), False
        return _last(ends), budget_spent

    def budget(self, tokens_per_word: float) -> int:
        """Tokens to allow for this goal (words are turned into tokens with the tokenizer's own rate)."""
        if self.unit == "tokens":
            return self.amount
        words = {
            "words": self.amount + self.overshoot,
            "sentences": self.amount * WORDS_PER_SENTENCE,
            "paragraphs": self.amount * WORDS_PER_PARAGRAPH,
        }[self.unit]
        return min(MAX_BUDGET, math.ceil(words * tokens_per_word * 1.5) + 8)

    def ending(self, text: str, reason: str) -> str:
        """How a generation that stopped for ``reason`` ('length' or 'budget') met this goal, for the status line."""
        goal = f"{self.amount} {self.unit if self.amount != 1 else self.unit[:-1]}"
        if self.unit == "tokens" and self.finish == "none":
            return f"reached {goal}"
        closed = "finished the sentence" if _ENDS_SENTENCE.search(text.rstrip()) else "ended on a whole word"
        if reason == "budget":
            return f"the token budget ran out before {goal}; {closed}"
        return f"goal {goal}; {closed}"

    def describe(self) -> str:
        """For status lines and logs: '60 words, finishing the sentence'."""
        endings = {"sentence": "finishing the sentence", "word": "ending on a whole word", "none": "cut anywhere"}
        return f"{self.amount} {self.unit if self.amount != 1 else self.unit[:-1]}, {endings[self.finish]}"


def word_ends(text: str) -> list[int]:
    """Positions just after every word that white space has closed."""
    return [m.end() for m in _WORD_END.finditer(text)]


def sentence_ends(text: str) -> list[int]:
    """Positions just after sentence punctuation (or a paragraph's last character) that closes some words."""
    ends = {m.end() for m in _SENTENCE_END.finditer(text)} | set(paragraph_ends(text))
    return sorted(e for e in ends if text[:e].strip())


def paragraph_ends(text: str) -> list[int]:
    """Positions just after the last character of each paragraph followed by a blank line."""
    return [m.end() for m in _PARAGRAPH_END.finditer(text)]


def count_words(text: str) -> int:
    """Words as a writer counts them (runs of non-space characters)."""
    return len(text.split())


def tokens_per_word(lm: Any, sample: str = "") -> float:
    """How many of this model's tokens one word takes, measured on ``sample`` (or built-in prose)."""
    if count_words(sample) < 40:
        sample = _SAMPLE
    sample = sample[-4000:]
    return max(1.0, len(lm.encode(sample)) / max(1, count_words(sample)))


def _words_before(ends: list[int], position: int) -> int:
    count = 0
    for end in ends:
        if end > position:
            break
        count += 1
    return count


def _last(positions: list[int]) -> int:
    return positions[-1] if positions else 0
