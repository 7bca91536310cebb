"""Drawing with a diffusion model: text-to-image, img2img and inpainting as one engine job.

Importing this module does not import torch or diffusers (the GUI builds the job).
Each picture reports every step (with a cheap preview of the latents now and then),
Cancel lands at the next step or sooner, and out of memory steps down instead of crashing.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aigc_studio.core.events import GeneratedImages
from aigc_studio.errors import InputError, StudioError
from aigc_studio.image.diffusion.metadata import KIND
from aigc_studio.image.diffusion.schedulers import check_scheduler

RECIPE_VERSION = 1
MODES = ("txt2img", "img2img", "inpaint")
PREVIEW_EVERY_S = 0.25  # previews cost a device sync and a copy: a few per second are plenty
# Linear maps from the 4 latent channels to RGB (the approximation ComfyUI and A1111 use for live previews).
LATENT_RGB = {
    "sdxl": (
        [[0.3651, 0.4232, 0.4341], [-0.2533, -0.0042, 0.1068], [0.1076, 0.1111, -0.0362], [-0.3165, -0.2492, -0.2188]],
        [0.1084, -0.0175, -0.0011],
    ),
    "sd": (
        [[0.3512, 0.2297, 0.3227], [0.3250, 0.4974, 0.2350], [-0.2829, 0.1762, 0.2721], [-0.2120, -0.2616, -0.7177]],
        [0.0, 0.0, 0.0],
    ),
}


@dataclass
class DiffusionSettings:
    """Everything a diffusion picture is made from (besides the model)."""

    prompt: str
    negative_prompt: str = ""
    steps: int = 25
    cfg: float = 7.0
    width: int | None = None  # None: the model's native size
    height: int | None = None
    seed: int = 0
    count: int = 1
    scheduler: str = "dpmpp_2m"
    mode: str = "txt2img"
    init_image: Any = None  # uint8 HxWx3 array or a picture file (img2img, inpaint)
    mask: Any = None  # uint8 HxW array or a picture file: white is repainted (inpaint)
    strength: float = 0.75
    variation_seed: int | None = None
    variation_strength: float = 0.0
    source_name: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def check(self) -> None:
        """InputError for settings no model could use."""
        if self.mode not in MODES:
            raise InputError(f"Unknown mode {self.mode!r}; choose one of {', '.join(MODES)}.")
        if not 1 <= self.steps <= 500:
            raise InputError("Steps must be between 1 and 500.")
        if not 0.0 <= self.cfg <= 30.0:
            raise InputError("Guidance (CFG) must be between 0 and 30.")
        if not 1 <= self.count <= 64:
            raise InputError("Count must be between 1 and 64.")
        for name, value in (("Width", self.width), ("Height", self.height)):
            if value is not None and (value < 8 or value > 4096 or value % 8):
                raise InputError(f"{name} must be a multiple of 8 between 8 and 4096 (got {value}).")
        check_scheduler(self.scheduler)
        if self.mode != "txt2img":
            if self.init_image is None:
                raise InputError(f"{'Inpainting' if self.mode == 'inpaint' else 'img2img'} needs a starting picture.")
            if not 0.0 < self.strength <= 1.0:
                raise InputError("Strength must be above 0 and at most 1.")
        if self.mode == "inpaint" and self.mask is None:
            raise InputError("Inpainting needs a mask: paint over the part to redraw.")
        if not 0.0 <= self.variation_strength <= 1.0:
            raise InputError("Variation strength must be between 0 and 1.")


def _loader_for(family: str | None, allow_pickle: bool):
    def load(path: Path, device: Any) -> Any:
        from aigc_studio.image.diffusion.loading import load_diffusion_model

        return load_diffusion_model(path, device, family, allow_pickle)

    # The model cache keys loaders by qualified name: one per (family, permission) pair.
    load.__qualname__ = f"diffusion:{family or 'auto'}:{allow_pickle}"
    return load


def load_for(ctx: Any, model: str, family: str | None = None, allow_pickle: bool = False) -> Any:
    """Load (or reuse from the engine's cache) the diffusion model at ``model``."""
    from aigc_studio.image.diffusion.source import inspect_source

    source = inspect_source(model, family, allow_pickle)  # refusals before the slow part, naming the file
    return ctx.models.get(source.path, ctx.device, _loader_for(family, allow_pickle))


class DiffusionJob:
    """``count`` pictures from a prompt (and a picture and mask for img2img and inpainting)."""

    def __init__(
        self, model: str | Path, settings: DiffusionSettings, family: str | None = None, allow_pickle: bool = False
    ):
        settings.check()
        self.model, self.settings, self.family, self.allow_pickle = str(model), settings, family, allow_pickle
        what = {"txt2img": "Text to image", "img2img": "Image to image", "inpaint": "Inpaint"}[settings.mode]
        self.title = f"{what}: {settings.count} picture(s), {settings.steps} steps"

    def run(self, ctx: Any) -> dict:
        """Load the model (cached), then draw each picture with its own seed."""
        s = self.settings
        ctx.progress(None, "Loading the diffusion model…")
        m = load_for(ctx, self.model, self.family, self.allow_pickle)
        width, height = s.width or m.native_size, s.height or m.native_size
        if width % m.vae_scale or height % m.vae_scale:
            raise InputError(f"Width and height must be multiples of {m.vae_scale} for {m.name}.")
        init = _picture(s.init_image, width, height, "RGB") if s.mode != "txt2img" else None
        mask = _picture(s.mask, width, height, "L") if s.mode == "inpaint" else None
        items = []
        for i in range(s.count):
            seed, variation_seed = (
                (s.seed, s.variation_seed + i) if s.variation_seed is not None else (s.seed + i, None)
            )
            while True:
                try:
                    image, op = self._draw(ctx, m, i, seed, variation_seed, width, height, init, mask)
                    break
                except Exception as exc:
                    from aigc_studio.core.oom import is_out_of_memory

                    if not is_out_of_memory(exc):
                        raise
                    step_down_memory(ctx, m)
            items.append({"image": image, "recipe": self._recipe(m, op, i, seed, variation_seed, width, height)})
        ctx.progress(1.0, f"Drew {s.count} picture(s)")
        return GeneratedImages(
            items=items, seed=s.seed, model=m.name, details={"model_hash": m.content_hash, "kind": KIND}
        )

    def _draw(self, ctx, m, i, seed, variation_seed, width, height, init, mask) -> tuple[Any, str]:
        import numpy as np
        import torch

        from aigc_studio.image.diffusion.schedulers import make_scheduler

        s = self.settings
        op = "variation" if variation_seed is not None else s.mode
        pipe = m.pipeline(s.mode)
        pipe.scheduler = make_scheduler(s.scheduler, m.default_scheduler_config)
        if m.memory_level >= 2 and m.device.type != "cpu" and _offload_hook_missing(pipe):
            pipe.enable_model_cpu_offload(device=m.device)
        generator = torch.Generator("cpu").manual_seed(seed)  # noise drawn on the CPU: same picture on any device
        args: dict[str, Any] = {
            "prompt": s.prompt,
            "negative_prompt": s.negative_prompt or None,
            "num_inference_steps": s.steps,
            "guidance_scale": s.cfg,
            "generator": generator,
            "output_type": "np",
        }
        steps = s.steps
        if s.mode == "txt2img" and not m.inpainting:
            args.update(width=width, height=height)
            if variation_seed is not None:
                args["latents"] = variation_latents(m, seed, variation_seed, s.variation_strength, width, height)
        else:
            from PIL import Image

            strength = s.strength if s.mode != "txt2img" else 1.0
            args.update(image=init or Image.new("RGB", (width, height), (127, 127, 127)), strength=strength)
            if s.mode == "inpaint" or m.inpainting:  # the img2img pipeline takes its size from the picture
                args.update(width=width, height=height)
                args["mask_image"] = mask or Image.new("L", (width, height), 255)
            steps = max(1, min(s.steps, int(s.steps * strength)))
        total = s.count * steps
        last_preview = [0.0]

        def on_step(_pipe, step, _timestep, kwargs):
            now = time.monotonic()
            preview = None
            if now - last_preview[0] >= PREVIEW_EVERY_S:
                last_preview[0] = now
                preview = latent_preview(kwargs["latents"], m.family)
            ctx.progress(
                (i * steps + min(step + 1, steps)) / total,
                f"Picture {i + 1}/{s.count}: step {step + 1}/{steps}",
                preview,
            )
            return kwargs

        args["callback_on_step_end"] = on_step
        ctx.progress(i * steps / total, f"Picture {i + 1}/{s.count}: encoding the prompt…")
        with cancel_inside_unet(m.base.unet, ctx.check_cancelled):
            out = pipe(**args)
        image = np.clip(np.asarray(out.images[0]) * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return image, op

    def _recipe(self, m, op, i, seed, variation_seed, width, height) -> dict[str, Any]:
        import diffusers
        import torch

        from aigc_studio import __version__

        s = self.settings
        recipe: dict[str, Any] = {
            "version": RECIPE_VERSION,
            "op": op,
            "model": m.name,
            "model_hash": m.content_hash,
            "model_kind": KIND,
            "family": m.family,
            "prompt": s.prompt,
            "negative_prompt": s.negative_prompt,
            "steps": s.steps,
            "cfg": s.cfg,
            "width": width,
            "height": height,
            "scheduler": s.scheduler,
            "seed": seed,
            "index": i,
            "batch_seed": s.seed,
            "device": m.device.type,
            "dtype": str(m.dtype).replace("torch.", ""),
            "torch": torch.__version__,
            "diffusers": diffusers.__version__,
            "app_version": __version__,
        }
        if s.mode != "txt2img":
            recipe.update(mode=s.mode, strength=s.strength, source=s.source_name)
        if variation_seed is not None:
            recipe.update(variation_seed=variation_seed, variation_strength=s.variation_strength)
        return recipe


def _picture(value: Any, width: int, height: int, mode: str) -> Any:
    """A PIL picture of the requested size from an array or a file (read safely)."""
    import numpy as np
    from PIL import Image

    if isinstance(value, (str, Path)):
        from aigc_studio.image.picture_io import read_picture

        with read_picture(value) as im:
            pil = im.convert(mode)
    else:
        pil = Image.fromarray(np.asarray(value, dtype=np.uint8)).convert(mode)
    if pil.size != (width, height):
        pil = pil.resize((width, height), Image.Resampling.LANCZOS)
    return pil


def variation_latents(m: Any, seed: int, variation_seed: int, strength: float, width: int, height: int) -> Any:
    """A1111's variation seed: the seed's noise slerped towards another seed's noise by ``strength``."""
    import torch

    shape = (1, m.base.vae.config.latent_channels, height // m.vae_scale, width // m.vae_scale)
    a = torch.randn(shape, generator=torch.Generator("cpu").manual_seed(seed))
    b = torch.randn(shape, generator=torch.Generator("cpu").manual_seed(variation_seed))
    mixed = _slerp(a.reshape(-1), b.reshape(-1), strength).reshape(shape) if strength > 0 else a
    return mixed.to(m.device, m.dtype)


def _slerp(a: Any, b: Any, t: float) -> Any:
    import torch

    cos = torch.clamp(torch.dot(a / a.norm(), b / b.norm()), -1.0, 1.0)
    omega = torch.arccos(cos)
    if omega.abs() < 1e-4:
        return (1 - t) * a + t * b
    return (torch.sin((1 - t) * omega) * a + torch.sin(t * omega) * b) / torch.sin(omega)


def latent_preview(latents: Any, family: str) -> Any:
    """A small RGB picture (uint8 HxWx3) of the first latent, by a fixed linear map: no VAE decode."""
    import torch

    weights, bias = LATENT_RGB["sdxl" if family == "sdxl" else "sd"]
    x = latents[0, :4].float().permute(1, 2, 0)
    rgb = x @ torch.tensor(weights, device=x.device) + torch.tensor(bias, device=x.device)
    return ((rgb.clamp(-1, 1) + 1) * 127.5).to(torch.uint8).cpu().numpy()


@contextlib.contextmanager
def cancel_inside_unet(unet: Any, check: Any):
    """Check for Cancel before each of the UNet's big blocks, so a slow step stops partway (a few hooks: no overhead)."""
    blocks = [*unet.down_blocks, unet.mid_block, *unet.up_blocks]
    hooks = [b.register_forward_pre_hook(lambda _m, _i: check()) for b in blocks if b is not None]
    try:
        yield
    finally:
        for hook in hooks:
            hook.remove()


def _offload_hook_missing(pipe: Any) -> bool:
    return getattr(pipe, "_offload_gpu_id", None) is None


def step_down_memory(ctx: Any, m: Any) -> None:
    """After an out-of-memory error: slicing + VAE tiling, then CPU offload, then a clear error; one log line each."""
    import torch

    from aigc_studio.core.oom import free_device_memory

    free_device_memory(m.device)
    where = m.device.type.upper()
    if m.memory_level == 0:
        for pipe in m.pipelines():
            pipe.enable_attention_slicing()
        m.base.vae.enable_tiling()
        m.memory_level = 1
        ctx.log(f"Out of memory on {where}: attention slicing and VAE tiling turned on (slower, much less memory).")
        return
    if m.memory_level == 1 and m.device.type != "cpu":
        m.memory_level = 2
        try:
            import accelerate  # noqa: F401 - needed by diffusers' CPU offload
        except ImportError:
            for pipe in m.pipelines():
                pipe.to("cpu", torch.float32)
            m.device, m.dtype = torch.device("cpu"), torch.float32
            ctx.log(f"Out of memory on {where} even with slicing: drawing on the CPU instead (much slower).")
            return
        ctx.log(f"Out of memory on {where} even with slicing: offloading model parts to the CPU between uses (slower).")
        return
    raise StudioError(
        f"Out of memory drawing with {m.name} even with attention slicing"
        + (" and CPU offload" if m.device.type != "cpu" else "")
        + ". Choose a smaller size, or close other programs."
    )
