"""Lists the bundled starter models and the user's own models; resolves ``--model``."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from aigc_studio.core.atomic import remove_stale_parts_in
from aigc_studio.core.modelfile import ModelCard, read_card, with_article
from aigc_studio.core.paths import bundled_models_dir, user_models_dir
from aigc_studio.errors import ModelFileError


@dataclass
class ModelEntry:
    """One model the app knows about."""

    name: str
    kind: str
    path: Path
    size_bytes: int
    source: str  # "bundled" or "user"
    card: ModelCard

    def to_dict(self) -> dict:
        """JSON-friendly form for ``models list --json``."""
        return {
            "name": self.name,
            "kind": self.kind,
            "path": str(self.path),
            "size_bytes": self.size_bytes,
            "source": self.source,
            "summary": self.card.summary(),
            "hash": self.card.short_hash,
            "untrained": self.card.untrained,
        }


def model_dirs() -> list[tuple[str, Path]]:
    """Folders searched for models, bundled first."""
    return [("bundled", bundled_models_dir()), ("user", user_models_dir())]


def list_models(kind: str | None = None) -> list[ModelEntry]:
    """All readable models, optionally only one kind (or kind prefix such as ``image``)."""
    entries: list[ModelEntry] = []
    for source, folder in model_dirs():
        if not folder.is_dir():
            continue
        if source == "user":
            remove_stale_parts_in(folder)  # half-written temp files of a killed save are never models
        for path in sorted(folder.glob("*.safetensors")):
            try:
                card = read_card(path)
            except ModelFileError:
                continue  # not ours or damaged; `models list` should not fail on it
            if kind and not (card.kind == kind or card.kind.startswith(kind + "-")):
                continue
            entries.append(ModelEntry(path.stem, card.kind, path, path.stat().st_size, source, card))
    return entries


def resolve_model(name_or_path: str | os.PathLike, kind: str | tuple[str, ...] | None = None) -> Path:
    """Turn a model name from the registry, or a file path, into a path; checks the kind."""
    text = str(name_or_path)
    candidate = Path(text).expanduser()
    if candidate.suffix == ".safetensors" or os.sep in text or candidate.exists():
        if not candidate.exists():
            raise ModelFileError(f"Model file not found: {candidate}")
        read_card(candidate, kind)
        return candidate
    kinds = (kind,) if isinstance(kind, str) else (kind or (None,))
    matches = [e for k in kinds for e in list_models(k) if e.name == text]
    if not matches:
        other_kind = [e for e in list_models() if e.name == text]
        if other_kind:
            wanted = " or ".join(k for k in kinds if k) or "another kind"
            raise ModelFileError(f"{text!r} is {with_article(other_kind[0].kind)} model; this needs {with_article(wanted)} model.")
        known = ", ".join(sorted({e.name for k in kinds for e in list_models(k)})) or "none"
        raise ModelFileError(f"No model named {text!r}. Known models: {known}. Or pass a .safetensors path.")
    user = [m for m in matches if m.source == "user"]
    return (user or matches)[0].path
