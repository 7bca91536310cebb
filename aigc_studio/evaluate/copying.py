"""Longest verbatim copies: the longest stretch of a sample that appears unchanged in a reference.

Works on any string, so music uses it too (a melody becomes a string of interval symbols).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Copy:
    """The longest stretch of a sample found in a reference: where it is in each, and its length."""

    length: int
    sample_start: int
    reference_start: int  # -1 when nothing matched


def longest_copy(sample: str, reference: str, check: object = None) -> Copy:
    """The longest substring of ``sample`` that occurs in ``reference``.

    A sliding window that only ever grows or moves on: each step is one substring search in C,
    about 2 x len(sample) searches in all. ``check`` (optional callable) is called now and then
    so a long search can be cancelled.
    """
    best = Copy(0, 0, -1)
    start = end = 0
    n = len(sample)
    steps = 0
    while start < n:
        if end < start:
            end = start
        while end < n and sample[start : end + 1] in reference:
            end += 1
        if end - start > best.length:
            best = Copy(end - start, start, reference.find(sample[start:end]))
        if end == n:
            break
        start += 1
        steps += 1
        if check is not None and steps % 64 == 0:
            check()
    return best
