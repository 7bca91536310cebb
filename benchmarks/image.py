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
from aigc_studio.image.gan import SIZE_PRESETS, GANConfig, parameter_count
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


def ours_step_fn(batch: int, augment: str, classes: int = 9):
    """One step of our GAN recipe (small preset: spectral-norm D, modulated BatchNorm G, hinge, DiffAugment, EMA),
    class-conditional on ``classes`` classes as the starter set, on random data at 64 px."""
    images = (torch.rand(256, 64, 64, 3) * 255).to(torch.uint8).numpy()
    names = [f"class{i}" for i in range(classes)]
    labels = (torch.arange(256) % classes).numpy() if classes else None
    data = BatchSource(ImageDataset(images, ["x"] * 256, classes=names if classes else [], labels=labels), True, 0)
    settings = ImageTrainSettings(data="", out="unused", batch_size=batch, augment=augment)
    config = GANConfig(resolution=64, **SIZE_PRESETS["small"])
    config.classes = names if classes else []
    trainer = GANTrainer(config, settings, data, torch.device("cpu"))
    return trainer.step, parameter_count(trainer.g), parameter_count(trainer.d)


def seconds_per_step(step) -> float:
    """Wall time of one step."""
    start = time.perf_counter()
    step()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default="emoji-gan-64")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--steps", type=int, default=3, help="steps per trainer in each round")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds (the figure is their median)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, CPU threads {torch.get_num_threads()}")

    model = load_image_model(resolve_model(args.model, "image-gan"), "cpu")
    latents = seed_latents(1, 64, model.latent_dim)
    model.decode(latents, 0.7)
    runs = []
    for _ in range(max(5, args.rounds)):
        start = time.perf_counter()
        model.decode(latents, 0.7)
        runs.append(time.perf_counter() - start)

    trainers = [
        ("DCGAN (pytorch/examples)", dcgan_step_fn(args.batch)),
        ("ours, 9 classes, DiffAugment", ours_step_fn(args.batch, "color,translation,cutout")),
        ("ours, unconditional, DiffAug", ours_step_fn(args.batch, "color,translation,cutout", classes=0)),
    ]
    for _, (step, _, _) in trainers:  # warm-up
        step()
        step()
    # Interleaved rounds: a burst of load from other processes hits every trainer alike, not one of them.
    rates: list[list[float]] = [[] for _ in trainers]
    ratios: list[list[float]] = [[] for _ in trainers]
    for _ in range(args.rounds):
        for i, (_, (step, _, _)) in enumerate(trainers):
            rates[i].append(args.batch / statistics.median(seconds_per_step(step) for _ in range(args.steps)))
        for i in range(len(trainers)):
            ratios[i].append(rates[i][-1] / rates[0][-1])

    print()
    print(
        f"Generate 64 images at {model.resolution} px from {model.name} (psi 0.7, CPU): median "
        f"{statistics.median(runs):.3f} s, min {min(runs):.3f}, max {max(runs):.3f} over {len(runs)} runs "
        "(target < 0.5 s)"
    )
    print()
    print(f"Training at 64 px, batch {args.batch}, CPU, {args.rounds} interleaved rounds of {args.steps} steps:")
    print(f"{'trainer':30} {'G params':>9} {'D params':>9} {'images/s':>9} {'vs DCGAN (median, min-max)':>28}")
    for (name, (_, g_params, d_params)), rate, ratio in zip(trainers, rates, ratios):
        print(
            f"{name:30} {g_params / 1e6:8.2f}M {d_params / 1e6:8.2f}M {statistics.median(rate):9.1f} "
            f"{statistics.median(ratio):12.2f}x ({min(ratio):.2f}-{max(ratio):.2f})"
        )


if __name__ == "__main__":
    main()
