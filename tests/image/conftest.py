"""Fixtures for the image studio: tiny untrained model files and a mixed, partly broken image folder."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image


@pytest.fixture(autouse=True)
def _one_torch_thread(one_torch_thread):
    """Every image test runs on one torch thread (see tests/conftest.py)."""


def make_gan_file(path, resolution: int = 32, seed: int = 0, classes: list[str] | None = None):
    """Write a tiny untrained GAN model file (class-conditional when ``classes`` are given) and return its path."""
    import torch

    from aigc_studio.core.modelfile import save_model
    from aigc_studio.image.gan import GANConfig, Generator, mean_latent
    from aigc_studio.image.model import card_for, gan_tensors

    torch.manual_seed(seed)
    config = GANConfig(resolution=resolution, z_dim=16, w_dim=32, g_channels=8, d_channels=8, max_channels=32)
    if classes:
        config.classes, config.g_norm, config.d_norm, config.modulate = list(classes), "pixel", "spectral", True
    g = Generator(config).eval()
    save_model(path, gan_tensors(g, mean_latent(g, 256)), card_for("image-gan", config, name=path.stem, untrained=True))
    return path


def make_vae_file(path, resolution: int = 32):
    """Write a tiny untrained VAE model file and return its path."""
    import torch

    from aigc_studio.core.modelfile import save_model
    from aigc_studio.image.model import card_for, vae_tensors
    from aigc_studio.image.vae import ConvVAE, VAEConfig

    torch.manual_seed(0)
    config = VAEConfig(resolution=resolution, latent_dim=8, channels=8, max_channels=32)
    save_model(path, vae_tensors(ConvVAE(config)), card_for("image-vae", config, name=path.stem, untrained=True))
    return path


@pytest.fixture
def gan_file(tmp_path):
    """A tiny untrained 32 px GAN."""
    return make_gan_file(tmp_path / "tiny-gan.safetensors")


@pytest.fixture
def vae_file(tmp_path):
    """A tiny untrained 32 px VAE."""
    return make_vae_file(tmp_path / "tiny-vae.safetensors")


def write_mixed_folder(folder, copies: int = 1):
    """PNG with alpha, greyscale JPEG, WebP, palette GIF, odd sizes, plus broken files. Returns (good, broken)."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    good = 0
    for c in range(copies):
        rgba = np.zeros((40, 60, 4), np.uint8)
        rgba[..., 0] = 255
        rgba[10:30, 20:40, 3] = 255  # opaque red square on a transparent background
        Image.fromarray(rgba, "RGBA").save(folder / f"alpha{c}.png")
        Image.fromarray(rng.integers(0, 255, (50, 30), dtype=np.uint8), "L").save(folder / f"grey{c}.jpg")
        Image.fromarray(rng.integers(0, 255, (33, 33, 3), dtype=np.uint8)).save(folder / f"photo{c}.webp")
        Image.fromarray(rng.integers(0, 255, (20, 70, 3), dtype=np.uint8)).convert("P").save(folder / f"pal{c}.gif")
        sub = folder / "sub"
        sub.mkdir(exist_ok=True)
        Image.fromarray(rng.integers(0, 255, (128, 96, 3), dtype=np.uint8)).save(sub / f"big{c}.png")
        good += 5
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 10)
    (folder / "notes.jpg").write_text("this is text, not a JPEG")
    (folder / "readme.txt").write_text("ignored: not an image suffix")
    return good, 2


@pytest.fixture
def mixed_folder(tmp_path):
    """A small mixed folder: 5 readable images, 2 broken ones."""
    folder = tmp_path / "images"
    write_mixed_folder(folder)
    return folder


def write_class_folder(folder, classes=("cats", "dogs"), per_class: int = 4, size: int = 40):
    """A folder whose sub-folders are classes: ``per_class`` small pictures each, one colour family per class."""
    rng = np.random.default_rng(1)
    for c, name in enumerate(classes):
        sub = folder / name
        sub.mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            pixels = rng.integers(0, 80, (size, size, 3), dtype=np.uint8)
            pixels[..., c % 3] += 170
            Image.fromarray(pixels).save(sub / f"{name}{i}.png")
    return folder
