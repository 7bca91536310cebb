"""Engine jobs of the music studio: generate, continue, infill, VAE sample/interpolate/variations.

Torch is imported inside ``run`` so that the GUI can import this module
without loading torch. Results are plain songs (fragments holding only the
new notes, aligned with the document's tracks).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from aigc_studio.core.events import GeneratedMusic
from aigc_studio.core.seeds import job_seed
from aigc_studio.errors import InputError
from aigc_studio.music.song import Song

TRANSFORMER, VAE = "music-transformer", "music-vae"
VAE_DECODE_CHUNK = 64  # phrases per MusicVAE decode call in Variations


@dataclass
class SamplingOptions:
    """Knobs shared by the music jobs."""

    temperature: float = 1.0
    top_k: int = 0
    top_p: float = 0.95
    use_cache: bool = True


def _name(path: str | Path) -> str:
    """The model's file name, for the result (which model made these notes)."""
    return Path(path).name


def model_kind(path: str | Path) -> str:
    """The kind of a music model file."""
    from aigc_studio.core.modelfile import read_card

    return read_card(path, (TRANSFORMER, VAE)).kind


def _load(ctx, path: str | Path):
    kind = model_kind(path)
    if kind == TRANSFORMER:
        from aigc_studio.music.event_model import load_music_transformer

        return kind, ctx.models.get(path, ctx.device, load_music_transformer)
    from aigc_studio.music.vae import load_music_vae

    return kind, ctx.models.get(path, ctx.device, load_music_vae)


def _guarded(ctx, what: str, attempt):
    """Run ``attempt()`` with Cancel checked between a VAE's steps; out of memory retries once, then tells the user.

    A retry runs from the start with the same seed, so its result is the one an
    uninterrupted run gives; after a GPU runs out, the retry runs on the CPU.
    """
    import torch

    from aigc_studio.core.oom import free_device_memory, is_out_of_memory
    from aigc_studio.errors import StudioError

    for retry in (False, True):
        try:
            return attempt()
        except Exception as exc:
            if not is_out_of_memory(exc):
                raise
            free_device_memory(ctx.device)
            if retry:
                raise StudioError(f"Out of memory while {what}. Ask for fewer bars or phrases, or pick a smaller "
                                  "model.") from exc
            if ctx.device.type != "cpu":
                ctx.log(f"Out of memory on the {ctx.device.type.upper()} while {what}: trying again on the CPU.")
                ctx.device = torch.device("cpu")
            else:
                ctx.log(f"Out of memory while {what}: freed memory and trying again.")
    raise AssertionError("unreachable")


def _steps_checked(ctx, model):
    """Cancel checks between a MusicVAE's decoder steps (a long batch is one call)."""
    from aigc_studio.core.jobs import cancel_between_layers

    return cancel_between_layers(model, ctx.check_cancelled)


def _settings(options: SamplingOptions, bars: int):
    from aigc_studio.nn.sampling import SamplingSettings

    return SamplingSettings(temperature=options.temperature, top_k=options.top_k, top_p=options.top_p,
                            max_new_tokens=bars * 120)


def _token_reporter(ctx, bars: int):
    """Progress from the BAR tokens the model writes (each one starts a new bar)."""
    from aigc_studio.music.tokenizer import SPECIALS

    bar_token = SPECIALS.index("BAR")
    state = {"n": 0, "bars": 0, "last": 0.0}

    def on_token(token: int) -> None:
        state["n"] += 1
        state["bars"] += token == bar_token
        now = time.monotonic()
        if now - state["last"] > 0.1:
            state["last"] = now
            done = min(state["bars"], bars)
            ctx.progress(done / bars if bars else None, f"bar {done} of {bars} · {state['n']} tokens")

    return on_token, state


