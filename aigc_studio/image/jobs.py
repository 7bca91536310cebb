"""Jobs of the image studio. Importing this module does not import torch (the GUI imports it).

Every job returns plain Python: ``items`` lists of ``{"image": uint8 HxWx3 array, "recipe": dict}``.
A recipe holds everything needed to redraw the picture: model hash, latent, psi, seed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aigc_studio.core.events import GeneratedImages
from aigc_studio.core.seeds import random_seed  # noqa: F401 - the image studio's "random" seed, re-exported
from aigc_studio.errors import InputError

RECIPE_VERSION = 1


def train_job(settings: Any) -> Any:
    """The training job for ``settings.kind`` (image-gan or image-vae)."""
    if settings.kind == "image-gan":
        from aigc_studio.image.train_gan import TrainGANJob

        return TrainGANJob(settings)
    if settings.kind == "image-vae":
        from aigc_studio.image.train_vae import TrainVAEJob

        return TrainVAEJob(settings)
    raise InputError(f"Unknown image model kind {settings.kind!r}; choose image-gan or image-vae.")


class TrainImageJob:
    """Torch-free wrapper the GUI can build: imports the training loop on the engine thread."""

    trains = True  # builds optimisers: warm_up_training() first (see core/jobs.py)

    def __init__(self, settings: Any) -> None:
        settings.check()
        self.settings = settings
        what = "GAN" if settings.kind == "image-gan" else "VAE"
        self.title = f"Train image {what} ({settings.resolution} px)"

    def run(self, ctx: Any) -> Any:
        """Build the real job and run it."""
        return train_job(self.settings).run(ctx)


def _loader(path: Path, device: Any) -> Any:
    from aigc_studio.image.model import load_image_model

    return load_image_model(path, device)


def load_model_for(ctx: Any, model: str) -> Any:
    """Resolve a name or file and load it through the engine's model cache."""
    from aigc_studio.core.registry import resolve_model

    path = resolve_model(model, ("image-gan", "image-vae"))
    return ctx.models.get(path, ctx.device, _loader)


def make_recipe(m: Any, ctx: Any, latent: Any, psi: float, op: str, seed: int | None, index: int, **extra: Any) -> dict:
    """The versioned recipe stored in exported PNGs."""
    import torch

    recipe = {
        "version": RECIPE_VERSION,
        "op": op,
        "model": m.name,
        "model_hash": m.card.content_hash,
        "model_kind": m.kind,
        "seed": seed,
        "index": index,
        "psi": float(psi),
        "latent": [float(v) for v in latent.reshape(-1).tolist()],
        "resolution": m.resolution,
        "torch": torch.__version__,
        "device": m.device.type,
    }
    recipe.update(extra)
    return recipe


def _render(ctx: Any, m: Any, latents: Any, psi: float, op: str, seeds: list, **extra: Any) -> GeneratedImages:
    """Decode latents in small chunks (progress + cancel between them) and build items.

    Cancel is also checked between the network's layers: one chunk of a big model can
    take seconds. Out of memory halves the chunk, then moves the model to the CPU.
    """
    from aigc_studio.core.jobs import cancel_between_layers
    from aigc_studio.core.oom import is_out_of_memory
    from aigc_studio.image.model import DECODE_CHUNK

    items = []
    total = latents.shape[0]
    chunk = DECODE_CHUNK
    start = 0
    while start < total:
        ctx.progress(start / max(1, total), f"Drawing {start}/{total}")
        try:
            with cancel_between_layers(m.net, ctx.check_cancelled):
                images = m.decode(latents[start : start + chunk], psi, chunk_size=chunk)
        except Exception as exc:
            if not is_out_of_memory(exc):
                raise
            m, chunk = _smaller_after_oom(ctx, m, chunk)
            continue
        for j, image in enumerate(images):
            i = start + j
            recipe = make_recipe(m, ctx, latents[i], psi, op, seeds[i], i, **extra)
            items.append({"image": image, "recipe": recipe})
        start += len(images)
    ctx.progress(1.0, f"Drew {total} image(s)")
    batch_seed = seeds[0] if seeds and seeds[0] is not None and all(s is not None for s in seeds) else None
    return GeneratedImages(
        items, seed=batch_seed, model=m.name, details={"model_hash": m.card.content_hash, "kind": m.kind}
    )


