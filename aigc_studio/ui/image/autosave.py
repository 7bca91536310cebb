"""The image canvas in the autosave: the pictures on the grid (pixels and recipes), strip or grid, selection.

The pixels go in a safetensors file beside ``autosave/image-<pid>.json`` so the grid
comes back exactly, even when the model that drew it is gone; the recipes (model
hash, latent, seed, ψ, operation) keep every canvas action working on them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from aigc_studio.core.autosave import KEEP_ARRAYS, Autosave, AutosaveStore, CorruptAutosave, RecoveredWork

KIND = "image"


def canvas_record(
    items: list[dict[str, Any]], strip: bool, selected: list[int], pixels_unchanged: bool = False
) -> tuple[dict[str, Any], Any]:
    """(JSON data, arrays) for the store; ``pixels_unchanged`` keeps the pixels already written."""
    data = {"strip": strip, "selected": list(selected), "recipes": [item["recipe"] for item in items]}
    arrays = KEEP_ARRAYS if pixels_unchanged else {_key(i): item["image"] for i, item in enumerate(items)}
    return data, arrays


@dataclass
class RecoveredCanvas(RecoveredWork):
    """The canvas a crashed session was showing."""

    items: list[dict[str, Any]]
    strip: bool
    selected: list[int]


def recoverable_canvas(store: AutosaveStore) -> RecoveredCanvas | None:
    """The newest canvas a crashed session left, or None; older ones are dropped, broken ones set aside.

    Older canvases were replaced on screen long ago and every picture is in the history too.
    """
    orphans = store.orphans()
    for n, autosave in enumerate(orphans):
        try:
            canvas = _read(autosave)
        except CorruptAutosave as exc:
            autosave.set_aside(str(exc))
            continue
        for older in orphans[n + 1 :]:
            older.delete()
        return canvas
    return None


def _read(autosave: Autosave) -> RecoveredCanvas:
    data = autosave.data
    recipes, selected = data.get("recipes"), data.get("selected", [])
    if not isinstance(recipes, list) or not all(isinstance(r, dict) for r in recipes):
        raise CorruptAutosave(f"{autosave.file.name}: no list of recipes")
    if not isinstance(selected, list) or not all(isinstance(i, int) and 0 <= i < len(recipes) for i in selected):
        raise CorruptAutosave(f"{autosave.file.name}: the selection does not match the pictures")
    arrays = autosave.arrays() if recipes else {}
    items = []
    for i, recipe in enumerate(recipes):
        image = arrays.get(_key(i))
        if image is None or image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
            raise CorruptAutosave(f"{autosave.file.name}: picture {i + 1} is missing or not RGB")
        items.append({"image": image, "recipe": recipe})
    return RecoveredCanvas(autosave, items, bool(data.get("strip", False)), selected)


def _key(index: int) -> str:
    return f"picture.{index}"
