"""Load a checked diffusion model with diffusers, offline: ``local_files_only``, no Hub calls, never remote code.

One :class:`DiffusionModel` holds the loaded components once and builds the text-to-image,
img2img and inpainting pipelines around them on demand (they share the weights).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from aigc_studio.errors import ModelFileError, StudioError
from aigc_studio.image.diffusion.source import INSTALL_HINT, KIND, DiffusionSource, inspect_source, model_hash


def import_diffusers() -> Any:
    """diffusers with the Hub switched off, or a StudioError naming the extra to install."""
    os.environ["HF_HUB_OFFLINE"] = "1"  # set before the import: huggingface_hub reads it once
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("DIFFUSERS_VERBOSITY", "error")
    try:
        import diffusers
    except ImportError as exc:
        raise StudioError(INSTALL_HINT) from exc
    diffusers.utils.logging.disable_progress_bar()
    diffusers.utils.logging.set_verbosity_error()
    return diffusers


def dtype_for(device: Any) -> Any:
    """fp16 on CUDA and MPS, fp32 on the CPU (half precision there is slow and lossy)."""
    import torch

    return torch.float16 if getattr(device, "type", str(device)) in ("cuda", "mps") else torch.float32


def config_folder_for(info: Any) -> Path:
    """The generated config folder of a single file's layout (written once, then reused by files of the same shapes)."""
    import hashlib
    import json

    from aigc_studio.core.paths import user_data_dir
    from aigc_studio.image.diffusion.single_file import write_config_folder

    # The shapes decide every config value, so files with the same layout share one folder.
    key = hashlib.sha256(json.dumps([info.family, sorted(info.shapes.items())]).encode()).hexdigest()[:16]
    folder = user_data_dir() / "diffusion-configs" / f"{info.family}-{key}"
    if not (folder / "model_index.json").is_file():
        write_config_folder(info, folder)
    return folder


def _single_file_info(source: DiffusionSource) -> Any:
    """Family and shapes of a single file: from the header, or (an allowed .ckpt) from its unpickled tensors."""
    from aigc_studio.image.diffusion.single_file import detect_family, pipeline_class_name, read_header

    if not source.needs_pickle:
        return detect_family(source.path, read_header(source.path))
    from diffusers.loaders.single_file_utils import load_single_file_checkpoint

    # The user allowed this pickle; diffusers unpickles with torch.load(weights_only=True).
    checkpoint = load_single_file_checkpoint(str(source.path), local_files_only=True)
    shapes = {k: tuple(v.shape) for k, v in checkpoint.items() if hasattr(v, "shape")}
    info = detect_family(source.path, shapes)
    source.family, source.inpainting, source.pipeline = info.family, info.inpainting, pipeline_class_name(info)
    return info


class DiffusionModel:
    """A loaded Stable Diffusion model: its components on a device, and pipelines for each way of drawing."""

    kind = KIND

    def __init__(self, pipe: Any, source: DiffusionSource, device: Any, content_hash: str) -> None:
        import torch

        self.source = source
        self.path = source.path
        self.name = source.name
        self.family = source.family
        self.inpainting = source.inpainting
        self.device = torch.device(device)
        self.dtype = dtype_for(self.device)
        self.content_hash = content_hash
        self.memory_level = 0  # 0 normal, 1 attention slicing + VAE tiling, 2 offloaded to the CPU
        self.base = pipe
        self._pipes: dict[str, Any] = {}
        self.default_scheduler_config = dict(pipe.scheduler.config)

    @property
    def vae_scale(self) -> int:
        """Pixels per latent cell (8 for every real SD model)."""
        return 2 ** (len(self.base.vae.config.block_out_channels) - 1)

    @property
    def native_size(self) -> int:
        """The default picture size: the UNet's sample size in pixels."""
        return int(self.base.unet.config.sample_size) * self.vae_scale

    def pipeline(self, mode: str) -> Any:
        """The pipeline for ``txt2img``, ``img2img`` or ``inpaint`` (sharing the loaded components)."""
        if mode not in self._pipes:
            d = import_diffusers()
            xl = self.family == "sdxl"
            if mode == "inpaint" or (self.inpainting and mode != "txt2img"):
                cls = d.StableDiffusionXLInpaintPipeline if xl else d.StableDiffusionInpaintPipeline
            elif mode == "img2img":
                cls = d.StableDiffusionXLImg2ImgPipeline if xl else d.StableDiffusionImg2ImgPipeline
            elif self.inpainting:  # text-to-image with an inpainting UNet: inpaint a blank picture, all masked
                cls = d.StableDiffusionXLInpaintPipeline if xl else d.StableDiffusionInpaintPipeline
            else:
                cls = d.StableDiffusionXLPipeline if xl else d.StableDiffusionPipeline
            if isinstance(self.base, cls):
                self._pipes[mode] = self.base
            else:
                components = {k: v for k, v in self.base.components.items() if k in _init_names(cls)}
                self._pipes[mode] = cls(**components)
            self._pipes[mode].set_progress_bar_config(disable=True)
        return self._pipes[mode]

    def pipelines(self) -> list[Any]:
        """Every pipeline built so far (a memory step-down applies to all of them)."""
        return list({id(p): p for p in [self.base, *self._pipes.values()]}.values())


def _init_names(cls: Any) -> set[str]:
    import inspect

    return set(inspect.signature(cls.__init__).parameters) - {"self"}


def load_diffusion_model(
    path: str | Path, device: Any = "cpu", family: str | None = None, allow_pickle: bool = False, check: Any = None
) -> DiffusionModel:
    """Check, then load a diffusers folder or single file on ``device``; every failure is a one-line StudioError."""
    import torch

    source = inspect_source(path, family, allow_pickle)
    d = import_diffusers()
    device = torch.device(device)
    dtype = dtype_for(device)
    cls = getattr(d, source.pipeline)
    extra: dict[str, Any] = (
        {"safety_checker": None, "requires_safety_checker": False} if source.family != "sdxl" else {}
    )
    if source.pipeline == "LatentConsistencyModelPipeline":
        extra = {"safety_checker": None, "requires_safety_checker": False}
    try:
        if source.layout == "folder":
            pipe = cls.from_pretrained(
                str(source.path),
                local_files_only=True,
                use_safetensors=not source.needs_pickle,
                variant=source.variant,
                dtype=dtype,
                **extra,
            )
        else:
            info = _single_file_info(source)
            cls = getattr(d, source.pipeline)  # an allowed .ckpt only now knows its family
            extra = {} if source.family == "sdxl" else {"safety_checker": None, "requires_safety_checker": False}
            pipe = cls.from_single_file(
                str(source.path),
                config=str(config_folder_for(info)),
                local_files_only=True,
                dtype=dtype,
                **extra,
            )
    except StudioError:
        raise
    except (OSError, ValueError, KeyError, RuntimeError, TypeError, AttributeError, ImportError, EOFError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelFileError(f"{source.path.name} could not be loaded as {source.label} ({first[:300]}).") from None
    if hasattr(pipe, "safety_checker"):
        pipe.safety_checker = None
    pipe.set_progress_bar_config(disable=True)
    pipe = pipe.to(device)
    digest = model_hash(source, check)
    return DiffusionModel(pipe, source, device, digest)