@dataclass
class GenerateMusicJob:
    """New bars from nothing, or a continuation of ``prime`` at its end or at ``at_bar``."""

    model: str
    bars: int = 8
    prime: Song | None = None
    at_bar: int | None = None
    options: SamplingOptions = field(default_factory=SamplingOptions)
    seed: int | None = None  # None: the engine's seed for this job, else one drawn once when it starts
    title: str = "Generate music"

    def run(self, ctx) -> GeneratedMusic:
        """Write the bars (retried once after running out of memory, with the same seed)."""
        if not 1 <= self.bars <= 256:
            raise InputError("Bars must be between 1 and 256.")
        self.seed = job_seed(self.seed, ctx)
        return _guarded(ctx, f"writing {self.bars} bars", lambda: self._run(ctx))

    def _run(self, ctx) -> GeneratedMusic:
        started = time.monotonic()
        kind, model = _load(ctx, self.model)
        gen = ctx.generator(self.seed)
        if kind == VAE:
            with _steps_checked(ctx, model):
                fragment, first = _vae_phrases(model, self.bars, self.options.temperature, gen, self.prime,
                                               self.at_bar)
            return GeneratedMusic(fragment, self.seed, _name(self.model), time.monotonic() - started,
                                  details={"first_bar": first, "bars": self.bars, "tokens": 0})
        on_token, state = _token_reporter(ctx, self.bars)
        fragment, first = model.generate(self.bars, _settings(self.options, self.bars), gen, prime=self.prime,
                                         at_bar=self.at_bar, use_cache=self.options.use_cache, on_token=on_token)
        _note_cut_prime(ctx, model, self.prime)
        return GeneratedMusic(fragment, self.seed, _name(self.model), time.monotonic() - started,
                              details={"first_bar": first, "bars": self.bars, "tokens": state["n"]})


@dataclass
class InfillMusicJob:
    """Regenerate bars [first_bar, last_bar) of ``song`` in the context around them."""

    model: str
    song: Song
    first_bar: int
    last_bar: int
    options: SamplingOptions = field(default_factory=SamplingOptions)
    seed: int | None = None  # None: the engine's seed for this job, else one drawn once when it starts
    title: str = "Regenerate selection"

    def run(self, ctx) -> GeneratedMusic:
        """Regenerate the bars (retried once after running out of memory, with the same seed)."""
        self.seed = job_seed(self.seed, ctx)
        return _guarded(ctx, "regenerating the selection", lambda: self._run(ctx))

    def _run(self, ctx) -> GeneratedMusic:
        kind, model = _load(ctx, self.model)
        if kind != TRANSFORMER:
            raise InputError("Regenerating a selection needs a music-transformer model, not a MusicVAE.")
        on_token, state = _token_reporter(ctx, self.last_bar - self.first_bar)
        fragment = model.infill(self.song, self.first_bar, self.last_bar,
                                _settings(self.options, self.last_bar - self.first_bar), ctx.generator(self.seed),
                                use_cache=self.options.use_cache, on_token=on_token)
        _note_cut_prime(ctx, model, self.song)
        return GeneratedMusic(fragment, self.seed, _name(self.model),
                              details={"first_bar": self.first_bar, "last_bar": self.last_bar, "tokens": state["n"]})


def _note_cut_prime(ctx, model, prime: Song | None) -> None:
    """Say so when the music before the new bars was longer than the model's context could hold."""
    used, before = getattr(model, "prefix_bars", (0, 0))
    if prime is not None and prime.note_count and used < before:
        ctx.log(f"note: {before} bars come before the new ones; the model's context holds the last {used}, "
                "so the music before them was not used.")


