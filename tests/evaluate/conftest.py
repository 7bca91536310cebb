"""Fixtures for the evaluation tests: a tiny GAN and a small folder of pictures."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image


@pytest.fixture(autouse=True)
def _one_torch_thread(one_torch_thread):
    """Tiny models on one torch thread (see tests/conftest.py)."""


@pytest.fixture
def tiny_gan(tmp_path):
    """A tiny untrained 32 px GAN file."""
    import torch

    from aigc_studio.core.modelfile import save_model
    from aigc_studio.image.gan import GANConfig, Generator, mean_latent
    from aigc_studio.image.model import card_for, gan_tensors

    torch.manual_seed(0)
    config = GANConfig(resolution=32, z_dim=16, w_dim=32, g_channels=8, d_channels=8, max_channels=32)
    g = Generator(config).eval()
    path = tmp_path / "tiny-gan.safetensors"
    save_model(path, gan_tensors(g, mean_latent(g, 256)), card_for("image-gan", config, name="tiny-gan"))
    return path


@pytest.fixture
def picture_folder(tmp_path):
    """24 distinct 32 px pictures (coloured squares at different places) in a folder."""
    folder = tmp_path / "pictures"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(24):
        img = np.full((32, 32, 3), 255, np.uint8)
        x, y = rng.integers(0, 20, 2)
        img[y : y + 12, x : x + 12] = rng.integers(0, 255, 3)
        Image.fromarray(img).save(folder / f"p{i:02d}.png")
    return folder
