"""Contact sheets and animations (GIF / WebP) from uint8 images. No torch."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from aigc_studio.core.atomic import atomic_path
from aigc_studio.errors import InputError


def contact_sheet(
    images: Sequence[np.ndarray],
    columns: int | None = None,
    pad: int = 4,
    labels: Sequence[str] | None = None,
    scale: int = 1,
) -> Image.Image:
    """All ``images`` in a grid on white, optionally captioned (seeds) underneath each."""
    if not images:
        raise InputError("There are no images to put on a contact sheet.")
    tiles = [Image.fromarray(np.asarray(im, dtype=np.uint8)) for im in images]
    if scale != 1:
        tiles = [t.resize((t.width * scale, t.height * scale), Image.Resampling.LANCZOS) for t in tiles]
    w, h = tiles[0].size
    columns = columns or max(1, int(math.ceil(math.sqrt(len(tiles)))))
    rows = int(math.ceil(len(tiles) / columns))
    caption = 12 if labels else 0
    sheet = Image.new("RGB", (columns * (w + pad) + pad, rows * (h + pad + caption) + pad), "white")
    draw = ImageDraw.Draw(sheet)
    for i, tile in enumerate(tiles):
        r, c = divmod(i, columns)
        x, y = pad + c * (w + pad), pad + r * (h + pad + caption)
        sheet.paste(tile.convert("RGB"), (x, y))
        if labels:
            draw.text((x, y + h), str(labels[i])[:16], fill=(60, 60, 60))
    return sheet


COMMON_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP", ".gif": "GIF", ".bmp": "BMP"}


def save_image(image: Image.Image, path: str | Path) -> Path:
    """Save a picture atomically, in the format its suffix names (PNG when the suffix names none)."""
    path = Path(path)
    suffix = path.suffix.lower()
    # The common formats without Image.registered_extensions(): it imports every PIL plugin, a
    # burst of imports that holds the interpreter for tens of ms and stalls the GUI thread.
    image_format = COMMON_FORMATS.get(suffix) or Image.registered_extensions().get(suffix, "PNG")
    with atomic_path(path) as tmp:
        image.save(tmp, format=image_format)
    return path


def save_animation(
    frames: Sequence[np.ndarray], path: str | Path, fps: float = 8.0, scale: int = 1, bounce: bool = True
) -> Path:
    """An endlessly looping GIF or WebP (by suffix); ``bounce`` plays forwards then back."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".gif", ".webp"):
        raise InputError("Animations are saved as .gif or .webp.")
    if len(frames) < 2:
        raise InputError("An animation needs at least two frames.")
    pil = [Image.fromarray(np.asarray(f, dtype=np.uint8)) for f in frames]
    if scale != 1:
        pil = [p.resize((p.width * scale, p.height * scale), Image.Resampling.LANCZOS) for p in pil]
    if bounce:
        pil = pil + pil[-2:0:-1]
    duration = int(round(1000 / max(0.5, fps)))
    with atomic_path(path) as tmp:
        kwargs = {"lossless": True} if suffix == ".webp" else {"disposal": 2}
        pil[0].save(
            tmp, format=suffix[1:].upper(), save_all=True, append_images=pil[1:], duration=duration, loop=0, **kwargs
        )
    return path


def save_frames(frames: Sequence[np.ndarray], folder: str | Path, stem: str = "frame", scale: int = 1) -> list[Path]:
    """Each frame as ``stem-000.png`` in ``folder``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for i, frame in enumerate(frames):
        pil = Image.fromarray(np.asarray(frame, dtype=np.uint8))
        if scale != 1:
            pil = pil.resize((pil.width * scale, pil.height * scale), Image.Resampling.LANCZOS)
        target = folder / f"{stem}-{i:03d}.png"
        with atomic_path(target) as tmp:
            pil.save(tmp, format="PNG")
        out.append(target)
    return out
