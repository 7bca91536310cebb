"""Generated spans: character ranges the model wrote, kept in step with edits.

A span moves when text is inserted or removed before it and is dropped as soon
as the writer edits inside it (it is then the writer's text). Plain Python.
"""

from __future__ import annotations


class GeneratedSpans:
    """Sorted, non-overlapping ``[start, end)`` ranges of generated text."""

    def __init__(self) -> None:
        self.ranges: list[list[int]] = []
        # Spans removed together with their whole text, so that undo/redo can bring the marks back.
        self._removed: list[tuple[int, int, list[tuple[int, int]]]] = []

    def clear(self) -> None:
        """Forget every span."""
        self.ranges.clear()
        self._removed.clear()

    def add(self, start: int, end: int) -> list[int]:
        """Mark ``[start, end)`` as generated; returns the live range (extend it while streaming)."""
        span = [start, end]
        self.ranges.append(span)
        self.ranges.sort()
        return span

    def keep_outside(self, start: int, end: int) -> None:
        """Before model text replaces ``[start, end)``: spans reaching past it stay marked outside it.

        (A writer's own edit inside a span unmarks all of it; a rewrite of a part does not.)
        """
        kept = []
        for span in self.ranges:
            s, e = span
            if s < start < e or s < end < e:
                kept += [part for part in ([s, min(e, start)], [max(s, end), e]) if part[0] < part[1]]
            else:
                kept.append(span)
        self.ranges[:] = sorted(kept)

    def apply_edit(self, position: int, removed: int, added: int) -> None:
        """Follow a document change: shift spans after it, drop spans it touches inside.

        Spans whose whole text was removed are remembered; when exactly that much
        text comes back at the same place (undo or redo), they are marked again.
        """
        delta = added - removed
        edit_end = position + removed
        kept, gone = [], []
        for span in self.ranges:
            start, end = span
            if position >= end:
                kept.append(span)  # the edit is after the span (typing right after it is not editing it)
            elif edit_end <= start:
                span[0], span[1] = start + delta, end + delta
                kept.append(span)
            elif position <= start and end <= edit_end:
                gone.append((start - position, end - position))  # removed whole
            # else: the writer edited generated text; it is now theirs
        restored = []
        for i in range(len(self._removed) - 1, -1, -1):
            at, length, spans = self._removed[i]
            if at == position and length == added and added:
                restored = [[position + a, position + b] for a, b in spans]
                del self._removed[i]
                break
        if gone:
            self._removed.append((position, removed, gone))
            del self._removed[:-50]
        self.ranges[:] = sorted(kept + restored)

    def as_list(self) -> list[list[int]]:
        """Non-empty spans as ``[[start, end], ...]`` (for the sidecar and autosave)."""
        return [list(span) for span in self.ranges if span[1] > span[0]]

    def load(self, ranges: list, length: int) -> None:
        """Replace the spans, ignoring any that fall outside a text of ``length`` characters."""
        self.ranges = sorted([int(s), int(e)] for s, e in ranges if 0 <= int(s) < int(e) <= length)
