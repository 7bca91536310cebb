"""A MusicVAE-style model over 2-bar melodies on a sixteenth-note grid.

Each step is one of 130 events: a note onset (pitch 0..127), HOLD or REST.
A bidirectional LSTM encodes the phrase to a Gaussian latent; a GRU decoder
conditioned on the latent writes it back. Interpolating latents gives phrases
that morph from one melody to another.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from aigc_studio.core.modelfile import ModelCard, load_into, load_model
from aigc_studio.core.statefile import model_only
from aigc_studio.music.song import DRUM_CHANNEL, Note, Song, Track

KIND = "music-vae"
HOLD, REST, EVENTS = 128, 129, 130


@dataclass
class MusicVAEConfig:
    """Architecture of a :class:`MusicVAE` (saved in the model card)."""

    bars: int = 2
    steps_per_beat: int = 4
    beats_per_bar: int = 4
    embed: int = 64
    hidden: int = 256
    latent: int = 32

    @property
    def steps(self) -> int:
        """Grid steps in one phrase."""
        return self.bars * self.beats_per_bar * self.steps_per_beat


class MusicVAE(nn.Module):
    """Bi-LSTM encoder, Gaussian latent, GRU decoder over melody events."""

    def __init__(self, config: MusicVAEConfig) -> None:
        super().__init__()
        self.config = c = config
        self.embed = nn.Embedding(EVENTS + 1, c.embed)  # last id = start symbol
        self.encoder = nn.LSTM(c.embed, c.hidden, batch_first=True, bidirectional=True)
        self.to_mu = nn.Linear(2 * c.hidden, c.latent)
        self.to_logvar = nn.Linear(2 * c.hidden, c.latent)
        self.z_to_hidden = nn.Linear(c.latent, c.hidden)
        self.decoder = nn.GRU(c.embed + c.latent, c.hidden, batch_first=True)
        self.head = nn.Linear(c.hidden, EVENTS)

    def encode(self, events: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Events [batch, steps] to latent mean and log-variance."""
        _, (h, _) = self.encoder(self.embed(events))
        h = torch.cat([h[0], h[1]], dim=-1)
        return self.to_mu(h), self.to_logvar(h).clamp(-10, 10)

    def _start(self, batch: int, device) -> torch.Tensor:
        return torch.full((batch, 1), EVENTS, dtype=torch.long, device=device)

    def decode_logits(self, z: torch.Tensor, events: torch.Tensor) -> torch.Tensor:
        """Teacher-forced logits [batch, steps, EVENTS]."""
        inputs = torch.cat([self._start(len(z), z.device), events[:, :-1]], dim=1)
        x = torch.cat([self.embed(inputs), z.unsqueeze(1).expand(-1, inputs.shape[1], -1)], dim=-1)
        out, _ = self.decoder(x, torch.tanh(self.z_to_hidden(z)).unsqueeze(0))
        return self.head(out)

    def loss(self, events: torch.Tensor, generator: torch.Generator | None = None, beta: float = 1.0,
             free_bits: float = 0.1) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(total, reconstruction nats per step, KL per phrase) for a batch."""
        mu, logvar = self.encode(events)
        noise = torch.randn(mu.shape, generator=generator).to(mu.device)
        z = mu + noise * torch.exp(0.5 * logvar)
        logits = self.decode_logits(z, events)
        recon = F.cross_entropy(logits.reshape(-1, EVENTS), events.reshape(-1))
        kl_dims = 0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar).mean(0)
        kl = kl_dims.sum()
        # Free bits: no pressure below a small KL per dimension, so the latent is used.
        kl_term = torch.clamp(kl_dims, min=free_bits).sum() / self.config.steps
        return recon + beta * kl_term, recon, kl

    @torch.no_grad()
    def decode(self, z: torch.Tensor, temperature: float = 0.0, generator: torch.Generator | None = None) -> torch.Tensor:
        """Latents [batch, latent] to events [batch, steps] (greedy when temperature is 0)."""
        self.eval()
        batch = len(z)
        h = torch.tanh(self.z_to_hidden(z)).unsqueeze(0)
        token = self._start(batch, z.device)
        out = []
        for step in range(self.config.steps):
            x = torch.cat([self.embed(token), z.unsqueeze(1)], dim=-1)
            y, h = self.decoder(x, h)
            logits = self.head(y[:, -1]).float()
            if step == 0:
                logits[:, HOLD] = float("-inf")  # a phrase cannot start by holding nothing
            if temperature <= 0:
                token = logits.argmax(-1, keepdim=True)
            else:
                probs = torch.softmax(logits / temperature, dim=-1).cpu()
                token = torch.multinomial(probs, 1, generator=generator).to(z.device)
            out.append(token)
        return torch.cat(out, dim=1)


def song_to_melody(song: Song, first_bar: int, config: MusicVAEConfig) -> list[int]:
    """The top line of ``song`` from ``first_bar`` as phrase events (highest sounding note wins)."""
    step_ticks = song.ticks_per_beat / config.steps_per_beat
    start = first_bar * song.bar_ticks
    events = [REST] * config.steps
    owner = [(-1, -1)] * config.steps  # (pitch, onset step) holding each step
    for track in song.tracks:
        if track.channel == DRUM_CHANNEL:
            continue
        for n in track.notes:
            a = int(round((n.start - start) / step_ticks))
            b = max(a + 1, int(round((n.end - start) / step_ticks)))
            if b <= 0 or a >= config.steps:
                continue
            for s in range(max(0, a), min(config.steps, b)):
                if n.pitch > owner[s][0]:
                    owner[s] = (n.pitch, max(0, a))
    for s, (pitch, onset) in enumerate(owner):
        if pitch >= 0:
            events[s] = pitch if (s == onset or s == 0 or owner[s - 1] != owner[s]) else HOLD
    return events


def melody_to_notes(events: list[int], start_tick: int, ticks_per_beat: int, config: MusicVAEConfig,
                    velocity: int = 90) -> list[Note]:
    """Phrase events back to notes starting at ``start_tick``."""
    step_ticks = ticks_per_beat / config.steps_per_beat
    notes: list[Note] = []
    current: list | None = None
    for s, e in enumerate(list(events) + [REST]):
        e = int(e)
        if e == HOLD and current is not None:
            current[2] += 1
            continue
        if current is not None:
            notes.append(Note(current[0], start_tick + int(round(current[1] * step_ticks)),
                              max(1, int(round(current[2] * step_ticks))), velocity, generated=True))
            current = None
        if e < 128:
            current = [e, s, 1]
    return notes


def phrases_to_song(phrases: list[list[int]], config: MusicVAEConfig, program: int = 0, tempo_song: Song | None = None) -> Song:
    """Several phrases one after another in one track."""
    song = tempo_song.copy() if tempo_song is not None else Song()
    song.tracks = [Track("Melody", program, 0, [])]
    for i, phrase in enumerate(phrases):
        song.tracks[0].notes += melody_to_notes(phrase, i * config.steps * song.ticks_per_beat // config.steps_per_beat,
                                                song.ticks_per_beat, config)
    return song


def slerp(a: torch.Tensor, b: torch.Tensor, t: float) -> torch.Tensor:
    """Spherical interpolation between latents (keeps the norm typical of the prior)."""
    cos = torch.clamp((a * b).sum() / (a.norm() * b.norm() + 1e-8), -1.0, 1.0)
    omega = torch.arccos(cos)
    if omega.abs() < 1e-4:
        return (1 - t) * a + t * b
    return (torch.sin((1 - t) * omega) * a + torch.sin(t * omega) * b) / torch.sin(omega)


def interpolate(model: MusicVAE, first: list[int], second: list[int], steps: int) -> list[list[int]]:
    """``steps`` phrases from ``first`` to ``second`` (both ends included, decoded greedily; one step: the middle)."""
    model.eval()
    with torch.no_grad():
        mu, _ = model.encode(torch.tensor([first, second], device=next(model.parameters()).device))
        zs = torch.stack([slerp(mu[0], mu[1], i / (steps - 1) if steps > 1 else 0.5) for i in range(steps)])
        return model.decode(zs).tolist()


def vae_card(model: MusicVAE, **fields) -> ModelCard:
    """A model card for ``model``."""
    return ModelCard(kind=KIND, config=asdict(model.config), **fields)


def load_music_vae(path: str | Path, device: torch.device | str = "cpu") -> MusicVAE:
    """Load a music-vae file (checkpoints work too)."""
    card, tensors = load_model(path, KIND)
    model = MusicVAE(MusicVAEConfig(**card.config))
    load_into(model, {k: v.float() for k, v in model_only(tensors).items()}, path)
    model.card = card
    return model.to(device).eval()
