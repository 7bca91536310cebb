"""The writer's document in the autosave: its record, and the unsaved text a crashed session left.

Files live in ``autosave/text-<pid>.json`` (see :mod:`aigc_studio.core.autosave`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aigc_studio.core.autosave import Autosave, AutosaveStore, CorruptAutosave, RecoveredWork, autosave_dir
from aigc_studio.core.provenance import from_dict
from aigc_studio.errors import InputError

KIND = "text"

__all__ = ["KIND", "Recovered", "autosave_dir", "recoverable_texts", "text_record"]


def text_record(text: str, path: str | None, spans: list, records: list | None = None) -> dict[str, Any]:
    """What the autosave keeps of a document: the text, its file, the generated-text ranges and their records."""
    return {"text": text, "path": path, "spans": spans, "records": [r.to_dict() if r else None for r in records or []]}


@dataclass
class Recovered(RecoveredWork):
    """Unsaved text found after a crash."""

    text: str
    path: str | None
    spans: list
    records: list = field(default_factory=list)  # the spans' provenance records (None where a span has none)

    @property
    def file(self) -> Path:
        """The autosave file this text came from."""
        return self.autosave.file

    @property
    def words(self) -> int:
        """Word count of the recovered text."""
        return len(self.text.split())

    @property
    def what(self) -> str:
        """For the recovery banner."""
        return f"Unsaved text of {self.path or 'an untitled document'}"

    @property
    def details(self) -> str:
        """For the recovery banner."""
        return f"{self.words:,} words"


def recoverable_texts(store: AutosaveStore) -> list[Recovered]:
    """Unsaved texts left by crashed sessions, newest first (empty ones are dropped, broken ones set aside)."""
    found = []
    for autosave in store.orphans():
        try:
            recovered = _read(autosave)
        except CorruptAutosave as exc:
            autosave.set_aside(str(exc))
            continue
        if recovered.text.strip():
            found.append(recovered)
        else:
            autosave.delete()
    return found


def _read(autosave: Autosave) -> Recovered:
    data = autosave.data
    text, path, spans = data.get("text"), data.get("path"), data.get("spans") or []
    if not isinstance(text, str) or not (path is None or isinstance(path, str)) or not isinstance(spans, list):
        raise CorruptAutosave(f"{autosave.file.name}: not a text autosave")
    raw = data.get("records")
    raw = raw if isinstance(raw, list) and len(raw) == len(spans) else [None] * len(spans)
    pairs = [
        (s, r) for s, r in zip(spans, raw) if isinstance(s, list) and len(s) == 2 and all(isinstance(v, int) for v in s)
    ]
    return Recovered(autosave, text, path, [s for s, _ in pairs], [_record(r) for _, r in pairs])


def _record(raw: Any):
    """A span's provenance record, or None when there is none or it is damaged (the mark itself is kept)."""
    try:
        return from_dict(raw) if raw is not None else None
    except InputError:
        return None