def _vae_phrases(model, bars: int, temperature: float, gen, template: Song | None, at_bar: int | None):
    import torch


    c = model.config
    count = max(1, -(-bars // c.bars))
    z = torch.randn((count, c.latent), generator=gen).to(next(model.parameters()).device)
    phrases = model.decode(z, temperature=max(0.0, temperature - 0.5), generator=gen).tolist()
    return _place(phrases, c, template, at_bar), (at_bar if at_bar is not None else (template.bars if template and template.note_count else 0))


def _place(phrases, config, template: Song | None, at_bar: int | None) -> Song:
    """Phrases as a fragment for ``template`` (first track), starting at ``at_bar`` or its end."""
    from aigc_studio.music.song import Track
    from aigc_studio.music.vae import melody_to_notes

    song = template.copy() if template is not None else Song()
    for t in song.tracks:
        t.notes = []
    if not song.tracks:
        song.tracks.append(Track("Melody", 0, 0, []))
    first = at_bar if at_bar is not None else (template.bars if template is not None and template.note_count else 0)
    phrase_ticks = config.steps * song.ticks_per_beat // config.steps_per_beat
    target = next((t for t in song.tracks if not t.is_drum), song.tracks[0])
    for i, phrase in enumerate(phrases):
        target.notes += melody_to_notes(phrase, first * song.bar_ticks + i * phrase_ticks, song.ticks_per_beat, config)
    return song


@dataclass
class InterpolateMusicJob:
    """``steps`` phrases morphing from the phrase at ``bar_a`` to the one at ``bar_b`` (MusicVAE)."""

    model: str
    song: Song
    bar_a: int
    bar_b: int
    steps: int = 5
    at_bar: int | None = None
    title: str = "Interpolate"

    def run(self, ctx) -> GeneratedMusic:
        """Morph between the two phrases (retried once after running out of memory)."""
        return _guarded(ctx, "interpolating", lambda: self._run(ctx))

    def _run(self, ctx) -> GeneratedMusic:
        from aigc_studio.music.vae import interpolate, song_to_melody

        kind, model = _load(ctx, self.model)
        if kind != VAE:
            raise InputError("Interpolation needs a music-vae model; pick one in the model list.")
        if not 2 <= self.steps <= 32:
            raise InputError("Interpolate between 2 and 32 phrases.")
        a = song_to_melody(self.song, self.bar_a, model.config)
        b = song_to_melody(self.song, self.bar_b, model.config)
        if all(e >= 128 for e in a) or all(e >= 128 for e in b):
            raise InputError("Both phrases need notes: select two bar ranges that are not empty.")
        with _steps_checked(ctx, model):
            phrases = interpolate(model, a, b, self.steps)
        fragment = _place(phrases, model.config, self.song, self.at_bar)
        first = self.at_bar if self.at_bar is not None else self.song.bars
        return GeneratedMusic(fragment, None, _name(self.model),
                              details={"first_bar": first, "bars": self.steps * model.config.bars})


@dataclass
class VariationsJob:
    """``count`` variations of the phrase at ``bar`` (MusicVAE: latent plus noise; transformer: re-infill)."""

    model: str
    song: Song
    bar: int
    count: int = 4
    amount: float = 0.5
    options: SamplingOptions = field(default_factory=SamplingOptions)
    seed: int | None = None  # None: the engine's seed for this job, else one drawn once when it starts
    title: str = "Variations"

    def run(self, ctx) -> GeneratedMusic:
        """Write the variations (retried once after running out of memory, with the same seed)."""
        self.seed = job_seed(self.seed, ctx)
        return _guarded(ctx, "writing variations", lambda: self._run(ctx))

    def _run(self, ctx) -> GeneratedMusic:
        import torch

        kind, model = _load(ctx, self.model)
        gen = ctx.generator(self.seed)
        if kind == VAE:
            from aigc_studio.music.vae import song_to_melody

            events = song_to_melody(self.song, self.bar, model.config)
            with torch.no_grad(), _steps_checked(ctx, model):
                mu, _ = model.encode(torch.tensor([events], device=next(model.parameters()).device))
                z = mu + self.amount * torch.randn((self.count, mu.shape[1]), generator=gen).to(mu.device)
                # Greedy decoding treats each phrase alone, so chunks give the same phrases (and Cancel lands).
                phrases = []
                for start in range(0, self.count, VAE_DECODE_CHUNK):
                    ctx.progress(start / self.count, f"variation {start + 1} of {self.count}")
                    phrases += model.decode(z[start : start + VAE_DECODE_CHUNK]).tolist()
            fragment = _place(phrases, model.config, self.song, None)
            return GeneratedMusic(fragment, self.seed, _name(self.model),
                                  details={"first_bar": self.song.bars, "bars": self.count * model.config.bars})
        # Transformer: copies of the bars, each regenerated in the context of the original.
        fragment = self.song.copy()
        for t in fragment.tracks:
            t.notes = []
        start_bar = self.song.bars
        for i in range(self.count):
            ctx.progress(i / self.count, f"variation {i + 1} of {self.count}")
            part = model.infill(self.song, self.bar, self.bar + 2, _settings(self.options, 2), gen,
                                use_cache=self.options.use_cache, on_token=lambda _token: ctx.check_cancelled())
            shift = (start_bar + 2 * i - self.bar) * self.song.bar_ticks
            for index, track in enumerate(part.tracks):
                while index >= len(fragment.tracks):
                    fragment.tracks.append(track.__class__(track.name, track.program, track.channel, []))
                fragment.tracks[index].notes += [n.__class__(n.pitch, n.start + shift, n.duration, n.velocity, True)
                                                 for n in track.notes]
        return GeneratedMusic(fragment, self.seed, _name(self.model),
                              details={"first_bar": start_bar, "bars": 2 * self.count})
