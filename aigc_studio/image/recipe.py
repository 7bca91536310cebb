"""PNG files that carry their recipe: a tEXt ``parameters`` line and an iTXt ``aigc-studio`` JSON chunk.

No torch here: the GUI writes and reads these directly. The JSON is versioned;
the human-readable line follows the A1111 habit of ``Key: value, Key: value``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, PngImagePlugin

from aigc_studio.core.atomic import atomic_path
from aigc_studio.core.untrusted_json import (
    Float,
    Int,
    ListOf,
    NotJson,
    Optional,
    Text,
    UnsafeJson,
    check_fields,
    parse_untrusted_json,
)
from aigc_studio.errors import InputError
from aigc_studio.image.picture_io import read_picture

JSON_KEY = "aigc-studio"
TEXT_KEY = "parameters"
SCALES = (1, 2, 4)
MAX_RECIPE_BYTES = 1024 * 1024  # a recipe is a few KB: a latent vector of up to 4,096 numbers and a few fields
# What the code that restores a recipe relies on (unknown fields are kept and ignored).
RECIPE_FIELDS = {
    "latent": ListOf(Float(-1e6, 1e6), max_len=65_536, min_len=1),
    "psi": Float(-100.0, 100.0),
    "seed": Optional(Int(-(2**63), 2**64 - 1)),
    "index": Int(0, 2**31 - 1),
    "resolution": Int(1, 65_536),
    "scale": Int(1, 64),
    "op": Text(200),
    "model": Text(1_000),
    "model_hash": Text(200),
}


def parameters_line(recipe: dict[str, Any]) -> str:
    """The human-readable one-liner for the ``parameters`` chunk (A1111's layout for diffusion pictures)."""
    if recipe.get("model_kind") == "image-diffusion":
        from aigc_studio.image.diffusion.metadata import parameters_text

        return parameters_text(recipe)
    parts = [
        f"Model: {recipe.get('model', '?')}",
        f"Model hash: {str(recipe.get('model_hash', ''))[:12]}",
        f"Seed: {recipe.get('seed') if recipe.get('seed') is not None else '-'}",
        f"Psi: {recipe.get('psi', 1.0):g}",
        f"Index: {recipe.get('index', 0)}",
        f"Size: {recipe.get('resolution', '?')}x{recipe.get('resolution', '?')}",
        f"Operation: {recipe.get('op', 'generate')}",
    ]
    if recipe.get("scale", 1) != 1:
        parts.append(f"Upscale: {recipe['scale']}x Lanczos")
    return ", ".join(parts)


def upscale(image: np.ndarray | Image.Image, scale: int) -> Image.Image:
    """Lanczos upscale by 1, 2 or 4."""
    if scale not in SCALES:
        raise InputError(f"Upscale must be one of {SCALES}.")
    pil = image if isinstance(image, Image.Image) else Image.fromarray(np.asarray(image, dtype=np.uint8))
    if scale == 1:
        return pil.convert("RGB")
    return pil.convert("RGB").resize((pil.width * scale, pil.height * scale), Image.Resampling.LANCZOS)


def save_png(path: str | Path, image: np.ndarray | Image.Image, recipe: dict[str, Any], scale: int = 1) -> Path:
    """Write ``image`` (optionally upscaled) with both recipe chunks, atomically. Deterministic bytes."""
    recipe = dict(recipe, scale=scale)
    info = PngImagePlugin.PngInfo()
    info.add_text(TEXT_KEY, parameters_line(recipe))
    info.add_itxt(JSON_KEY, json.dumps(recipe, sort_keys=True, ensure_ascii=False))
    path = Path(path)
    with atomic_path(path) as tmp:
        upscale(image, scale).save(tmp, format="PNG", pnginfo=info)
    return path


class MissingRecipe(InputError):
    """A readable picture that carries no AIGC Studio recipe (it can still be encoded with a VAE)."""


def read_recipe(path: str | Path) -> dict[str, Any]:
    """The recipe embedded in a PNG we exported; InputError for other files (MissingRecipe for plain pictures)."""
    path = Path(path)
    with read_picture(path) as im:  # refuses empty, damaged and oversized files with a clear message
        text = dict(getattr(im, "text", {}) or {})
        fmt = im.format
    raw = text.get(JSON_KEY)
    if raw is None and TEXT_KEY in text and "Steps:" in text[TEXT_KEY]:
        from aigc_studio.image.diffusion.metadata import parse_parameters

        return dict(parse_parameters(text[TEXT_KEY]), version=1, source_tool="parameters")  # A1111 and friends
    if raw is None:
        what = "a PNG" if fmt == "PNG" else f"a {fmt} image"
        hint = f" It has a 'parameters' text: {text[TEXT_KEY][:80]}" if TEXT_KEY in text else ""
        raise MissingRecipe(f"{path.name} is {what} without an AIGC Studio recipe.{hint}")
    try:
        recipe = parse_untrusted_json(raw, max_bytes=MAX_RECIPE_BYTES)
    except NotJson:
        raise InputError(f"{path.name} has a damaged AIGC Studio recipe (not valid JSON).") from None
    except UnsafeJson as exc:
        raise InputError(f"{path.name} has a damaged AIGC Studio recipe ({exc}).") from None
    if isinstance(recipe, dict) and recipe.get("model_kind") == "image-diffusion":
        return _checked_diffusion_recipe(path, recipe)
    if not isinstance(recipe, dict) or not isinstance(recipe.get("latent"), list):
        raise InputError(f"{path.name} has an incomplete AIGC Studio recipe (no latent vector).")
    version = recipe.get("version", 1)
    if not _is_number(version, int):
        raise InputError(f"{path.name} has a damaged AIGC Studio recipe (version {version!r} is not a number).")
    if version > 1:
        raise InputError(f"{path.name} was written by a newer AIGC Studio (recipe version {version}).")
    if not recipe["latent"] or not all(_is_number(v) for v in recipe["latent"]):
        raise InputError(f"{path.name} has a damaged AIGC Studio recipe (its latent vector is not a list of numbers).")
    if not _is_number(recipe.get("psi", 1.0)) or not (recipe.get("seed") is None or _is_number(recipe["seed"], int)):
        raise InputError(f"{path.name} has a damaged AIGC Studio recipe (its psi or seed is not a number).")
    return check_fields(
        recipe, RECIPE_FIELDS, lambda key, problem: f"{path.name} has a damaged AIGC Studio recipe ({problem})."
    )


def _is_number(value: Any, kind: type = float) -> bool:
    """True for a JSON number (an int when ``kind`` is int); bools are not numbers here."""
    allowed = (int,) if kind is int else (int, float)
    return isinstance(value, allowed) and not isinstance(value, bool) and value == value


def _checked_diffusion_recipe(path: Path, recipe: dict[str, Any]) -> dict[str, Any]:
    """A diffusion recipe has a prompt and numbers instead of a latent vector."""
    if not isinstance(recipe.get("version", 1), int) or recipe.get("version", 1) > 1:
        raise InputError(f"{path.name} was written by a newer AIGC Studio (recipe version {recipe.get('version')!r}).")
    if not isinstance(recipe.get("prompt", ""), str):
        raise InputError(f"{path.name} has a damaged AIGC Studio recipe (its prompt is not text).")
    for key in ("steps", "seed", "width", "height"):
        if key in recipe and not (recipe[key] is None or _is_number(recipe[key], int)):
            raise InputError(f"{path.name} has a damaged AIGC Studio recipe (its {key} is not a whole number).")
    return recipe
