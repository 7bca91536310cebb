"""The sidecar file that remembers which parts of a document were generated.

``story.md`` gets ``story.md.aigc.json`` beside it; the text file itself stays
plain. A sidecar whose text hash does not match (the file was edited elsewhere)
is ignored.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from aigc_studio.core.atomic import atomic_write_text

SUFFIX = ".aigc.json"
FORMAT = "aigc-studio-text-spans"


def sidecar_path(document: str | Path) -> Path:
    """Where the sidecar of ``document`` lives."""
    document = Path(document)
    return document.with_name(document.name + SUFFIX)


def text_hash(text: str) -> str:
    """SHA-256 of the text (UTF-8)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def write_sidecar(document: str | Path, text: str, spans: list[list[int]]) -> None:
    """Write (or, with no spans, remove) the sidecar of ``document``."""
    path = sidecar_path(document)
    if not spans:
        path.unlink(missing_ok=True)
        return
    data = {"format": FORMAT, "version": 1, "text_sha256": text_hash(text), "generated_spans": spans}
    atomic_write_text(path, json.dumps(data))


def read_sidecar(document: str | Path, text: str) -> list[list[int]]:
    """Generated spans stored for ``document`` when they still match ``text``; else none."""
    path = sidecar_path(document)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return []
    if not isinstance(data, dict) or data.get("format") != FORMAT or data.get("text_sha256") != text_hash(text):
        return []
    spans = data.get("generated_spans")
    if not isinstance(spans, list):
        return []
    # A hand-edited sidecar may hold anything: keep only [start, end] pairs of whole numbers.
    return [list(s) for s in spans if isinstance(s, list) and len(s) == 2
            and all(isinstance(v, int) and not isinstance(v, bool) for v in s)]
