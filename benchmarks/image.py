"""Image studio benchmark: sampling speed of the starter GAN and training throughput vs a plain DCGAN.

Usage: python benchmarks/image.py [--model emoji-gan-64] [--threads N] [--batch 32] [--steps 10]
The reference is the PyTorch examples DCGAN (dcgan/main.py: ngf = ndf = 64, nz = 100,
BatchNorm, BCE loss, one D and one G update per step) at the same resolution and batch.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from torch import nn

from aigc_studio.core.registry import resolve_model
from aigc_studio.image.dataset import ImageDataset
from aigc_studio.image.gan import GANConfig, parameter_count
from aigc_studio.image.model import load_image_model
from aigc_studio.image.sampling import seed_latents
from aigc_studio.image.settings import ImageTrainSettings
from aigc_studio.image.train_gan import GANTrainer
from aigc_studio.image.training import BatchSource


class DCGANGenerator(nn.Module):
    """pytorch/examples dcgan Generator (64 px)."""

    def __init__(self, nz: int = 100, ngf: int = 64) -> None:
        super().__init__()
        self.main = nn.Sequential(
            nn.ConvTranspose2d(nz, ngf * 8, 4, 1, 0, bias=False), nn.BatchNorm2d(ngf * 8), nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 8, ngf * 4, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf * 4), nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 4, ngf * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf * 2), nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 2, ngf, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf), nn.ReLU(True),
            nn.ConvTranspose2d(ngf, 3, 4, 2, 1, bias=False), nn.Tanh(),
        )  # fmt: skip

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.main(z)


class DCGANDiscriminator(nn.Module):
    """pytorch/examples dcgan Discriminator (64 px)."""

    def __init__(self, ndf: int = 64) -> None:
        super().__init__()
        self.main = nn.Sequential(
            nn.Conv2d(3, ndf, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf, ndf * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ndf * 2), nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf * 2, ndf * 4, 4, 2, 1, bias=False), nn.BatchNorm2d(ndf * 4), nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf * 4, ndf * 8, 4, 2, 1, bias=False), nn.BatchNorm2d(ndf * 8), nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf * 8, 1, 4, 1, 0, bias=False), nn.Sigmoid(),
        )  # fmt: skip

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.main(x).view(-1)


def dcgan_step_fn(batch: int):
    """One examples-style DCGAN step (D on real + fake, then G), returned as a closure."""
    net_g, net_d = DCGANGenerator(), DCGANDiscriminator()
    opt_g = torch.optim.Adam(net_g.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(net_d.parameters(), lr=2e-4, betas=(0.5, 0.999))
    criterion = nn.BCELoss()
    real = torch.rand(batch, 3, 64, 64) * 2 - 1

    def step() -> None:
        net_d.zero_grad()
        out = net_d(real)
        err_real = criterion(out, torch.ones_like(out))
        err_real.backward()
        fake = net_g(torch.randn(batch, 100, 1, 1))
        out = net_d(fake.detach())
        err_fake = criterion(out, torch.zeros_like(out))
        err_fake.backward()
        opt_d.step()
        net_g.zero_grad()
        out = net_d(fake)
        criterion(out, torch.ones_like(out)).backward()
        opt_g.step()

    return step, parameter_count(net_g), parameter_count(net_d)


def ours_step_fn(batch: int, augment: str):
    """One step of our GAN trainer (hinge, DiffAugment, EMA) on random data at 64 px."""
    images = (torch.rand(256, 64, 64, 3) * 255).to(torch.uint8).numpy()
    data = BatchSource(ImageDataset(images, ["x"] * 256), flip=True, seed=0)
    settings = ImageTrainSettings(data="", out="unused", batch_size=batch, augment=augment)
    trainer = GANTrainer(GANConfig(resolution=64), settings, data, torch.device("cpu"))
    return trainer.step, parameter_count(trainer.g), parameter_count(trainer.d)


def images_per_second(step, batch: int, steps: int) -> float:
    """Median-based throughput after two warm-up steps."""
    step()
    step()
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return batch / statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default="emoji-gan-64")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--steps", type=int, default=10)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, CPU threads {torch.get_num_threads()}")

    model = load_image_model(resolve_model(args.model, "image-gan"), "cpu")
    latents = seed_latents(1, 64, model.latent_dim)
    model.decode(latents, 0.7)
    runs = []
    for _ in range(5):
        start = time.perf_counter()
        model.decode(latents, 0.7)
        runs.append(time.perf_counter() - start)
    gen_time = statistics.median(runs)

    rows = []
    for name, (step, g_params, d_params) in (
        ("DCGAN (pytorch/examples)", dcgan_step_fn(args.batch)),
        ("ours, DiffAugment on", ours_step_fn(args.batch, "color,translation,cutout")),
        ("ours, no augmentation", ours_step_fn(args.batch, "")),
    ):
        rows.append((name, g_params, d_params, images_per_second(step, args.batch, args.steps)))
    base = rows[0][3]

    print()
    print(
        f"Generate 64 images at {model.resolution} px from {model.name} (psi 0.7, CPU): {gen_time:.3f} s (target < 0.5 s)"
    )
    print()
    print(f"Training at 64 px, batch {args.batch}, CPU:")
    print(f"{'trainer':28} {'G params':>10} {'D params':>10} {'images/s':>10} {'vs DCGAN':>9}")
    for name, g_params, d_params, rate in rows:
        print(f"{name:28} {g_params / 1e6:9.2f}M {d_params / 1e6:9.2f}M {rate:10.1f} {rate / base:8.2f}x")


if __name__ == "__main__":
    main()
