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
from aigc_studio.core.untrusted_json import UnsafeJson, parse_untrusted_json

SUFFIX = ".aigc.json"
FORMAT = "aigc-studio-text-spans"
MAX_SIDECAR_BYTES = 8 * 1024 * 1024  # spans of a 10 MB document (the largest the editor opens)


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
        if path.stat().st_size > MAX_SIDECAR_BYTES:  # not ours: ignored without reading it
            return []
        data = parse_untrusted_json(path.read_bytes(), max_bytes=MAX_SIDECAR_BYTES)
    except (OSError, UnsafeJson):
        return []
    if not isinstance(data, dict) or data.get("format") != FORMAT or data.get("text_sha256") != text_hash(text):
        return []
    spans = data.get("generated_spans")
    if not isinstance(spans, list):
        return []
    # A hand-edited sidecar may hold anything: keep only [start, end] pairs of whole numbers inside the text
    # (the editor hands them to Qt, which takes 32-bit positions).
    return [list(s) for s in spans if isinstance(s, list) and len(s) == 2
            and all(isinstance(v, int) and not isinstance(v, bool) for v in s) and 0 <= s[0] <= s[1] <= len(text)]
