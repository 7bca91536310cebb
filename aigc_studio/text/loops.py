"""Noticing a model that repeats itself while it streams, and where to cut the repeats.

Two signs of a loop, checked at the end of the text after every token:
the same span of at least ``min_chars`` characters three times in a row, or the
same run of at least ``min_words`` words three times in a row (compared without
case, punctuation or line breaks, so "I love you.\\nI love you. I love you" counts).
The cut keeps the first occurrence and drops the repeats. Plain Python.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_WORD = re.compile(r"\S+")
_NOT_LETTERS = re.compile(r"[^\w]+")


@dataclass(frozen=True)
class Loop:
    """A loop found at the end of the text: keep ``text[:keep]`` (``cut`` characters go); ``span`` repeats."""

    keep: int
    cut: int
    span: str
    repeats: int


class LoopDetector:
    """Finds a loop at the end of a growing text; ``check`` is cheap enough to call after every token."""

    def __init__(self, min_chars: int = 20, min_words: int = 4, repeats: int = 3, max_chars: int = 600) -> None:
        self.min_chars = min_chars
        self.min_words = min_words
        self.repeats = repeats
        self.max_chars = max_chars  # longest repeated span looked for (a loop of longer spans is rare)
        self._words_checked: tuple[int, str] = (-1, "")  # the closed words last looked at, to skip a repeat look

    def check(self, text: str) -> Loop | None:
        """The loop ending ``text``, if there is one."""
        return self._same_characters(text) or self._same_words(text)

    def _same_characters(self, text: str) -> Loop | None:
        n, need = len(text), self.repeats
        if n < need * self.min_chars:
            return None
        tail = text[-need * self.max_chars :]
        probe = tail[-self.min_chars :]
        # Every period of a loop puts another copy of the last min_chars characters exactly one period back.
        at = len(tail) - self.min_chars
        while True:
            at = tail.rfind(probe, 0, at + self.min_chars - 1)
            if at < 0:
                return None
            period = len(tail) - self.min_chars - at
            if period * need > len(tail):
                return None
            if period >= self.min_chars:
                span = tail[-period:]
                if all(tail[len(tail) - (i + 1) * period : len(tail) - i * period] == span for i in range(1, need)):
                    keep = _tidy_cut(text, period)
                    return Loop(keep, n - keep, text[keep - period : keep], need)

    def _same_words(self, text: str) -> Loop | None:
        closed = len(text)
        while closed and not text[closed - 1].isspace():
            closed -= 1  # the last word may still grow: only words closed by white space count
        key = (closed, text[max(0, closed - 40) : closed])
        if key == self._words_checked:
            return None  # no word was closed since the last look
        self._words_checked = key
        text = text[:closed]
        tail_start = max(0, len(text) - self.repeats * self.max_chars)
        matches = list(_WORD.finditer(text, tail_start))
        if tail_start and matches:
            matches = matches[1:]  # the first may be cut in half
        words = [_NOT_LETTERS.sub("", m.group()).lower() for m in matches]
        count = len(words)
        for size in range(self.min_words, count // self.repeats + 1):
            run = words[count - size :]
            if not any(run):
                continue
            if all(words[count - (i + 1) * size : count - i * size] == run for i in range(1, self.repeats)):
                first_end = matches[count - (self.repeats - 1) * size - 1].end()
                span = text[matches[count - size].start() : matches[count - 1].end()]
                return Loop(first_end, len(text) - first_end, span, self.repeats)
        return None


def _tidy_cut(text: str, period: int) -> int:
    """Where to cut a loop of ``period`` characters: after one whole copy, at a sentence end or word end if one is near.

    The copy found first may start mid-sentence (". The cat sat on the mat today"), so the
    cut moves forward within one more period to the nearest sentence end, else word end.
    """
    start = len(text) - 3 * period
    while start > 0 and text[start - 1] == text[start - 1 + period]:
        start -= 1  # back to where the repetition began
    first, last = start + period, min(start + 2 * period, len(text) - 1)
    for ends in (".!?\u2026", None):
        for k in range(first, last + 1):
            if text[k].isspace() and not text[k - 1].isspace() and (ends is None or text[k - 1] in ends):
                return k
    return first
