"""Small model files and jobs made long by their size, for the cancel and soak tests (and benchmarks).

Models are tiny so that building them is quick; a job is long because it asks
for many pictures, tokens, bars or steps. Each catalogue entry builds its job
in a folder and says which files must not be left half-written.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

TEXT = (
    "It was a bright cold day in April, and the clocks were striking thirteen. "
    "The garden was quiet and the rain had stopped. A small dog ran across the road. "
    "She opened the old book and read the first page aloud. The wind moved the tall grass.\n"
)


def gan_file(path: Path, resolution: int = 32, size: str | None = None) -> Path:
    """An untrained image GAN: tiny, or a size preset ("medium" at 256 px takes ~0.2 s a picture on one core)."""
    import torch

    from aigc_studio.core.modelfile import save_model
    from aigc_studio.image.gan import GANConfig, Generator, mean_latent
    from aigc_studio.image.model import card_for, gan_tensors

    torch.manual_seed(0)
    from aigc_studio.image.gan import SIZE_PRESETS

    tiny = dict(z_dim=16, w_dim=32, g_channels=8, d_channels=8, max_channels=32)
    config = GANConfig(resolution=resolution, **(SIZE_PRESETS[size] if size else tiny))
    g = Generator(config).eval()
    save_model(path, gan_tensors(g, mean_latent(g, 256)), card_for("image-gan", config, name=path.stem, untrained=True))
    return path


def image_vae_file(path: Path, resolution: int = 32) -> Path:
    """A tiny untrained image VAE."""
    import torch

    from aigc_studio.core.modelfile import save_model
    from aigc_studio.image.model import card_for, vae_tensors
    from aigc_studio.image.vae import ConvVAE, VAEConfig

    torch.manual_seed(0)
    config = VAEConfig(resolution=resolution, latent_dim=8, channels=8, max_channels=32)
    save_model(path, vae_tensors(ConvVAE(config)), card_for("image-vae", config, name=path.stem, untrained=True))
    return path


def gpt_file(path: Path, context: int = 64) -> Path:
    """A tiny untrained char-level GPT."""
    import torch

    from aigc_studio.core.modelfile import ModelCard
    from aigc_studio.nn.transformer import TransformerConfig
    from aigc_studio.text.gpt import new_gpt_model, save_gpt
    from aigc_studio.text.tokenizer import CharTokenizer

    torch.manual_seed(0)
    tokenizer = CharTokenizer.train(TEXT)
    config = TransformerConfig(vocab_size=tokenizer.vocab_size, context=context, layers=2, heads=2, width=32)
    save_gpt(path, new_gpt_model(config), tokenizer, ModelCard("text-gpt", {}, name=path.stem, untrained=True))
    return path


def sentence_vae_file(path: Path) -> Path:
    """A tiny untrained sentence VAE over the words of TEXT."""
    import torch

    from aigc_studio.core.modelfile import ModelCard, save_model
    from aigc_studio.text.vae import SentenceVAE, VAEConfig, WordVocab, split_sentences, vae_card_fields, vae_tensors

    torch.manual_seed(0)
    vocab = WordVocab.build(split_sentences(TEXT), 200)
    model = SentenceVAE(VAEConfig(vocab.size, embed=16, hidden=32, latent=8, max_len=24))
    save_model(path, vae_tensors(model), ModelCard("text-vae", **vae_card_fields(model, vocab), name=path.stem))
    return path


def music_transformer_file(path: Path, context: int = 256, width: int = 32) -> Path:
    """A tiny untrained music transformer."""
    from dataclasses import asdict

    import torch

    from aigc_studio.core.modelfile import ModelCard, save_model
    from aigc_studio.music.event_model import model_tensors, new_music_transformer
    from aigc_studio.music.tokenizer import MusicTokenizer

    torch.manual_seed(0)
    mt = new_music_transformer(MusicTokenizer(), layers=2, heads=2, width=width, context=context)
    card = ModelCard("music-transformer", asdict(mt.model.config), name=path.stem, tokenizer=mt.tok.to_card(),
                     untrained=True)
    save_model(path, model_tensors(mt.model), card)
    return path


def music_vae_file(path: Path, hidden: int = 32) -> Path:
    """A tiny untrained MusicVAE."""
    import torch

    from aigc_studio.core.modelfile import save_model
    from aigc_studio.music.vae import MusicVAE, MusicVAEConfig, vae_card

    torch.manual_seed(0)
    model = MusicVAE(MusicVAEConfig(hidden=hidden, latent=8, embed=16))
    save_model(path, model.state_dict(), vae_card(model, name=path.stem, untrained=True))
    return path


def melody_song(bars: int = 16, shift: int = 0):
    """A song of ``bars`` bars: a scale melody and a bass line (moved up ``shift`` semitones)."""
    from aigc_studio.music.song import Note, Song, TempoChange, Track

    scale = [60, 62, 64, 65, 67, 69, 71, 72]
    song = Song(ticks_per_beat=480, tempos=[TempoChange(0, 500_000)])
    song.tracks = [
        Track("Melody", 0, 0, [Note(scale[i % 8] + shift, i * 480, 480, 80) for i in range(bars * 4)]),
        Track("Bass", 32, 1, [Note(48 + (i % 3) + shift, i * 1920, 1920, 90) for i in range(bars)]),
    ]
    return song


def image_folder(folder: Path, count: int = 12) -> Path:
    """``count`` small random PNGs."""
    import numpy as np
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for i in range(count):
        Image.fromarray(rng.integers(0, 255, (40, 40, 3), dtype=np.uint8)).save(folder / f"p{i}.png")
    return folder


def midi_folder(folder: Path, count: int = 6) -> Path:
    """``count`` MIDI files of the melody song, each transposed."""
    from aigc_studio.music.midi_io import write_midi

    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        write_midi(melody_song(8, shift=i), folder / f"song{i}.mid")
    return folder


@dataclass
class LongJob:
    """A job built in a folder, the files it writes, and a small job of the same studio to run after it."""

    job: Any
    follow_up: Any = None  # must succeed after the long job is cancelled (caches and models still work)
    outputs: list[Path] = field(default_factory=list)
    checkpoint_kind: str | None = None  # a training job: its output must be a whole resumable checkpoint or absent


# Jobs that cannot be made long: even their largest settings finish in well under a second.
SHORT_JOBS = ("image: encode picture (VAE)", "music: regenerate range", "music: interpolate (VAE)")


def _image(folder: Path, heavy: bool) -> dict[str, Any]:
    from aigc_studio.image.jobs import (
        EncodeImageJob,
        GenerateImagesJob,
        InterpolateJob,
        MixJob,
        RenderLatentsJob,
        TrainImageJob,
        VariationsJob,
    )
    from aigc_studio.image.settings import ImageTrainSettings

    # heavy: the biggest GAN the Train dialog makes (one convolution of a chunk of 8 pictures takes ~0.6 s
    # on one core); otherwise 128 px, where one chunk still takes ~0.4 s.
    gan = gan_file(folder / "gan.safetensors", resolution=256 if heavy else 128, size="medium")
    vae = image_vae_file(folder / "vae.safetensors")
    a, b = [0.5] * 128, [-0.5] * 128
    big = folder / "big.png"

    def long(job: Any, **kw: Any) -> LongJob:
        return LongJob(job, GenerateImagesJob(str(gan), count=2, seed=3), **kw)

    def encode() -> LongJob:
        import numpy as np
        from PIL import Image

        # A huge photo: reading and shrinking it is the slow part.
        Image.fromarray(np.random.default_rng(1).integers(0, 255, (4000, 6000, 3), dtype=np.uint8)).save(big)
        return long(EncodeImageJob(str(vae), str(big)))

    def train(kind: str) -> Callable[[], LongJob]:
        def build() -> LongJob:
            out = folder / f"{kind}.safetensors"
            settings = ImageTrainSettings(data=str(image_folder(folder / "images")), out=str(out), kind=kind,
                                          resolution=32, size="tiny", steps=100_000, batch_size=8, checkpoint_every=50,
                                          sample_every=25, loss_every=1)
            return long(TrainImageJob(settings), outputs=[out], checkpoint_kind=kind)

        return build

    return {
        "image: generate grid": lambda: long(GenerateImagesJob(str(gan), count=1024, seed=1)),
        "image: variations": lambda: long(VariationsJob(str(gan), a, strength=0.3, count=4096, seed=1)),
        "image: interpolate": lambda: long(InterpolateJob(str(gan), a, b, frames=512)),
        "image: mix": lambda: long(MixJob(str(gan), a, b, count=1024, seed=1)),
        "image: draw latents (restore)": lambda: long(RenderLatentsJob(str(gan), [a, b] * 512)),
        "image: encode picture (VAE)": encode,
        "image: train GAN": train("image-gan"),
        "image: train VAE": train("image-vae"),
    }


def _text(folder: Path, heavy: bool) -> dict[str, Any]:
    from aigc_studio.text.jobs import BlendSentencesJob, GenerateTextJob, NeighboursJob, TrainGPTJob, TrainVAEJob

    gpt = gpt_file(folder / "gpt.safetensors")
    vae = sentence_vae_file(folder / "svae.safetensors")
    corpus = folder / "corpus.txt"
    corpus.write_text(TEXT * 40, encoding="utf-8")

    def long(job: Any, **kw: Any) -> LongJob:
        return LongJob(job, GenerateTextJob(str(gpt), "The garden", max_new_tokens=8, seed=2), **kw)

    def train_gpt() -> LongJob:
        out = folder / "trained-gpt.safetensors"
        settings = dict(data=[str(corpus)], out=str(out), steps=100_000, layers=1, heads=2, width=32, context=32,
                        batch_size=8, eval_every=50, eval_batches=2, sample_every=100, sample_tokens=50,
                        checkpoint_every=100, tokenizer="char")
        return long(TrainGPTJob(settings), outputs=[out], checkpoint_kind="text-gpt")

    def train_vae() -> LongJob:
        out = folder / "trained-svae.safetensors"
        settings = dict(data=[str(corpus)], out=str(out), steps=100_000, embed=16, hidden=32, latent=8,
                        batch_size=8, sample_every=100, checkpoint_every=100)
        return long(TrainVAEJob(settings), outputs=[out], checkpoint_kind="text-vae")

    first, second = "The garden was quiet.", "She opened the old book."
    return {
        "text: generate (own GPT)": lambda: long(GenerateTextJob(str(gpt), TEXT * 3, max_new_tokens=100_000, seed=1)),
        "text: sentence VAE blend": lambda: long(BlendSentencesJob(str(vae), first, second, steps=100_000)),
        "text: sentence VAE neighbours": lambda: long(NeighboursJob(str(vae), first, count=100_000, seed=1)),
        "text: train GPT": train_gpt,
        "text: train VAE": train_vae,
    }


def _music(folder: Path, heavy: bool) -> dict[str, Any]:
    from aigc_studio.music.jobs import GenerateMusicJob, InfillMusicJob, InterpolateMusicJob, VariationsJob
    from aigc_studio.music.training import TrainMusicJob, train_settings_for

    transformer = music_transformer_file(folder / "mt.safetensors", context=2048, width=64)
    vae = music_vae_file(folder / "mvae.safetensors", hidden=512)
    song = melody_song(64)
    midis = midi_folder(folder / "midi")

    def long(job: Any, **kw: Any) -> LongJob:
        return LongJob(job, GenerateMusicJob(str(transformer), bars=1), **kw)

    def train(kind: str) -> Callable[[], LongJob]:
        def build() -> LongJob:
            out = folder / f"trained-{kind}.safetensors"
            settings = train_settings_for(kind, data=[str(midis)], out=str(out), steps=100_000, eval_every=50,
                                          checkpoint_every=50, layers=1, heads=2, width=32, context=64, hidden=32,
                                          latent=8, batch_size=4)
            return long(TrainMusicJob(settings), outputs=[out], checkpoint_kind=kind)

        return build

    return {
        "music: generate": lambda: long(GenerateMusicJob(str(transformer), bars=256)),
        "music: continue": lambda: long(GenerateMusicJob(str(transformer), bars=256, prime=song)),
        "music: regenerate range": lambda: long(InfillMusicJob(str(transformer), song, 8, 60)),
        "music: interpolate (VAE)": lambda: long(InterpolateMusicJob(str(vae), song, 0, 8, steps=32)),
        "music: variations (VAE)": lambda: long(VariationsJob(str(vae), song, 0, count=20_000)),
        "music: variations (transformer)": lambda: long(VariationsJob(str(transformer), song, 4, count=200)),
        "music: train transformer": train("music-transformer"),
        "music: train VAE": train("music-vae"),
    }


JOB_NAMES = (
    "image: generate grid", "image: variations", "image: interpolate", "image: mix", "image: draw latents (restore)",
    "image: encode picture (VAE)",
    "image: train GAN", "image: train VAE",
    "text: generate (own GPT)", "text: sentence VAE blend", "text: sentence VAE neighbours", "text: train GPT",
    "text: train VAE",
    "music: generate", "music: continue", "music: regenerate range", "music: interpolate (VAE)",
    "music: variations (VAE)", "music: variations (transformer)", "music: train transformer", "music: train VAE",
)


def catalogue(folder: Path, heavy: bool = False) -> dict[str, Callable[[], LongJob]]:
    """Every long engine job by name (JOB_NAMES); the models are built here, a job on call.

    ``heavy`` uses the biggest image GAN (256 px medium) instead of 128 px medium.
    """
    jobs: dict[str, Callable[[], LongJob]] = {}
    for studio in (_image, _text, _music):
        sub = folder / studio.__name__.strip("_")
        sub.mkdir(parents=True, exist_ok=True)
        jobs.update(studio(sub, heavy))
    assert tuple(jobs) == JOB_NAMES
    return jobs
