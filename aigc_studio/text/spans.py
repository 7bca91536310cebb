"""Generated spans: character ranges the model wrote, kept in step with edits.

A span moves when text is inserted or removed before it and is dropped as soon
as the writer edits inside it (it is then the writer's text). Plain Python.
"""

from __future__ import annotations

from typing import Any


class GeneratedSpans:
    """Sorted, non-overlapping ``[start, end)`` ranges of generated text, each with its provenance record."""

    def __init__(self) -> None:
        self.ranges: list[list[int]] = []
        self._records: dict[int, Any] = {}  # id(range) -> the Provenance of the generation that wrote it
        # Spans removed together with their whole text, so that undo/redo can bring the marks back.
        self._removed: list[tuple[int, int, list[tuple[int, int, Any]]]] = []

    def clear(self) -> None:
        """Forget every span."""
        self.ranges.clear()
        self._records.clear()
        self._removed.clear()

    def add(self, start: int, end: int, record: Any = None) -> list[int]:
        """Mark ``[start, end)`` as generated; returns the live range (extend it while streaming)."""
        span = [start, end]
        self.ranges.append(span)
        self.ranges.sort()
        self.set_record(span, record)
        return span

    def set_record(self, span: list[int], record: Any) -> None:
        """Remember which generation (a Provenance) wrote ``span``."""
        if record is None:
            self._records.pop(id(span), None)
        else:
            self._records[id(span)] = record

    def drop_copies_of(self, span: list[int]) -> None:
        """Forget other spans over exactly ``span``'s range (a same-length rewrite brings back the old mark)."""
        self.ranges[:] = [s for s in self.ranges if s is span or s != span]
        live = {id(s) for s in self.ranges}
        for key in [k for k in self._records if k not in live]:
            del self._records[key]

    def record_of(self, span: list[int]) -> Any:
        """The provenance record of a live span (None when it has none)."""
        return self._records.get(id(span)) if any(s is span for s in self.ranges) else None

    def record_at(self, position: int) -> Any:
        """The record of the generated span around ``position`` (None outside generated text)."""
        return next((self._records.get(id(s)) for s in self.ranges if s[0] <= position <= s[1] and s[1] > s[0]), None)

    def keep_outside(self, start: int, end: int) -> None:
        """Before model text replaces ``[start, end)``: spans reaching past it stay marked outside it.

        (A writer's own edit inside a span unmarks all of it; a rewrite of a part does not.)
        """
        kept = []
        for span in self.ranges:
            s, e = span
            if s < start < e or s < end < e:
                parts = [part for part in ([s, min(e, start)], [max(s, end), e]) if part[0] < part[1]]
                for part in parts:  # each part keeps the record of the generation that wrote it
                    self.set_record(part, self._records.get(id(span)))
                kept += parts
            else:
                kept.append(span)
        self.ranges[:] = sorted(kept)
        live = {id(s) for s in self.ranges}
        for key in [k for k in self._records if k not in live]:
            del self._records[key]

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
                gone.append((start - position, end - position, self._records.get(id(span))))  # removed whole
            # else: the writer edited generated text; it is now theirs
        restored = []
        for i in range(len(self._removed) - 1, -1, -1):
            at, length, spans = self._removed[i]
            if at == position and length == added and added:
                for a, b, record in spans:
                    restored.append([position + a, position + b])
                    self.set_record(restored[-1], record)
                del self._removed[i]
                break
        if gone:
            self._removed.append((position, removed, gone))
            del self._removed[:-50]
        self.ranges[:] = sorted(kept + restored, key=lambda s: (s[0], s[1]))
        live = {id(s) for s in self.ranges}
        for key in [k for k in self._records if k not in live]:
            del self._records[key]

    def as_list(self) -> list[list[int]]:
        """Non-empty spans as ``[[start, end], ...]`` (for the sidecar and autosave)."""
        return [list(span) for span in self.ranges if span[1] > span[0]]

    def records(self) -> list[Any]:
        """The records of :meth:`as_list`'s spans, in the same order (None for a span without one)."""
        return [self._records.get(id(span)) for span in self.ranges if span[1] > span[0]]

    def load(self, ranges: list, length: int, records: list | None = None) -> None:
        """Replace the spans (and their records), ignoring any that fall outside a text of ``length`` characters."""
        records = list(records or [])
        records += [None] * (len(ranges) - len(records))
        pairs = [([int(s), int(e)], r) for (s, e), r in zip(ranges, records) if 0 <= int(s) < int(e) <= length]
        pairs.sort(key=lambda p: p[0])
        self.ranges = [span for span, _ in pairs]
        self._records = {id(span): r for span, r in pairs if r is not None}