def _smaller_after_oom(ctx: Any, m: Any, chunk: int) -> tuple[Any, int]:
    """Half the pictures at a time; below one, the same model on the CPU; on the CPU, a clear error."""
    import torch

    from aigc_studio.core.oom import free_device_memory
    from aigc_studio.errors import StudioError
    from aigc_studio.image.model import DECODE_CHUNK

    free_device_memory(m.device)
    if chunk > 1:
        ctx.log(f"Out of memory drawing {chunk} pictures at once: continuing {chunk // 2} at a time.")
        return m, chunk // 2
    if m.device.type == "cpu":
        raise StudioError(
            f"Out of memory drawing even one picture with {m.name} on the CPU. "
            "Close other programs or choose a smaller model."
        )
    ctx.log(f"Out of memory on {m.device.type.upper()} even for one picture: drawing the rest on the CPU (slower).")
    return ctx.models.get(m.path, torch.device("cpu"), _loader), DECODE_CHUNK


class GenerateImagesJob:
    """``count`` images from seeds ``seed .. seed + count - 1``."""

    def __init__(self, model: str, count: int = 16, seed: int = 0, psi: float = 1.0) -> None:
        if count < 1 or count > 1024:
            raise InputError("Count must be between 1 and 1024.")
        self.model, self.count, self.seed, self.psi = str(model), count, int(seed), float(psi)
        self.title = f"Generate {count} image(s)"

    def run(self, ctx: Any) -> dict:
        """Load the model (cached) and draw."""
        from aigc_studio.image.sampling import seed_latents

        ctx.progress(None, "Loading the model…")
        m = load_model_for(ctx, self.model)
        latents = seed_latents(self.seed, self.count, m.latent_dim)
        seeds = [self.seed + i for i in range(self.count)]
        result = _render(ctx, m, latents, self.psi, "generate", seeds)
        for _i, item in enumerate(result["items"]):
            item["recipe"]["batch_seed"] = self.seed  # image i of the batch has seed batch_seed + i
        return result


class RenderLatentsJob:
    """Decode given latents (restoring a recipe, or a canvas action computed elsewhere)."""

    def __init__(
        self, model: str, latents: list[list[float]], psi: float = 1.0, op: str = "restore", seeds=None
    ) -> None:
        self.model, self.latents, self.psi, self.op = str(model), latents, float(psi), op
        self.seeds = seeds or [None] * len(latents)
        self.title = f"Draw {len(latents)} image(s)"

    def run(self, ctx: Any) -> dict:
        """Check the latent size against the model, then draw."""
        import torch

        m = load_model_for(ctx, self.model)
        latents = torch.tensor(self.latents, dtype=torch.float32).reshape(len(self.latents), -1)
        if latents.shape[1] != m.latent_dim:
            raise InputError(
                f"The recipe's latent has {latents.shape[1]} values but {m.name} expects {m.latent_dim}; "
                "it was made with a different model."
            )
        return _render(ctx, m, latents, self.psi, self.op, list(self.seeds))


class VariationsJob:
    """``count`` neighbours of one latent; ``strength`` 0 = copies, 1 = unrelated."""

    def __init__(
        self, model: str, latent: list[float], strength: float = 0.3, count: int = 8, seed: int = 0, psi: float = 1.0
    ):
        self.model, self.latent, self.strength, self.count = str(model), latent, float(strength), count
        self.seed, self.psi = int(seed), float(psi)
        self.title = f"{count} variation(s)"

    def run(self, ctx: Any) -> dict:
        """Perturb the latent on a seeded CPU generator and draw."""
        import torch

        from aigc_studio.image.sampling import variations

        m = load_model_for(ctx, self.model)
        base = _check_latent(torch.tensor(self.latent, dtype=torch.float32), m)
        latents = variations(base, self.strength, self.count, self.seed)
        return _render(ctx, m, latents, self.psi, "variation", [self.seed] * self.count, strength=self.strength)


