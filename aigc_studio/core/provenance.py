"""One provenance record for a picture, a piece of text or a piece of music: what made it, and how.

The same record goes into a PNG (inside its recipe chunk), a text sidecar (one
per generated span) and a MIDI file (a text meta event that other programs
ignore and that survives mido and pretty_midi). *Recipe…* in each studio shows
it and *Regenerate* runs it again. Plain Python, no Qt and no torch.

A record made by the command line leaves ``created`` empty when the file it goes
into promises the same bytes for the same seed (PNG and MIDI); the file's own
date tells when it was written.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from aigc_studio import __version__
from aigc_studio.errors import InputError, StudioError

FORMAT = "aigc-studio-provenance"
VERSION = 1
MEDIA = ("image", "text", "music")
MIDI_TEXT_PREFIX = "aigc-studio provenance "  # a MIDI text event starting with this holds one record as JSON
MAX_RECORD_CHARS = 20_000  # a record is a few hundred characters; a bigger one is not ours


@dataclass(frozen=True)
class Provenance:
    """Model (name and content hash), seed, sampling settings, operation, app version and time of one result."""

    media: str  # image, text or music
    operation: str  # what the user asked for: "generate", "continue", "infill", "variations", …
    model: str  # the model's name (or path) as the user picked it
    model_hash: str  # the model file's content hash, so a different file with the same name is noticed
    seed: int | None
    settings: dict[str, Any] = field(default_factory=dict)  # sampling settings: temperature, top_k, psi, bars, …
    app_version: str = __version__
    created: str = ""  # UTC, ISO 8601; "" where the file must not change between identical runs

    def to_dict(self) -> dict[str, Any]:
        """The record as JSON-ready data (with its format name and version)."""
        return {"format": FORMAT, "version": VERSION, **asdict(self)}

    def to_json(self) -> str:
        """Compact, key-sorted JSON (the same record always gives the same text)."""
        return json.dumps(self.to_dict(), sort_keys=True, ensure_ascii=True, separators=(",", ":"))

    def lines(self) -> list[tuple[str, str]]:
        """(label, value) rows for the *Recipe…* dialog."""
        rows = [
            ("Operation", f"{self.media}: {self.operation}"),
            ("Model", self.model),
            ("Model hash", self.model_hash or "-"),
            ("Seed", "-" if self.seed is None else str(self.seed)),
        ]
        rows += [(name.replace("_", " ").capitalize(), _show(value)) for name, value in sorted(self.settings.items())]
        rows += [("AIGC Studio", self.app_version), ("Made", self.created or "-")]
        return rows

    def stamped(self) -> Provenance:
        """The same record with ``created`` set to now (UTC, to the second)."""
        now = datetime.now(timezone.utc).replace(microsecond=0).isoformat()
        return Provenance(**{**asdict(self), "created": now})


def from_dict(data: Any, where: str = "the file") -> Provenance:
    """Check and rebuild a record read from a file; InputError says what is wrong with it."""
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise InputError(f"{where} holds no AIGC Studio provenance record.")
    version = data.get("version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise InputError(f"{where} has a damaged provenance record (version {version!r}).")
    if version > VERSION:
        raise InputError(f"{where} was written by a newer AIGC Studio (provenance version {version}).")
    text_fields = ("media", "operation", "model", "model_hash", "app_version", "created")
    values = {name: data.get(name, "") for name in text_fields}
    if not all(isinstance(v, str) for v in values.values()) or values["media"] not in MEDIA:
        raise InputError(f"{where} has a damaged provenance record (a text field is not text, or unknown media).")
    seed = data.get("seed")
    if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool)):
        raise InputError(f"{where} has a damaged provenance record (seed {seed!r} is not a whole number).")
    settings = data.get("settings", {})
    if not isinstance(settings, dict):
        raise InputError(f"{where} has a damaged provenance record (its settings are not a table).")
    return Provenance(seed=seed, settings=settings, **values)


def from_json(text: str, where: str = "the file") -> Provenance:
    """Parse one record from JSON text."""
    if len(text) > MAX_RECORD_CHARS:
        raise InputError(f"{where} has a provenance record of {len(text)} characters; it is not ours.")
    from aigc_studio.core.untrusted_json import UnsafeJson, parse_untrusted_json

    try:
        data = parse_untrusted_json(text)  # bounded depth and digits: a stranger's file may hold anything
    except UnsafeJson as exc:
        raise InputError(f"{where} has a damaged provenance record ({exc}).") from None
    return from_dict(data, where)


def midi_text(record: Provenance) -> str:
    """The text of the MIDI text meta event that carries ``record`` (ASCII only, as MIDI text should be)."""
    return MIDI_TEXT_PREFIX + record.to_json()


def from_midi_text(text: str, where: str = "the MIDI file") -> Provenance | None:
    """The record in a MIDI text event, or None when the event is someone else's text."""
    if not text.startswith(MIDI_TEXT_PREFIX):
        return None
    return from_json(text[len(MIDI_TEXT_PREFIX) :], where)


def from_image_recipe(recipe: dict[str, Any]) -> Provenance:
    """The record of a picture from the recipe its PNG carries (older PNGs have no app version: "")."""
    settings = {key: recipe[key] for key in ("psi", "index", "resolution", "scale", "class_label") if key in recipe}
    seed = recipe.get("seed")
    return Provenance(
        media="image",
        operation=str(recipe.get("op", "generate")),
        model=str(recipe.get("model", "")),
        model_hash=str(recipe.get("model_hash", "")),
        seed=seed if isinstance(seed, int) and not isinstance(seed, bool) else None,
        settings=settings,
        app_version=str(recipe.get("app_version", "")),
        created=str(recipe.get("created", "")),
    )


def model_identity(path: str | Path, kinds: str | tuple[str, ...]) -> tuple[str, str]:
    """(name, content hash) for a record: the name when the registry finds this very file under it, else
    the path; the hash is "" for a folder (a Hugging Face model has no card of ours)."""
    from aigc_studio.core.modelfile import read_card
    from aigc_studio.core.registry import resolve_model

    path = Path(path)
    try:
        content_hash = read_card(path).content_hash if path.is_file() else ""
    except (StudioError, OSError):
        content_hash = ""
    try:
        same = resolve_model(path.stem, kinds).resolve() == path.resolve()
    except (StudioError, OSError):
        same = False
    return (path.stem if same else str(path)), content_hash


def model_for(record: Provenance, kinds: str | tuple[str, ...], current: Path | None = None) -> Path:
    """The model a record was made with: ``current`` or a folder when they match, else the registry's.

    Raises a StudioError that names the model when it is missing or its weights changed since.
    """
    from aigc_studio.core.modelfile import read_card
    from aigc_studio.core.registry import resolve_model

    candidates = [Path(record.model)] if Path(record.model).is_dir() else []
    if current is not None:
        candidates.append(Path(current))
    for path in candidates:
        try:
            if path.is_dir() or read_card(path).content_hash == record.model_hash:
                return path
        except (StudioError, OSError):
            continue
    path = resolve_model(record.model, kinds)  # says which model is missing
    if record.model_hash and read_card(path).content_hash != record.model_hash:
        raise InputError(
            f"{record.model} has been retrained since this was made (its weights differ); "
            "the recipe cannot be reproduced with it."
        )
    return path


def _show(value: Any) -> str:
    if value is None or value == "" or value == []:
        return "-"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (list, tuple)):
        return ", ".join(_show(v) for v in value)
    return str(value)
