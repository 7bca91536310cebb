"""The writer's document in the autosave: its record, and the unsaved text a crashed session left.

Files live in ``autosave/text-<pid>.json`` (see :mod:`aigc_studio.core.autosave`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aigc_studio.core.autosave import Autosave, AutosaveStore, CorruptAutosave, RecoveredWork, autosave_dir

KIND = "text"

__all__ = ["KIND", "Recovered", "autosave_dir", "recoverable_texts", "text_record"]


def text_record(text: str, path: str | None, spans: list) -> dict[str, Any]:
    """What the autosave keeps of a document: the text, its file and the generated-text ranges."""
    return {"text": text, "path": path, "spans": spans}


@dataclass
class Recovered(RecoveredWork):
    """Unsaved text found after a crash."""

    text: str
    path: str | None
    spans: list

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
    spans = [s for s in spans if isinstance(s, list) and len(s) == 2 and all(isinstance(v, int) for v in s)]
    return Recovered(autosave, text, path, spans)
