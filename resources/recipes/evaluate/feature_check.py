"""How well each space finds a picture again after a small change (shift by 2 px, brightness x0.9).

Usage: python resources/recipes/evaluate/feature_check.py IMAGE_DIR [WEIGHTS ...]

For every emoji, the changed copy's nearest original should be the emoji itself (top-1).
"""

from __future__ import annotations

import sys

import numpy as np
import torch

from aigc_studio.evaluate import neighbours
from aigc_studio.evaluate.features import embed_images, load_feature_net
from aigc_studio.evaluate.images import thumbnails
from aigc_studio.image.dataset import load_image_folder


def main() -> None:
    """Print top-1 retrieval of changed copies in pixel space and in each feature network's space."""
    torch.set_num_threads(1)
    images = load_image_folder(sys.argv[1], 64).images
    weights = sys.argv[2:] or [None]
    shifted = np.full_like(images, 255)
    shifted[:, 2:, 2:] = images[:, :-2, :-2]
    darker = (images.astype(np.float32) * 0.9).astype(np.uint8)
    for name, changed in (("shift 2 px", shifted), ("brightness x0.9", darker)):
        idx, _ = neighbours.nearest(thumbnails(changed), thumbnails(images))
        print(f"{name:16s} pixel16 top-1 {np.mean(idx == np.arange(len(images))):.3f}")
        for w in weights:
            net = load_feature_net(w)
            idx, _ = neighbours.nearest(embed_images(net, changed), embed_images(net, images))
            print(f"{name:16s} features({w or 'shipped'}) top-1 {np.mean(idx == np.arange(len(images))):.3f}")


if __name__ == "__main__":
    main()
