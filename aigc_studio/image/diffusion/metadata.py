"""PNG text in the Automatic1111 layout (prompt, ``Negative prompt:``, ``Key: value, ...``), written and read.

Most tools that show or re-use generation settings (A1111, Forge, ComfyUI readers,
Civitai, InvokeAI's importer) read this ``parameters`` chunk; our versioned JSON sits
beside it. Reading accepts A1111's own files, so their prompt and settings come back.
"""

from __future__ import annotations

import contextlib
import re
from typing import Any

from aigc_studio.image.diffusion.schedulers import a1111_name, from_a1111

KIND = "image-diffusion"
# A1111's own pattern (modules/infotext_utils.py): Key: value or Key: "quoted, value", comma separated.
_PAIR = re.compile(r'\s*(\w[\w \-/]+):\s*("(?:\\.|[^\\"])+"|[^,]*)(?:,|$)')


def is_diffusion_recipe(recipe: dict[str, Any]) -> bool:
    """True for recipes of pictures drawn by a diffusion model."""
    return recipe.get("model_kind") == KIND


def parameters_text(recipe: dict[str, Any]) -> str:
    """The ``parameters`` chunk for a diffusion recipe, in A1111's layout."""
    lines = [str(recipe.get("prompt", ""))]
    if recipe.get("negative_prompt"):
        lines.append(f"Negative prompt: {recipe['negative_prompt']}")
    fields = [
        ("Steps", recipe.get("steps")),
        ("Sampler", a1111_name(recipe["scheduler"]) if recipe.get("scheduler") else None),
        ("CFG scale", _num(recipe.get("cfg"))),
        ("Seed", recipe.get("seed")),
        ("Size", f"{recipe.get('width')}x{recipe.get('height')}"),
        ("Model hash", str(recipe.get("model_hash", ""))[:10] or None),
        ("Model", recipe.get("model")),
    ]
    if recipe.get("op") in ("img2img", "inpaint"):
        fields.append(("Denoising strength", _num(recipe.get("strength"))))
    if recipe.get("variation_seed") is not None:
        fields += [
            ("Variation seed", recipe["variation_seed"]),
            ("Variation seed strength", _num(recipe["variation_strength"])),
        ]
    if recipe.get("scale", 1) != 1:
        fields.append(("Hires upscale", recipe["scale"]))
    fields.append(("Version", f"aigc-studio {recipe.get('app_version', '')}".strip()))
    lines.append(", ".join(f"{k}: {_quote(v)}" for k, v in fields if v is not None and v != ""))
    return "\n".join(lines)


def _num(value: Any) -> Any:
    return None if value is None else f"{float(value):g}"


def _quote(value: Any) -> str:
    text = str(value)
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"' if ("," in text or ":" in text) else text


def _unquote(text: str) -> str:
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] == '"':
        return re.sub(r"\\(.)", r"\1", text[1:-1])
    return text


def parse_parameters(text: str) -> dict[str, Any]:
    """A diffusion recipe from an A1111 ``parameters`` text (ours or theirs); unknown keys are kept under ``a1111``."""
    lines = text.strip().split("\n")
    # The settings are the last line when it reads "Steps: ..., Key: value, ..." (a prompt may hold a colon too).
    settings_line = lines[-1] if "Steps:" in lines[-1] and len(_PAIR.findall(lines[-1])) >= 3 else ""
    body = lines[:-1] if settings_line else lines
    prompt, negative, in_negative = [], [], False
    for line in body:
        if line.startswith("Negative prompt:"):
            in_negative = True
            line = line[len("Negative prompt:") :].strip()
        (negative if in_negative else prompt).append(line)
    fields = {k.strip(): _unquote(v) for k, v in _PAIR.findall(settings_line)}
    recipe: dict[str, Any] = {
        "model_kind": KIND,
        "op": "img2img" if "Denoising strength" in fields else "txt2img",
        "prompt": "\n".join(prompt).strip(),
        "negative_prompt": "\n".join(negative).strip(),
        "a1111": fields,
    }
    for key, name, kind in (
        ("Steps", "steps", int),
        ("CFG scale", "cfg", float),
        ("Seed", "seed", int),
        ("Denoising strength", "strength", float),
        ("Variation seed", "variation_seed", int),
        ("Variation seed strength", "variation_strength", float),
    ):
        if key in fields:
            with contextlib.suppress(ValueError):
                recipe[name] = kind(float(fields[key])) if kind is int else kind(fields[key])
    size = re.fullmatch(r"(\d+)x(\d+)", fields.get("Size", ""))
    if size:
        recipe["width"], recipe["height"] = int(size.group(1)), int(size.group(2))
    if "Sampler" in fields:
        recipe["scheduler"] = from_a1111(fields["Sampler"], fields.get("Schedule type", "")) or "euler"
        if from_a1111(fields["Sampler"], fields.get("Schedule type", "")) is None:
            recipe["scheduler_note"] = f"A1111 sampler {fields['Sampler']!r} has no match here; Euler is used instead."
    if "Model" in fields:
        recipe["model"] = fields["Model"]
    if "Model hash" in fields:
        recipe["model_hash"] = fields["Model hash"]
    return recipe
