"""Jobs of the image studio. Importing this module does not import torch (the GUI imports it).

Every job returns plain Python: ``items`` lists of ``{"image": uint8 HxWx3 array, "recipe": dict}``.
A recipe holds everything needed to redraw the picture: model hash, latent, psi, seed, and for a
class-conditional GAN its class (``class``, a name, and ``class_weights``, one weight per class: one-hot for a
picture of one class, a blend for frames between two classes).
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


def class_label(classes: list[str], weights: list[float]) -> str:
    """A class name, or a blend such as ``cats 70% + dogs 30%`` (the two largest weights)."""
    order = sorted(range(len(weights)), key=lambda i: -weights[i])
    if weights[order[0]] >= 0.995:
        return classes[order[0]]
    return " + ".join(f"{classes[i]} {100 * weights[i]:.0f}%" for i in order[:2] if weights[i] > 0.005)


def class_labels(m: Any, weights: Any, count: int) -> Any:
    """Class weights (count, C) as a tensor for a conditional model (checked), None for any other model."""
    if not m.classes:
        return None
    import torch

    from aigc_studio.image.sampling import class_cycle

    if weights is None:
        return class_cycle(count, len(m.classes))
    labels = torch.tensor(weights, dtype=torch.float32).reshape(count, -1)
    if labels.shape[1] != len(m.classes):
        raise InputError(
            f"This picture's class weights have {labels.shape[1]} values but {m.name} has {len(m.classes)} "
            "classes; it was made with a different model."
        )
    return labels


def pick_classes(m: Any, names: list[str] | None, count: int, first: int = 0) -> Any:
    """Labels for ``count`` pictures: the named classes in turn, or every class in turn from ``first``."""
    if not names:
        if not m.classes:
            return None
        from aigc_studio.image.sampling import class_cycle

        return class_cycle(count, len(m.classes), first)
    if not m.classes:
        raise InputError(f"{m.name} is not class-conditional; it draws pictures of any kind (leave the class out).")
    import torch

    from aigc_studio.image.sampling import one_hot

    index = [m.class_index(name) for name in names]
    return torch.cat([one_hot(index[i % len(index)], len(m.classes)) for i in range(count)])


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


def _render(
    ctx: Any, m: Any, latents: Any, psi: float, op: str, seeds: list, labels: Any = None, **extra: Any
) -> GeneratedImages:
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
                label = None if labels is None else labels[start : start + chunk]
                images = m.decode(latents[start : start + chunk], psi, chunk_size=chunk, labels=label)
        except Exception as exc:
            if not is_out_of_memory(exc):
                raise
            m, chunk = _smaller_after_oom(ctx, m, chunk)
            continue
        for j, image in enumerate(images):
            i = start + j
            recipe = make_recipe(m, ctx, latents[i], psi, op, seeds[i], i, **extra)
            if labels is not None:
                weights = [round(float(v), 6) for v in labels[i].tolist()]
                recipe.update({"class": class_label(m.classes, weights), "class_weights": weights})
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

    def __init__(
        self, model: str, count: int = 16, seed: int = 0, psi: float = 1.0, classes: list[str] | None = None
    ) -> None:
        if count < 1 or count > 1024:
            raise InputError("Count must be between 1 and 1024.")
        self.model, self.count, self.seed, self.psi = str(model), count, int(seed), float(psi)
        self.classes = [c for c in (classes or []) if c.strip()]  # empty: any (every class in turn)
        self.title = f"Generate {count} image(s)"

    def run(self, ctx: Any) -> dict:
        """Load the model (cached) and draw; a conditional model draws the chosen classes in turn."""
        from aigc_studio.image.sampling import seed_latents

        ctx.progress(None, "Loading the model…")
        m = load_model_for(ctx, self.model)
        latents = seed_latents(self.seed, self.count, m.latent_dim)
        seeds = [self.seed + i for i in range(self.count)]
        # "Any" class: seed s draws class s mod C, so a picture's seed alone redraws it as the first of a batch.
        first = self.seed % len(m.classes) if m.classes else 0
        labels = pick_classes(m, self.classes, self.count, first)
        result = _render(ctx, m, latents, self.psi, "generate", seeds, labels)
        for _i, item in enumerate(result["items"]):
            item["recipe"]["batch_seed"] = self.seed  # image i of the batch has seed batch_seed + i
        return result


class RenderLatentsJob:
    """Decode given latents (restoring a recipe, or a canvas action computed elsewhere)."""

    def __init__(
        self,
        model: str,
        latents: list[list[float]],
        psi: float = 1.0,
        op: str = "restore",
        seeds=None,
        labels: list[list[float]] | None = None,
    ) -> None:
        self.model, self.latents, self.psi, self.op = str(model), latents, float(psi), op
        self.seeds = seeds or [None] * len(latents)
        self.labels = labels  # class weights per latent (conditional GAN), None otherwise
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
        labels = class_labels(m, self.labels, len(self.latents))
        return _render(ctx, m, latents, self.psi, self.op, list(self.seeds), labels)


class VariationsJob:
    """``count`` neighbours of one latent; ``strength`` 0 = copies, 1 = unrelated."""

    def __init__(
        self,
        model: str,
        latent: list[float],
        strength: float = 0.3,
        count: int = 8,
        seed: int = 0,
        psi: float = 1.0,
        label: list[float] | None = None,
    ):
        self.model, self.latent, self.strength, self.count = str(model), latent, float(strength), count
        self.seed, self.psi = int(seed), float(psi)
        self.label = label  # the picture's class weights: variations keep its class
        self.title = f"{count} variation(s)"

    def run(self, ctx: Any) -> dict:
        """Perturb the latent on a seeded CPU generator and draw."""
        import torch

        from aigc_studio.image.sampling import variations

        m = load_model_for(ctx, self.model)
        base = _check_latent(torch.tensor(self.latent, dtype=torch.float32), m)
        latents = variations(base, self.strength, self.count, self.seed)
        label = class_labels(m, self.label, 1)
        labels = None if label is None else label.expand(self.count, -1)
        return _render(ctx, m, latents, self.psi, "variation", [self.seed] * self.count, labels, strength=self.strength)


class InterpolateJob:
    """``frames`` pictures from latent ``a`` to ``b`` (``lerp`` or ``slerp``)."""

    def __init__(
        self,
        model: str,
        a: list[float],
        b: list[float],
        frames: int = 8,
        mode: str = "slerp",
        psi: float = 1.0,
        label_a: list[float] | None = None,
        label_b: list[float] | None = None,
    ):
        self.label_a, self.label_b = label_a, label_b  # class weights: across classes the class blends too
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
        labels = None
        if m.classes:
            la, lb = class_labels(m, self.label_a, 1)[0], class_labels(m, self.label_b, 1)[0]
            labels = torch.stack([la + (lb - la) * i / (self.frames - 1) for i in range(self.frames)])
        return _render(ctx, m, latents, self.psi, "interpolate", [None] * self.frames, labels, mode=self.mode)


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
        label_a: list[float] | None = None,
        label_b: list[float] | None = None,
    ):
        self.label_a, self.label_b = label_a, label_b
        self.model, self.a, self.b, self.count, self.seed = str(model), a, b, count, int(seed)
        self.mix, self.psi = float(mix), float(psi)
        self.title = f"Mix two images ({count} children)"

    def run(self, ctx: Any) -> dict:
        """Cross the latents over and draw."""
        import torch

        from aigc_studio.image.sampling import crossover, crossover_mask

        m = load_model_for(ctx, self.model)
        a = _check_latent(torch.tensor(self.a, dtype=torch.float32), m)
        b = _check_latent(torch.tensor(self.b, dtype=torch.float32), m)
        latents = crossover(a, b, self.count, self.seed, self.mix)
        labels = None
        if m.classes:  # a child's class blends its parents' as its latent does: the share taken from B
            la, lb = class_labels(m, self.label_a, 1)[0], class_labels(m, self.label_b, 1)[0]
            from_b = crossover_mask(self.count, a.numel(), self.seed, self.mix).float().mean(dim=1, keepdim=True)
            labels = la * (1 - from_b) + lb * from_b
        return _render(ctx, m, latents, self.psi, "mix", [self.seed] * self.count, labels, mix=self.mix)


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
