"""A small image feature space that needs no download, for comparing pictures by content.

Pretrained Inception or CLIP weights cannot be fetched offline, so the app ships its own
embedding: a four-layer CNN trained by self-supervision (predicting which of four rotations an
image was turned by) on the emoji data set, 32 x 32 px in, 128 numbers out, L2-normalised.
Rotation prediction needs no labels and makes the network notice shape and layout (where the
eyes are, which way a figure stands), which pixel distances miss; see
``resources/recipes/evaluate/README.md`` for the recipe and the limits.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from aigc_studio.core.paths import resources_dir
from aigc_studio.errors import ModelFileError

INPUT_SIZE = 32
FEATURES = 128
FILE_NAME = "image-features-32.safetensors"


class FeatureNet(nn.Module):
    """Strided convolutions to a 128-d pooled code; ``head`` guesses the rotation during training only."""

    def __init__(self) -> None:
        super().__init__()

        def block(cin: int, cout: int, stride: int) -> nn.Sequential:
            return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1), nn.GroupNorm(8, cout), nn.SiLU())

        self.body = nn.Sequential(block(3, 32, 1), block(32, 64, 2), block(64, 128, 2), block(128, FEATURES, 2))
        self.head = nn.Linear(FEATURES, 4)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 3, 32, 32) in [-1, 1] -> (N, 128) unit vectors."""
        h = self.body(x).mean((2, 3))
        return nn.functional.normalize(h, dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Rotation logits (training)."""
        return self.head(self.body(x).mean((2, 3)))


def default_path() -> Path:
    """Where the shipped feature network lives."""
    return resources_dir() / "evaluate" / FILE_NAME


def load_feature_net(path: str | Path | None = None) -> FeatureNet:
    """The shipped (or given) feature network, in eval mode on the CPU."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    path = Path(path) if path else default_path()
    if not path.is_file():
        raise ModelFileError(f"The image feature network {path} is missing; reinstall AIGC Studio.")
    net = FeatureNet()
    try:
        net.load_state_dict(load_file(str(path)))
    except (SafetensorError, OSError, RuntimeError) as exc:
        raise ModelFileError(f"The image feature network {path.name} is damaged ({exc}).") from exc
    return net.eval()


def to_input(images: np.ndarray) -> torch.Tensor:
    """(N, H, W, 3) uint8 at any size -> (N, 3, 32, 32) in [-1, 1] (area-averaged)."""
    x = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float() / 127.5 - 1.0
    return nn.functional.adaptive_avg_pool2d(x, INPUT_SIZE) if x.shape[-1] != INPUT_SIZE else x


@torch.no_grad()
def embed_images(net: FeatureNet, images: np.ndarray, batch: int = 256, check: object = None) -> np.ndarray:
    """(N, H, W, 3) uint8 -> (N, 128) float32 unit vectors."""
    out = []
    for start in range(0, len(images), batch):
        if check is not None:
            check()
        out.append(net.embed(to_input(images[start : start + batch])).numpy())
    return np.concatenate(out) if out else np.zeros((0, FEATURES), np.float32)
