"""Image studio evaluator (image-gan, image-vae): k-NN precision/recall in pixel and feature space.

Pictures are compared twice: as 16 x 16 px colour thumbnails (RMS distance in [0, 1], coarse but
free of any learned bias) and in the shipped self-supervised feature space (``features.py``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from aigc_studio.evaluate import neighbours
from aigc_studio.evaluate.base import Loaded, Measured, Pair, Reference
from aigc_studio.evaluate.efficiency import count_parameters
from aigc_studio.evaluate.features import embed_images, load_feature_net
from aigc_studio.image.dataset import load_image_folder
from aigc_studio.image.model import KINDS, load_image_model

THUMB = 16
DUPLICATE_RMS = 0.03  # two thumbnails closer than ~8/255 per channel on average are the same picture
NEAREST_SHOWN = 8
MEMORISED_PERCENTILE = 1.0  # closer to a reference image than 99 % of reference images are to their neighbour


def thumbnails(images: np.ndarray) -> np.ndarray:
    """(N, H, W, 3) uint8 -> (N, 768) float vectors whose Euclidean distance is the RMS pixel difference."""
    x = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float() / 255.0
    small = torch.nn.functional.adaptive_avg_pool2d(x, THUMB).reshape(len(images), -1)
    return (small / np.sqrt(small.shape[1])).numpy().astype(np.float64)


class ImageStudio:
    """Evaluates GANs and VAEs on folders of pictures."""

    kinds = KINDS
    unit = "images"
    quick = False  # the short evaluation after training (images are cheap; same figures)

    def __init__(self, psi: float = 1.0) -> None:
        self.psi = psi
        self._features = None

    def features(self, images: np.ndarray, ctx: Any = None) -> np.ndarray:
        """Feature vectors of ``images`` (the network is loaded once)."""
        if self._features is None:
            self._features = load_feature_net()
        return embed_images(self._features, images, check=getattr(ctx, "check_cancelled", None))

    def load(self, ref: str, ctx: Any) -> Loaded:
        """Load a GAN or VAE file."""
        from aigc_studio.core.registry import resolve_model

        path = resolve_model(str(ref), KINDS)
        m = load_image_model(path, ctx.device)
        return Loaded(m.name, m.kind, m.card.content_hash, Path(path), m, count_parameters(m.net))

    def read_reference(self, path: str, loaded: Loaded | None, ctx: Any, limit: int, seed: int) -> Reference:
        """Images of a folder at the model's resolution (a random ``limit`` of them if there are more)."""
        resolution = loaded.model.resolution if loaded else 64
        data = load_image_folder(
            path,
            resolution,
            fit="crop",  # as the trainers do by default
            log=ctx.log,
            check_cancelled=ctx.check_cancelled,
            progress=ctx.progress,
        )
        keep = _subset(len(data.images), limit, seed)
        return Reference(
            str(path),
            [data.images[i] for i in keep],
            [data.files[i] for i in keep],
            f"images at {resolution} px",
            len(data.images),
        )

    def sample(self, loaded: Loaded, count: int, ctx: Any, seed: int) -> tuple[list[Any], int]:
        """``count`` pictures from seeded standard-normal latents (``psi`` as on the canvas)."""
        m = loaded.model
        z = torch.randn(count, m.latent_dim, generator=torch.Generator().manual_seed(seed))
        out = []
        for start in range(0, count, 16):
            out.extend(m.decode(z[start : start + 16], psi=self.psi))
            ctx.progress(min(count, start + 16) / count, f"Drawing images {min(count, start + 16)}/{count}")
        return out, count

    def split(self, reference: Reference, count: int, seed: int) -> tuple[list[Any], Reference]:
        """Half of the reference (at most ``count``) as samples, the other half as reference."""
        chosen, rest = reference.split_in_half(count, seed)
        return [reference.items[i] for i in chosen], rest

    def measure(
        self,
        samples: list[Any],
        reference: Reference | None,
        loaded: Loaded | None,
        ctx: Any,
        baseline: Measured | None,
    ) -> Measured:
        """Precision/recall, spread, near duplicates and the nearest reference pictures."""
        out = Measured()
        images = np.stack(samples)
        pix = thumbnails(images)
        feat = self.features(images, ctx).astype(np.float64)
        out.diversity["mean_pairwise_distance_pixel16"] = _r(neighbours.mean_pairwise(pix))
        out.diversity["mean_pairwise_distance_features"] = _r(neighbours.mean_pairwise(feat))
        out.diversity["near_duplicate_pair_share"] = _r(neighbours.close_pair_share(pix, DUPLICATE_RMS))
        out.units.update(
            precision_pixel16="share of samples inside a reference image's 3-NN ball, 16 px thumbnails (0-1)",
            precision_features="the same in the self-supervised feature space (0-1)",
            recall_pixel16="share of reference images inside a sample's 3-NN ball, 16 px thumbnails (0-1)",
            recall_features="the same in the feature space (0-1)",
            mean_pairwise_distance_pixel16="RMS pixel difference of 16 px thumbnails, pixel values 0-1",
            mean_pairwise_distance_features="Euclidean distance of unit feature vectors (0-2)",
            near_duplicate_pair_share=f"share of sample pairs with 16 px RMS difference < {DUPLICATE_RMS}",
            nearest_distance_pixel16_median="median RMS difference to the nearest reference image, 16 px",
            nearest_distance_features_median="median feature distance to the nearest reference image",
            memorised_share=f"share of samples closer to a reference image than {100 - MEMORISED_PERCENTILE:g} % "
            "of reference images are to their nearest neighbour (16 px)",
        )
        if reference is None:
            for name in ("precision_pixel16", "precision_features"):
                out.missing[name] = "needs reference images (--data)"
            for name in ("recall_pixel16", "recall_features", "nearest", "memorised_share"):
                out.missing[name] = "needs reference images (--data)"
            return out
        ref_images = np.stack(reference.items)
        ref_pix = thumbnails(ref_images)
        ctx.check_cancelled()
        ref_feat = self.features(ref_images, ctx).astype(np.float64)
        p, r = neighbours.precision_recall(pix, ref_pix)
        pf, rf = neighbours.precision_recall(feat, ref_feat)
        out.quality.update(precision_pixel16=_r(p), precision_features=_r(pf))
        out.diversity.update(recall_pixel16=_r(r), recall_features=_r(rf))
        index, dist = neighbours.nearest(pix, ref_pix)
        _, fdist = neighbours.nearest(feat, ref_feat)
        threshold = float(np.percentile(neighbours.leave_one_out_nearest(ref_pix), MEMORISED_PERCENTILE))
        copied = dist < threshold
        out.memorised = int(copied.sum())
        out.memorised_rule = (
            f"closer (16 px RMS < {threshold:.4f}) to a reference image than 99 % of reference images are "
            "to their nearest other reference image"
        )
        out.novelty.update(
            nearest_distance_pixel16_median=_r(float(np.median(dist))),
            nearest_distance_features_median=_r(float(np.median(fdist))),
            memorised_share=_r(float(copied.mean())),
        )
        shown = np.argsort(dist)[:NEAREST_SHOWN]
        out.novelty["nearest"] = [
            {"sample": int(i), "reference": reference.labels[index[i]], "distance_pixel16": _r(float(dist[i]))}
            for i in shown
        ]
        out.pairs = [
            Pair(
                f"sample {i}",
                reference.labels[index[i]],
                float(dist[i]),
                images[i],
                ref_images[index[i]],
                memorised=bool(copied[i]),
            )
            for i in shown
        ]
        return out


def _subset(n: int, limit: int, seed: int) -> list[int]:
    if n <= limit:
        return list(range(n))
    return sorted(np.random.default_rng(seed).choice(n, limit, replace=False).tolist())


def _r(x: float) -> float:
    return round(float(x), 4)
