"""The sidecar file that remembers which parts of a document were generated.

``story.md`` gets ``story.md.aigc.json`` beside it; the text file itself stays
plain. A sidecar whose text hash does not match (the file was edited elsewhere)
is ignored. Version 2 adds, per span, the provenance record of the generation
that wrote it (model and hash, seed, sampling settings, app version, time);
version 1 sidecars (spans only) still open.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from aigc_studio.core.atomic import atomic_write_text
from aigc_studio.core.provenance import Provenance, from_dict
from aigc_studio.core.untrusted_json import UnsafeJson, parse_untrusted_json
from aigc_studio.errors import InputError

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


def write_sidecar(
    document: str | Path, text: str, spans: list[list[int]], records: list[Provenance | None] | None = None
) -> None:
    """Write (or, with no spans, remove) the sidecar of ``document``; ``records`` go with ``spans``, in order."""
    path = sidecar_path(document)
    if not spans:
        path.unlink(missing_ok=True)
        return
    data = {"format": FORMAT, "version": 2, "text_sha256": text_hash(text), "generated_spans": spans}
    records = list(records or [])[: len(spans)]
    data["span_records"] = [r.to_dict() if r is not None else None for r in records]
    data["span_records"] += [None] * (len(spans) - len(records))
    atomic_write_text(path, json.dumps(data))


def read_sidecar(document: str | Path, text: str) -> list[list[int]]:
    """Generated spans stored for ``document`` when they still match ``text``; else none."""
    return read_sidecar_with_records(document, text)[0]


def read_sidecar_with_records(document: str | Path, text: str) -> tuple[list[list[int]], list[Provenance | None]]:
    """Generated spans and their provenance records (None where a span has none, e.g. version 1 sidecars)."""
    path = sidecar_path(document)
    try:
        if path.stat().st_size > MAX_SIDECAR_BYTES:  # not ours: ignored without reading it
            return [], []
        data = parse_untrusted_json(path.read_bytes(), max_bytes=MAX_SIDECAR_BYTES)
    except (OSError, UnsafeJson):
        return [], []
    if not isinstance(data, dict) or data.get("format") != FORMAT or data.get("text_sha256") != text_hash(text):
        return [], []
    spans = data.get("generated_spans")
    if not isinstance(spans, list):
        return [], []
    raw_records = data.get("span_records")
    if not isinstance(raw_records, list) or len(raw_records) != len(spans):
        raw_records = [None] * len(spans)
    kept, records = [], []
    # A hand-edited sidecar may hold anything: keep only [start, end] pairs of whole numbers inside the text
    # (the editor hands them to Qt, which takes 32-bit positions).
    for span, raw in zip(spans, raw_records):
        if (
            isinstance(span, list)
            and len(span) == 2
            and all(isinstance(v, int) and not isinstance(v, bool) for v in span)
            and 0 <= span[0] <= span[1] <= len(text)
        ):
            kept.append(list(span))
            records.append(_record(raw, path.name))
    return kept, records


def _record(raw, where: str) -> Provenance | None:
    """A span's record, or None when it has none or it is damaged (the span mark itself is still good)."""
    if raw is None:
        return None
    try:
        return from_dict(raw, where)
    except InputError:
        return None
