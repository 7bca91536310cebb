"""Measure image models on the held-out 10 % of the starter set (until ``aigc-studio evaluate`` covers this).

GAN: k-NN precision and recall (Kynkäänniemi et al. 2019, k = 3) in 16x16 px pixel space against the held-out
pictures, and the near-duplicate rate: the share of sample pairs closer than half the training set's median
nearest-neighbour distance, beside the training set's own rate at that threshold. A conditional model draws its
samples with the held-out pictures' class mix.
VAE: reconstruction of the held-out pictures at the model's resolution: mean L1 (on [0, 1]) and 1 - SSIM.

Usage: python resources/recipes/image/measure.py DATA_DIR MODEL.safetensors [MODEL ...] [--samples 256 --psi 0.7]
DATA_DIR is the output of prepare_emoji.py (with train/ and heldout/).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from aigc_studio.image.dataset import load_image_folder
from aigc_studio.image.model import from_uint8, load_image_model
from aigc_studio.image.vae import ssim

SIZE = 16
K = 3


def small(images: np.ndarray) -> torch.Tensor:
    """(N, H, W, 3) uint8 -> (N, 768) float at 16x16 px (bilinear, as the first starter's evaluation)."""
    out = [
        np.asarray(Image.fromarray(im).resize((SIZE, SIZE), Image.Resampling.BILINEAR), np.float32) / 255
        for im in images
    ]
    return torch.from_numpy(np.stack(out)).reshape(len(images), -1)


def distances(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Euclidean distances between the rows of ``a`` and ``b``."""
    return torch.cdist(a.double(), b.double())


def knn_radius(points: torch.Tensor, k: int = K) -> torch.Tensor:
    """Distance of each point to its k-th nearest other point."""
    d = distances(points, points)
    d.fill_diagonal_(float("inf"))
    return d.sort(dim=1).values[:, k - 1]


def pair_rate(points: torch.Tensor, threshold: float) -> float:
    """Share of unordered pairs closer than ``threshold``."""
    d = distances(points, points)
    n = points.shape[0]
    close = (d < threshold).sum().item() - n  # the diagonal
    return close / (n * (n - 1))


def precision_recall(fake: torch.Tensor, real: torch.Tensor) -> tuple[float, float]:
    """k-NN precision (fakes inside the real manifold) and recall (reals inside the fake manifold)."""
    d = distances(fake, real)
    precision = (d <= knn_radius(real)[None, :]).any(dim=1).double().mean().item()
    recall = (knn_radius(fake)[None, :] >= d.T).any(dim=1).double().mean().item()
    return precision, recall


def gan_samples(model, count: int, psi: float, heldout_labels: np.ndarray | None, seed: int = 123) -> np.ndarray:
    """``count`` samples at ``psi``; a conditional model's classes follow the held-out class mix."""
    gen = torch.Generator().manual_seed(seed)
    z = torch.randn(count, model.latent_dim, generator=gen)
    labels = None
    if model.classes and heldout_labels is not None:
        pick = torch.from_numpy(heldout_labels)[torch.randint(len(heldout_labels), (count,), generator=gen)]
        labels = torch.nn.functional.one_hot(pick, len(model.classes)).float()
    return model.decode(z, psi, labels=labels)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("data", type=Path)
    parser.add_argument("models", nargs="+")
    parser.add_argument("--samples", type=int, default=256)
    parser.add_argument("--psi", type=float, default=0.7)
    args = parser.parse_args()
    train = load_image_folder(args.data / "train", 64)
    held = load_image_folder(args.data / "heldout", 64)
    train_small, held_small = small(train.images), small(held.images)
    d = distances(train_small, train_small)
    d.fill_diagonal_(float("inf"))
    threshold = 0.5 * d.min(dim=1).values.median().item()
    train_rate = pair_rate(train_small, threshold)
    print(f"held-out: {len(held)} pictures; training set: {len(train)}; near-duplicate threshold {threshold:.3f}")
    print(f"training set's own near-duplicate pair rate: {100 * train_rate:.3f} %")
    for path in args.models:
        model = load_image_model(path)
        name = Path(path).name
        if model.kind == "image-gan":
            fake = small(gan_samples(model, args.samples, args.psi, held.labels if model.classes else None))
            p, r = precision_recall(fake, held_small)
            rate = pair_rate(fake, threshold)
            ratio = rate / train_rate if train_rate else float("inf")
            print(
                f"{name}: GAN psi {args.psi}, {args.samples} samples: precision {p:.3f}, recall {r:.3f}, "
                f"near-duplicate pairs {100 * rate:.3f} % ({ratio:.1f}x the training set's)"
            )
        else:
            images = held.images
            if model.resolution != 64:
                images = load_image_folder(args.data / "heldout", model.resolution).images
            latents = model.encode(images)  # standardised codes; decode maps them back
            recon = model.decode(latents)
            x, y = from_uint8(images), from_uint8(recon)
            l1 = ((x - y).abs().mean().item()) / 2  # on [0, 1]
            structure = 1.0 - ssim(x, y).mean().item()
            print(f"{name}: VAE held-out reconstruction at {model.resolution} px: L1 {l1:.4f}, 1-SSIM {structure:.4f}")


if __name__ == "__main__":
    main()
