"""A FastGAN-lite generator and a spectral-norm discriminator for 32-256 px images.

The generator maps noise ``z`` (and, for a class-conditional model, an embedded
class) through a small MLP to ``w`` (so truncation has a real mean latent to pull
towards), then upsamples 4x4 features with nearest-neighbour + 3x3 convolutions.
Sampling never depends on the batch: BatchNorm layers sample with standing
statistics (recalibrated on fixed noise before every save), PixelNorm needs none.
With ``modulate`` every block's normalised features are also scaled and shifted by
``w`` (BigGAN's conditional BatchNorm, StyleGAN's AdaIN), so the class and the
noise steer every scale, not only the 4x4 start.

Labels are class *weights* (N, C): one-hot for one class, a blend between two
classes when interpolating across them. The discriminator is conditioned by
projection (Miyato & Koyama 2018): its logit gets the inner product of a class
embedding with its pooled features.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
from torch import nn
from torch.nn import functional as F
from torch.nn.utils.parametrizations import spectral_norm

from aigc_studio.errors import InputError

RESOLUTIONS = (32, 64, 128, 256)


@dataclass
class GANConfig:
    """Architecture of a GAN; stored in the model card and enough to rebuild it."""

    resolution: int = 64
    z_dim: int = 64
    w_dim: int = 128
    mapping_layers: int = 2
    g_channels: int = 16  # channels at full resolution; doubles per halving up to max_channels
    d_channels: int = 16
    max_channels: int = 256
    d_norm: str = "batch"  # "batch" (the first starter GAN) or "spectral" (no batch statistics, no collapse)
    g_norm: str = "batch"  # "batch" (DCGAN; stats recalibrated before sampling) or "pixel" (ProGAN)
    modulate: bool = False  # w scales and shifts every block's features (older files: False)
    classes: list[str] = field(default_factory=list)  # class names of a conditional model; empty = unconditional

    def check(self) -> None:
        """Raise InputError for a configuration we cannot build."""
        if self.resolution not in RESOLUTIONS:
            raise InputError(f"Resolution {self.resolution} is not supported; choose one of {RESOLUTIONS}.")

    def channels(self, base: int, res: int) -> int:
        """Channels at resolution ``res`` for a network whose full-resolution width is ``base``."""
        return min(self.max_channels, base * self.resolution // res)

    @property
    def num_classes(self) -> int:
        """Number of classes (0 for an unconditional model)."""
        return len(self.classes)


# What a fresh run trains (the dataclass defaults stay those of older files): a spectral-norm D without BatchNorm
# (BatchNorm in D let the first starter GAN collapse onto a few modes) and a modulated G that keeps BatchNorm while
# training, as FastGAN does, sampling with standing statistics (so a picture never depends on its batch). A
# PixelNorm G collapsed here: in a 300-step A/B at 32 px its samples varied 8x less with z (pixel std across
# samples 0.04 vs 0.33), and the 64 px run drew one flat colour per class at step 600.
# "small" tops out at 128 channels (the first starter had 256): 1.0 M + 0.8 M parameters train faster on a CPU
# and keep a resumable checkpoint (weights, EMA, Adam moments) under 30 MB.
RECIPE = dict(d_norm="spectral", g_norm="batch", modulate=True)
SIZE_PRESETS = {
    "tiny": dict(g_channels=8, d_channels=8, max_channels=128, z_dim=32, w_dim=64, **RECIPE),
    "small": dict(g_channels=16, d_channels=16, max_channels=128, z_dim=64, w_dim=128, **RECIPE),
    "medium": dict(g_channels=32, d_channels=32, max_channels=512, z_dim=128, w_dim=256, **RECIPE),
}


class PixelNorm(nn.Module):
    """Normalise each pixel's feature vector to unit length (ProGAN); batch-independent."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.rsqrt(x.pow(2).mean(dim=1, keepdim=True) + 1e-8)