class InterpolateJob:
    """``frames`` pictures from latent ``a`` to ``b`` (``lerp`` or ``slerp``)."""

    def __init__(
        self, model: str, a: list[float], b: list[float], frames: int = 8, mode: str = "slerp", psi: float = 1.0
    ):
        if frames < 2 or frames > 512:
            raise InputError("Frames must be between 2 and 512.")
        if mode not in ("lerp", "slerp"):
            raise InputError("Interpolation mode must be lerp or slerp.")
        self.model, self.a, self.b, self.frames, self.mode, self.psi = str(model), a, b, frames, mode, float(psi)
        self.title = f"Interpolate {frames} frames"

    def run(self, ctx: Any) -> dict:
        """Interpolate the latents and draw the strip."""
        import torch

        from aigc_studio.image.sampling import interpolate

        m = load_model_for(ctx, self.model)
        a = _check_latent(torch.tensor(self.a, dtype=torch.float32), m)
        b = _check_latent(torch.tensor(self.b, dtype=torch.float32), m)
        latents = interpolate(a, b, self.frames, self.mode)
        return _render(ctx, m, latents, self.psi, "interpolate", [None] * self.frames, mode=self.mode)


class MixJob:
    """``count`` children of two latents by crossover (each dimension from one parent)."""

    def __init__(
        self,
        model: str,
        a: list[float],
        b: list[float],
        count: int = 8,
        seed: int = 0,
        mix: float = 0.5,
        psi: float = 1.0,
    ):
        self.model, self.a, self.b, self.count, self.seed = str(model), a, b, count, int(seed)
        self.mix, self.psi = float(mix), float(psi)
        self.title = f"Mix two images ({count} children)"

    def run(self, ctx: Any) -> dict:
        """Cross the latents over and draw."""
        import torch

        from aigc_studio.image.sampling import crossover

        m = load_model_for(ctx, self.model)
        a = _check_latent(torch.tensor(self.a, dtype=torch.float32), m)
        b = _check_latent(torch.tensor(self.b, dtype=torch.float32), m)
        latents = crossover(a, b, self.count, self.seed, self.mix)
        return _render(ctx, m, latents, self.psi, "mix", [self.seed] * self.count, mix=self.mix)


class EncodeImageJob:
    """Encode an image file with a VAE and draw its reconstruction."""

    def __init__(self, model: str, image_path: str, fit: str = "pad") -> None:
        self.model, self.image_path, self.fit = str(model), str(image_path), fit
        self.title = f"Encode {Path(image_path).name}"

    def run(self, ctx: Any) -> dict:
        """Read, fit and encode the picture; the result item holds its latent."""
        from aigc_studio.image.dataset import fit_square, to_rgb
        from aigc_studio.image.picture_io import read_picture

        m = load_model_for(ctx, self.model)
        if m.kind != "image-vae":
            raise InputError("Encoding an image needs a VAE model; pick an image-vae model first.")
        path = Path(self.image_path)
        with read_picture(path) as im:  # refuses empty, damaged and oversized pictures, naming the file
            rgb = fit_square(to_rgb(im), m.resolution, self.fit)
        import numpy as np

        ctx.progress(None, "Encoding…")  # reading a big photo is the slow part: Cancel lands here, after it
        latent = m.encode(np.asarray(rgb, dtype=np.uint8)[None])
        return _render(ctx, m, latent, 1.0, "encode", [None], source=path.name)


def _check_latent(latent: Any, m: Any) -> Any:
    if latent.numel() != m.latent_dim:
        raise InputError(
            f"This picture's latent has {latent.numel()} values but {m.name} expects {m.latent_dim}; "
            "it was made with a different model. Select the model it came from."
        )
    return latent.reshape(-1)
