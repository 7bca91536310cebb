"""What a diffusion model on disk is, checked before anything is loaded: every refusal names the file and the reason.

A model is either a diffusers folder (``model_index.json`` and one sub-folder per
component) or a single-file checkpoint. No diffusers or torch import here: the GUI
calls :func:`inspect_source` to tell a diffusion model from our own model files.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aigc_studio.core.untrusted_json import UnsafeJson, parse_untrusted_json
from aigc_studio.errors import InputError, ModelFileError
from aigc_studio.image.diffusion.single_file import (
    FAMILIES,
    NATIVE_SIZE,
    detect_family,
    pipeline_class_name,
    read_header,
)

KIND = "image-diffusion"
PICKLE_SUFFIXES = (".bin", ".ckpt", ".pt", ".pth", ".pkl")
PICKLE_WARNING = (
    "its weights are Python pickle files ({files}); loading a pickle can run any code hidden in it. "
    "Allow it only for a file from a source you trust completely (a .safetensors copy is always safe)."
)
# The pipeline classes we build; a folder naming any other class needs code we never run.
STANDARD_PIPELINES = {
    "StableDiffusionPipeline": ("sd", False),
    "StableDiffusionImg2ImgPipeline": ("sd", False),
    "StableDiffusionInpaintPipeline": ("sd", True),
    "StableDiffusionXLPipeline": ("sdxl", False),
    "StableDiffusionXLImg2ImgPipeline": ("sdxl", False),
    "StableDiffusionXLInpaintPipeline": ("sdxl", True),
    "LatentConsistencyModelPipeline": ("sd", False),
}
WEIGHTED = ("unet", "vae", "text_encoder", "text_encoder_2")
INSTALL_HINT = (
    "Opening Stable Diffusion models needs the optional diffusers package: pip install 'aigc-studio[diffusion]'."
)


@dataclass
class DiffusionSource:
    """A checked diffusion model on disk: layout, family, inpainting, pickles, defaults."""

    path: Path
    layout: str  # "folder" or "file"
    family: str  # "sd1", "sd2" or "sdxl"
    inpainting: bool
    pipeline: str
    pickles: list[str] = field(default_factory=list)
    variant: str | None = None
    few_step: bool = False  # LCM / Turbo: a handful of steps, low guidance

    @property
    def name(self) -> str:
        """The name shown and written in metadata (file name without .safetensors)."""
        return self.path.stem if self.layout == "file" else self.path.name

    @property
    def needs_pickle(self) -> bool:
        """True when some weights exist only as pickles."""
        return bool(self.pickles)

    @property
    def native_size(self) -> int:
        """The picture size the family was trained at."""
        return NATIVE_SIZE[self.family]

    @property
    def label(self) -> str:
        """E.g. "SDXL (inpainting), diffusers folder"."""
        what = (
            FAMILIES[self.family] + (" inpainting" if self.inpainting else "") + (" few-step" if self.few_step else "")
        )
        return f"{what}, {'diffusers folder' if self.layout == 'folder' else 'single file'}"

    def default_settings(self) -> dict[str, Any]:
        """Steps, guidance, scheduler and size a user of this kind of model starts from."""
        if self.few_step:
            lcm = "lcm" in self.name.lower() or self.pipeline == "LatentConsistencyModelPipeline"
            return {"steps": 4, "cfg": 1.0, "scheduler": "lcm" if lcm else "euler_a", "size": self.native_size}
        return {"steps": 25, "cfg": 7.0, "scheduler": "dpmpp_2m", "size": self.native_size}


def looks_like_diffusion(path: str | Path) -> bool:
    """True for a folder with model_index.json, a checkpoint suffix, or a .safetensors holding an SD UNet."""
    path = Path(path)
    if path.is_dir():
        return (path / "model_index.json").is_file() or (path / "unet").is_dir()
    if path.suffix in (".ckpt",):
        return True
    if path.suffix == ".safetensors" and path.is_file():
        try:
            return any(k.startswith("model.diffusion_model.") for k in read_header(path))
        except ModelFileError:
            return False
    return False


def inspect_source(path: str | Path, family: str | None = None, allow_pickle: bool = False) -> DiffusionSource:
    """Check a folder or file without loading weights; ModelFileError/InputError with one line naming it."""
    path = Path(path).expanduser()
    if not path.exists():
        raise InputError(f"Model not found: {path}")
    source = _inspect_folder(path) if path.is_dir() else _inspect_file(path)
    if family and family != "auto" and family != source.family:
        raise ModelFileError(
            f"{path.name} is {with_article(FAMILIES[source.family])} model, not {FAMILIES.get(family, family)} "
            f"(its tensor names say so); open it as {source.family} or leave the family on auto."
        )
    if source.needs_pickle and not allow_pickle:
        files = ", ".join(source.pickles[:3])
        raise ModelFileError(f"{path.name} was not opened: " + PICKLE_WARNING.format(files=files))
    return source


def with_article(text: str) -> str:
    """'an SDXL' / 'a Stable Diffusion 1.x'."""
    return ("an " if text.startswith("SDXL") else "a ") + text


def _inspect_file(path: Path) -> DiffusionSource:
    if path.suffix.lower() in PICKLE_SUFFIXES:
        if path.suffix.lower() != ".ckpt":
            raise ModelFileError(f"{path.name} is not a Stable Diffusion checkpoint (.safetensors or .ckpt).")
        # The family of a pickle cannot be read without unpickling it: once allowed, loading reads it from the tensors.
        return DiffusionSource(path, "file", "sd1", False, "StableDiffusionPipeline", pickles=[path.name])
    if path.suffix.lower() != ".safetensors":
        raise ModelFileError(
            f"{path.name} is not a Stable Diffusion checkpoint (expected a .safetensors file or a folder)."
        )
    info = detect_family(path, read_header(path))
    few = any(w in path.name.lower() for w in ("turbo", "lcm", "lightning", "hyper"))
    return DiffusionSource(path, "file", info.family, info.inpainting, pipeline_class_name(info), few_step=few)


def _inspect_folder(path: Path) -> DiffusionSource:
    index_file = path / "model_index.json"
    if not index_file.is_file():
        raise ModelFileError(
            f"{path.name} has no model_index.json; a diffusers model folder has one beside unet/, vae/ and text_encoder/."
        )
    try:
        index = parse_untrusted_json(index_file.read_bytes())
    except (OSError, UnsafeJson) as exc:
        raise ModelFileError(f"{path.name}/model_index.json cannot be read ({exc}).") from None
    if not isinstance(index, dict):
        raise ModelFileError(f"{path.name}/model_index.json is not a JSON object.")
    cls = index.get("_class_name")
    custom = [f"{name} = {spec[0]}.{spec[1]}" for name, spec in index.items() if _is_custom_component(spec)]
    if cls not in STANDARD_PIPELINES or custom or "custom_pipeline" in index:
        what = ", ".join(custom[:2]) if custom else f"pipeline class {cls!r}"
        raise ModelFileError(
            f"{path.name} names custom pipeline code ({what}); AIGC Studio never runs code that comes with a model. "
            "Use a standard Stable Diffusion or SDXL folder."
        )
    kind, inpainting = STANDARD_PIPELINES[cls]
    pickles: list[str] = []
    variant = None
    for component in WEIGHTED:
        if component not in index or index[component] == [None, None]:
            continue
        folder = path / component
        safe = sorted(folder.glob("*.safetensors")) if folder.is_dir() else []
        pick = sorted(p for p in folder.iterdir() if p.suffix in PICKLE_SUFFIXES) if folder.is_dir() else []
        if not safe and not pick:
            raise ModelFileError(f"{path.name} is missing weights: {component}/ has no .safetensors file.")
        if not safe:
            pickles += [f"{component}/{p.name}" for p in pick]
        elif not any(".fp16." not in p.name for p in safe):
            variant = "fp16"  # only the half-precision copy was downloaded
    unet_config = _read_json(path / "unet" / "config.json")
    in_channels = unet_config.get("in_channels", 4)
    family = "sdxl" if kind == "sdxl" else _sd_family(unet_config)
    scheduler = _read_json(path / "scheduler" / "scheduler_config.json").get("_class_name", "")
    few = (
        cls == "LatentConsistencyModelPipeline"
        or scheduler == "LCMScheduler"
        or unet_config.get("time_cond_proj_dim") is not None
        or any(w in path.name.lower() for w in ("turbo", "lcm", "lightning", "hyper"))
    )
    return DiffusionSource(path, "folder", family, inpainting or in_channels == 9, cls, pickles, variant, few)


def _is_custom_component(spec: Any) -> bool:
    """A component whose library is not diffusers or transformers (a .py file or another package)."""
    if not isinstance(spec, list) or len(spec) != 2 or spec == [None, None]:
        return False
    return spec[0] not in ("diffusers", "transformers", None)


def _sd_family(unet_config: dict[str, Any]) -> str:
    return "sd2" if unet_config.get("cross_attention_dim") == 1024 else "sd1"


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = parse_untrusted_json(path.read_bytes())
    except (OSError, UnsafeJson):
        return {}
    return data if isinstance(data, dict) else {}


def weight_files(source: DiffusionSource) -> list[Path]:
    """The files whose bytes define the model (for its hash)."""
    if source.layout == "file":
        return [source.path]
    files = [source.path / "model_index.json"]
    for component in WEIGHTED:
        folder = source.path / component
        if folder.is_dir():
            files += sorted(p for p in folder.iterdir() if p.suffix in (".safetensors", *PICKLE_SUFFIXES))
    return files


def model_hash(source: DiffusionSource, check: Any = None) -> str:
    """sha256 of a single file (its first 10 digits are A1111's "Model hash"); of all weight files for a folder.

    Reading gigabytes takes seconds, so the result is remembered per (path, size, mtime).
    """
    from aigc_studio.core.atomic import atomic_write_text
    from aigc_studio.core.paths import user_data_dir

    files = weight_files(source)
    key = json.dumps([[str(p.resolve()), p.stat().st_size, p.stat().st_mtime_ns] for p in files])
    memo_file = user_data_dir() / "diffusion-hashes.json"
    memo = _read_json(memo_file)
    if key in memo:
        return memo[key]
    outer = hashlib.sha256()
    for p in files:
        h = hashlib.sha256()
        with p.open("rb") as f:
            while chunk := f.read(16 << 20):
                h.update(chunk)
                if check is not None:
                    check()
        if source.layout == "file":
            outer = h
        else:
            outer.update(f"{p.relative_to(source.path).as_posix()}:{h.hexdigest()}\n".encode())
    digest = outer.hexdigest()
    memo = {k: v for k, v in list(memo.items())[-200:]}
    memo[key] = digest
    atomic_write_text(memo_file, json.dumps(memo))
    return digest