def _g_norm(norm: str, channels: int) -> nn.Module:
    return nn.BatchNorm2d(channels) if norm == "batch" else PixelNorm()


class Modulation(nn.Module):
    """Per-sample channel scale and shift from ``w`` (AdaIN's affine part); starts as the identity."""

    def __init__(self, w_dim: int, channels: int) -> None:
        super().__init__()
        self.affine = nn.Linear(w_dim, 2 * channels)

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        scale, shift = self.affine(w)[:, :, None, None].chunk(2, dim=1)
        return x * (1.0 + scale) + shift


class UpBlock(nn.Module):
    """2x nearest upsample, one or two 3x3 convolutions (one at high resolution, where pixels cost most)."""

    def __init__(self, cin: int, cout: int, double: bool = True, norm: str = "batch", w_dim: int = 0) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.norm1 = _g_norm(norm, cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1) if double else None
        self.norm2 = _g_norm(norm, cout) if double else None
        self.mod1 = Modulation(w_dim, cout) if w_dim else None
        self.mod2 = Modulation(w_dim, cout) if w_dim and double else None

    def forward(self, x: torch.Tensor, w: torch.Tensor | None = None) -> torch.Tensor:
        x = F.interpolate(x, scale_factor=2.0, mode="nearest")
        x = self.norm1(self.conv1(x))
        x = F.leaky_relu(self.mod1(x, w) if self.mod1 is not None else x, 0.2)
        if self.conv2 is not None:
            x = self.norm2(self.conv2(x))
            x = F.leaky_relu(self.mod2(x, w) if self.mod2 is not None else x, 0.2)
        return x


class SkipExcitation(nn.Module):
    """FastGAN's skip-layer excitation: low-res features gate high-res channels."""

    def __init__(self, c_small: int, c_big: int) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.AdaptiveAvgPool2d(4),
            nn.Conv2d(c_small, c_big, 4),
            nn.LeakyReLU(0.2),
            nn.Conv2d(c_big, c_big, 1),
            nn.Sigmoid(),
        )

    def forward(self, small: torch.Tensor, big: torch.Tensor) -> torch.Tensor:
        return big * self.net(small)


def _variance_preserving_init(module: nn.Module) -> None:
    """He init with zero biases: without BatchNorm to re-amplify them, PyTorch's default init lets constant
    biases drown the per-sample signal, so every z draws nearly the same picture and training collapses."""
    if isinstance(module, (nn.Linear, nn.Conv2d)):
        nn.init.kaiming_normal_(module.weight, a=0.2, nonlinearity="leaky_relu")
        if module.bias is not None:
            nn.init.zeros_(module.bias)


