"""An image folder turned into one uint8 array: mixed formats, alpha, greyscale, crop or pad.

Everything is decoded once up front (a few thousand small images fit easily in
memory), so training steps never wait on disk and the data set has one hash.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from aigc_studio.errors import InputError
from aigc_studio.image.picture_io import read_picture

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif", ".tif", ".tiff"}
FEW_IMAGES = 50
FITS = ("crop", "pad")


@dataclass
class ImageDataset:
    """Images as an (N, H, W, 3) uint8 array plus what happened while reading the folder."""

    images: np.ndarray
    files: list[str]
    skipped: list[tuple[str, str]] = field(default_factory=list)
    resolution: int = 64
    fit: str = "crop"

    def __len__(self) -> int:
        return int(self.images.shape[0])

    @property
    def hash(self) -> str:
        """SHA-256 of the prepared pixels and settings (checkpoints compare it on resume)."""
        digest = hashlib.sha256(f"{self.resolution}:{self.fit}:{self.images.shape}".encode())
        digest.update(np.ascontiguousarray(self.images).tobytes())
        return digest.hexdigest()


def to_rgb(image: Image.Image, background: tuple[int, int, int] = (255, 255, 255)) -> Image.Image:
    """Any PIL image (palette, greyscale, alpha, 16-bit) as RGB, transparency composited on ``background``."""
    if image.mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    if image.mode in ("I", "F") or image.mode.startswith("I;16"):
        # 16/32-bit greyscale: values above 255 are taken as 16-bit and scaled down. (Pillow's point() only
        # takes linear functions on these modes, so this is done in NumPy.)
        values = np.nan_to_num(np.asarray(image, dtype=np.float64), nan=0.0, posinf=255.0, neginf=0.0)
        values = np.clip(np.where(values > 255, values / 256.0, values), 0, 255)
        image = Image.fromarray(values.astype(np.uint8))
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "RGBa"):
        rgba = image.convert("RGBA")
        base = Image.new("RGBA", rgba.size, background + (255,))
        return Image.alpha_composite(base, rgba).convert("RGB")
    return image.convert("RGB")


def fit_square(image: Image.Image, resolution: int, fit: str = "crop", background=(255, 255, 255)) -> Image.Image:
    """Centre-crop or pad ``image`` to a square, then resize to ``resolution`` (Lanczos)."""
    if fit not in FITS:
        raise InputError(f"Unknown fit {fit!r}; choose crop or pad.")
    if fit == "crop":
        return ImageOps.fit(image, (resolution, resolution), Image.Resampling.LANCZOS)
    side = max(image.size)
    canvas = Image.new("RGB", (side, side), background)
    canvas.paste(image, ((side - image.width) // 2, (side - image.height) // 2))
    return canvas.resize((resolution, resolution), Image.Resampling.LANCZOS)


def list_image_files(folder: Path) -> list[Path]:
    """Image files under ``folder`` (recursively), sorted, by suffix."""
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def load_image_folder(
    folder: str | Path,
    resolution: int,
    fit: str = "crop",
    log: Callable[[str], None] | None = None,
    check_cancelled: Callable[[], None] | None = None,
    progress: Callable[[float, str], None] | None = None,
) -> ImageDataset:
    """Read every image under ``folder``; unreadable files are skipped and counted, not fatal."""
    folder = Path(folder).expanduser()
    log = log or (lambda line: None)
    if not folder.exists():
        raise InputError(f"Image folder not found: {folder}")
    if not folder.is_dir():
        raise InputError(f"{folder} is a file; choose a folder of images.")
    if fit not in FITS:
        raise InputError(f"Unknown fit {fit!r}; choose crop or pad.")
    paths = list_image_files(folder)
    images: list[np.ndarray] = []
    files: list[str] = []
    skipped: list[tuple[str, str]] = []
    for i, path in enumerate(paths):
        if check_cancelled and i % 32 == 0:
            check_cancelled()
        if progress and i % 100 == 0:
            progress(i / max(1, len(paths)), f"Reading images {i}/{len(paths)}")
        try:
            with read_picture(path) as im:
                rgb = fit_square(to_rgb(im), resolution, fit)
        except InputError as exc:  # empty, damaged or oversized: skip this file, say why
            skipped.append((str(path.relative_to(folder)), str(exc)))
            continue
        except (OSError, ValueError, MemoryError) as exc:  # odd modes that decode but do not convert
            skipped.append((str(path.relative_to(folder)), f"{path.name} cannot be converted ({exc})."))
            continue
        images.append(np.asarray(rgb, dtype=np.uint8))
        files.append(str(path.relative_to(folder)))
    if skipped:
        names = ", ".join(name for name, _ in skipped[:5]) + (" …" if len(skipped) > 5 else "")
        log(f"Skipped {len(skipped)} unreadable file(s): {names}")
    if not images:
        if not paths:
            raise InputError(f"{folder} has no PNG, JPEG or WebP images; choose a folder with images to train on.")
        raise InputError(
            f"{folder} has {len(paths)} image file(s), none readable; first: {skipped[0][1]} "
            "Choose a folder with images to train on."
        )
    if len(images) < FEW_IMAGES:
        log(
            f"Warning: only {len(images)} images. A GAN or VAE needs at least ~{FEW_IMAGES} (better hundreds) to learn more than copies."
        )
    log(f"Read {len(images)} images from {folder} at {resolution} px ({fit}).")
    return ImageDataset(np.stack(images), files, skipped, resolution, fit)
