"""Canvas exports (recipe PNGs, contact sheet, frames + GIF) and finding the model a recipe names."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aigc_studio.core.registry import list_models
from aigc_studio.errors import InputError
from aigc_studio.image.export import contact_sheet, save_animation, save_frames, save_image
from aigc_studio.image.recipe import save_png

MODEL_KINDS = ("image-gan", "image-vae")


def export_pngs(items: list[dict[str, Any]], path: str | Path, scale: int = 1) -> list[Path]:
    """One recipe PNG per item: ``path`` itself for one item, ``stem-01.png``… for several."""
    if not items:
        raise InputError("Nothing to export yet: generate some pictures first.")
    path = Path(path)
    if path.suffix.lower() != ".png":
        path = path.with_suffix(".png")
    targets = [path] if len(items) == 1 else [path.with_name(f"{path.stem}-{i + 1:02d}.png") for i in range(len(items))]
    for item, target in zip(items, targets):
        save_png(target, item["image"], item["recipe"], scale=scale)
    return targets


def export_contact_sheet(items: list[dict[str, Any]], path: str | Path, strip: bool = False, scale: int = 1) -> Path:
    """All items on one sheet, captioned with their seeds (a strip stays one row)."""
    if not items:
        raise InputError("Nothing on the canvas to put on a contact sheet.")
    labels = [
        str(i["recipe"].get("seed")) if i["recipe"].get("seed") is not None else f"#{n + 1}"
        for n, i in enumerate(items)
    ]
    sheet = contact_sheet([i["image"] for i in items], columns=len(items) if strip else None, labels=labels, scale=scale)
    return save_image(sheet, path)


def export_animation(items: list[dict[str, Any]], folder: str | Path, scale: int = 1) -> Path:
    """Frames as PNGs plus ``interpolation.gif`` in ``folder``."""
    if len(items) < 2:
        raise InputError("Interpolate two pictures first; the strip's frames become the animation.")
    folder = Path(folder)
    save_frames([i["image"] for i in items], folder, scale=scale)
    return save_animation([i["image"] for i in items], folder / "interpolation.gif", scale=scale)


def find_model_by_hash(content_hash: str) -> Path | None:
    """An installed image model whose weights hash to ``content_hash``."""
    if not content_hash:
        return None
    for kind in MODEL_KINDS:
        for entry in list_models(kind):
            if entry.card.content_hash == content_hash:
                return entry.path
    return None