class Generator(nn.Module):
    """z -> mapping MLP -> w -> 4x4 features -> up blocks -> RGB in [-1, 1]."""

    def __init__(self, config: GANConfig) -> None:
        super().__init__()
        config.check()
        self.config = config
        # A conditional model maps [PixelNorm(z), PixelNorm(embed(class))] (StyleGAN2-ADA's conditioning).
        self.embed = nn.Linear(config.num_classes, config.z_dim, bias=False) if config.num_classes else None
        self.z_norm = PixelNorm()
        layers: list[nn.Module] = [PixelNorm()]  # first, as in older files (state-dict indices stay put)
        dim = config.z_dim * (2 if self.embed is not None else 1)
        for _ in range(config.mapping_layers):
            layers += [nn.Linear(dim, config.w_dim), nn.LeakyReLU(0.2)]
            dim = config.w_dim
        self.mapping = nn.Sequential(*layers)
        c4 = config.channels(config.g_channels, 4)
        self.start = nn.Linear(config.w_dim, c4 * 16)
        self.start_norm = _g_norm(config.g_norm, c4)
        self.start_conv = nn.Conv2d(c4, c4, 3, padding=1)
        self.start_conv_norm = _g_norm(config.g_norm, c4)
        self.blocks = nn.ModuleList()
        res = 4
        while res < config.resolution:
            cin, cout = config.channels(config.g_channels, res), config.channels(config.g_channels, res * 2)
            w_dim = config.w_dim if config.modulate else 0
            self.blocks.append(UpBlock(cin, cout, double=res * 2 <= 16, norm=config.g_norm, w_dim=w_dim))
            res *= 2
        # Gate the last block with the features of the block three steps earlier (8 -> 64 at 64 px).
        self.sle_source = max(0, len(self.blocks) - 4)
        c_src = config.channels(config.g_channels, 4 * 2 ** (self.sle_source + 1))
        self.sle = SkipExcitation(c_src, config.channels(config.g_channels, config.resolution))
        self.to_rgb = nn.Conv2d(config.channels(config.g_channels, config.resolution), 3, 3, padding=1)
        self.apply(_variance_preserving_init)
        for module in self.modules():  # modulation starts as the identity: scale 1, shift 0
            if isinstance(module, Modulation):
                nn.init.zeros_(module.affine.weight)
                nn.init.zeros_(module.affine.bias)

    def map(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Noise (and class weights, for a conditional model) to the intermediate latent ``w``."""
        if self.embed is None:
            return self.mapping(z)
        if labels is None:
            raise ValueError("a class-conditional generator needs class labels")
        return self.mapping(torch.cat([self.z_norm(z), self.z_norm(self.embed(labels.to(z.dtype)))], dim=1))

    def synthesis(self, w: torch.Tensor) -> torch.Tensor:
        """Intermediate latent ``w`` to an image batch in [-1, 1]."""
        c4 = self.config.channels(self.config.g_channels, 4)
        x = F.leaky_relu(self.start_norm(self.start(w).view(w.shape[0], c4, 4, 4)), 0.2)
        x = F.leaky_relu(self.start_conv_norm(self.start_conv(x)), 0.2)
        source = x
        for i, block in enumerate(self.blocks):
            x = block(x, w)
            if i == self.sle_source:
                source = x
        x = self.sle(source, x)
        return torch.tanh(self.to_rgb(x))

    def forward(
        self,
        z: torch.Tensor,
        psi: float = 1.0,
        w_avg: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Sample images; ``psi`` < 1 pulls ``w`` towards ``w_avg`` (truncation; per class: (C, w_dim))."""
        w = self.map(z, labels)
        if w_avg is not None and psi != 1.0:
            centre = labels.to(w.dtype) @ w_avg if w_avg.dim() == 2 else w_avg
            w = centre + psi * (w - centre)
        return self.synthesis(w)


def _conv(norm: str, cin: int, cout: int, k: int, stride: int = 1, padding: int = 0) -> nn.Module:
    """A D convolution: spectral-normalised, or followed by BatchNorm (DCGAN)."""
    conv = nn.Conv2d(cin, cout, k, stride=stride, padding=padding, bias=norm != "batch")
    if norm == "spectral":
        return spectral_norm(conv)
    return nn.Sequential(conv, nn.BatchNorm2d(cout))


class DownBlock(nn.Module):
    """Strided 4x4 convolution (+ a 3x3 one at low resolution), normalised as the config says."""

    def __init__(self, cin: int, cout: int, double: bool = True, norm: str = "batch") -> None:
        super().__init__()
        self.conv = _conv(norm, cin, cout, 4, stride=2, padding=1)
        self.conv2 = _conv(norm, cout, cout, 3, padding=1) if double else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.leaky_relu(self.conv(x), 0.2)
        if self.conv2 is not None:
            x = F.leaky_relu(self.conv2(x), 0.2)
        return x


class Discriminator(nn.Module):
    """RGB -> strided blocks down to 4x4 -> one real/fake logit per image."""

    def __init__(self, config: GANConfig) -> None:
        super().__init__()
        config.check()
        first = nn.Conv2d(3, config.channels(config.d_channels, config.resolution), 3, padding=1)
        self.from_rgb = spectral_norm(first) if config.d_norm == "spectral" else first
        blocks = []
        res = config.resolution
        while res > 4:
            cin, cout = config.channels(config.d_channels, res), config.channels(config.d_channels, res // 2)
            blocks.append(DownBlock(cin, cout, double=res // 2 <= 16, norm=config.d_norm))
            res //= 2
        self.blocks = nn.Sequential(*blocks)
        c4 = config.channels(config.d_channels, 4)
        head = nn.Conv2d(c4, 1, 4)
        self.head = spectral_norm(head) if config.d_norm == "spectral" else head
        self.embed = None
        if config.num_classes:
            embed = nn.Linear(config.num_classes, c4, bias=False)
            self.embed = spectral_norm(embed) if config.d_norm == "spectral" else embed

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        x = F.leaky_relu(self.from_rgb(x), 0.2)
        h = self.blocks(x)
        logit = self.head(h).view(-1)
        if self.embed is not None:  # projection: how well the features match the claimed class
            logit = logit + (self.embed(labels.to(h.dtype)) * h.mean(dim=(2, 3))).sum(dim=1)
        return logit


def hinge_d_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """Discriminator hinge loss."""
    return F.relu(1.0 - real_logits).mean() + F.relu(1.0 + fake_logits).mean()


def hinge_g_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """Generator hinge loss."""
    return -fake_logits.mean()


@torch.no_grad()
def update_ema(ema: nn.Module, model: nn.Module, decay: float) -> None:
    """Exponential moving average of parameters (buffers are copied)."""
    for p_ema, p in zip(ema.parameters(), model.parameters()):
        p_ema.lerp_(p.detach(), 1.0 - decay)
    for b_ema, b in zip(ema.buffers(), model.buffers()):
        b_ema.copy_(b)


def standing_statistics(g: Generator, training_batch: int) -> None:
    """The BatchNorm statistics a saved GAN samples with (the same at save time and at load time)."""
    recalibrate_batchnorm(g, batches=4, batch=min(64, max(8, training_batch)))


@torch.no_grad()
def recalibrate_batchnorm(g: Generator, batches: int = 8, batch: int = 64, seed: int = 1) -> None:
    """Set BatchNorm running stats to exact averages over fixed noise ("standing statistics", BigGAN),
    so that eval-mode sampling (batch-independent, reproducible) matches the weights being sampled."""
    norms = [m for m in g.modules() if isinstance(m, nn.BatchNorm2d)]
    if not norms:
        return
    was_training = g.training
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # cumulative average
    gen = torch.Generator().manual_seed(seed)
    device = next(g.parameters()).device
    g.train()
    for _ in range(batches):
        z = torch.randn(batch, g.config.z_dim, generator=gen)
        labels = None
        if g.config.num_classes:
            labels = F.one_hot(torch.randint(g.config.num_classes, (batch,), generator=gen), g.config.num_classes)
            labels = labels.float().to(device)
        g(z.to(device), labels=labels)
    for m in norms:
        m.momentum = 0.1
    g.train(was_training)


@torch.no_grad()
def mean_latent(g: Generator, samples: int = 4096, seed: int = 0) -> torch.Tensor:
    """The average ``w`` over ``samples`` noise vectors (the truncation centre), deterministic.

    A conditional model gets one centre per class, (C, w_dim), so truncation keeps the class."""
    gen = torch.Generator().manual_seed(seed)
    device = next(g.parameters()).device
    z = torch.randn(samples, g.config.z_dim, generator=gen).to(device)
    if not g.config.num_classes:
        return g.map(z).mean(dim=0)
    eye = torch.eye(g.config.num_classes, device=device)
    return torch.stack([g.map(z, eye[c].expand(samples, -1)).mean(dim=0) for c in range(g.config.num_classes)])


def parameter_count(module: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in module.parameters())


def log2(n: int) -> int:
    """Integer log2 (resolution bookkeeping)."""
    return int(math.log2(n))
