"""Compare GAN checkpoints on the training images: how many samples look like real ones, how many real ones are covered.

Pixel-space k-NN precision and recall (Kynkäänniemi et al. 2019, k = 3) at 16x16 px, plus mean
nearest-neighbour distances. No pretrained feature network is available offline, so this is a
coarse measure (it rewards plausible colour and layout, not detail); it was used to choose which
checkpoint of the starter GAN to ship.

Usage: python resources/recipes/image/evaluate_gan.py DATA_DIR MODEL.safetensors [MODEL ...] [--samples 512 --psi 0.8]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from aigc_studio.image.model import load_image_model

SIZE = 16


def _small(images: list[Image.Image]) -> np.ndarray:
    return np.stack(
        [np.asarray(im.convert("RGB").resize((SIZE, SIZE), Image.Resampling.BILINEAR), np.float32) / 255 for im in images]
    ).reshape(len(images), -1)


def _knn_radii(points: np.ndarray, k: int = 3) -> np.ndarray:
    d = ((points[:, None] - points[None]) ** 2).mean(-1)
    np.fill_diagonal(d, np.inf)
    return np.sort(d, 1)[:, k - 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("data")
    parser.add_argument("models", nargs="+")
    parser.add_argument("--samples", type=int, default=512)
    parser.add_argument("--psi", type=float, default=0.8)
    args = parser.parse_args()
    real = _small([Image.open(p) for p in sorted(Path(args.data).glob("*.png"))])
    real_radii = _knn_radii(real)
    print(f"{'model':34s} {'precision':>9s} {'recall':>7s} {'fake->real':>10s} {'real->fake':>10s}")
    for path in args.models:
        model = load_image_model(path)
        z = torch.randn(args.samples, model.latent_dim, generator=torch.Generator().manual_seed(123))
        pictures = np.concatenate([model.decode(z[i : i + 64], psi=args.psi) for i in range(0, args.samples, 64)])
        fake = _small([Image.fromarray(p) for p in pictures])
        d = ((fake[:, None, :] - real[None, :, :]) ** 2).mean(-1)
        precision = (d <= real_radii[None, :]).any(1).mean()
        fake_radii = _knn_radii(fake)
        recall = np.less_equal(d.T, fake_radii[None, :]).any(1).mean()
        print(f"{Path(path).name:34s} {precision:9.3f} {recall:7.3f} {np.sqrt(d.min(1)).mean():10.4f} {np.sqrt(d.min(0)).mean():10.4f}")


if __name__ == "__main__":
    main()
