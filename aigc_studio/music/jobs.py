"""Engine jobs of the music studio: generate, continue, infill, VAE sample/interpolate/variations.

Torch is imported inside ``run`` so that the GUI can import this module
without loading torch. Results are typed records: GeneratedMusic (a fragment
holding only the new notes, aligned with the document's tracks) and, from
Variations, MusicVariations (several alternative fragments of the same bars).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from aigc_studio.core.events import GeneratedMusic, MusicVariations
from aigc_studio.core.seeds import job_seed
from aigc_studio.errors import InputError, StudioError
from aigc_studio.music.constraints import DecodeLimits, Key, fragment_problems, snap_to_scale
from aigc_studio.music.song import Song

TRANSFORMER, VAE = "music-transformer", "music-vae"
VAE_DECODE_CHUNK = 64  # phrases per MusicVAE decode call in Variations
ATTEMPTS = 3  # a fragment that fails the validity check is sampled again, at most this often


@dataclass
class SamplingOptions:
    """Knobs shared by the music jobs."""

    temperature: float = 1.0
    top_k: int = 0
    top_p: float = 0.95
    use_cache: bool = True


@dataclass(frozen=True)
class MusicRequest:
    """What the musician asks of the notes: a key to lock to, the instruments to write (GM programs, 128 = drums)."""

    key: Key | None = None
    instruments: frozenset[int] | None = None


def sampling_defaults(card) -> SamplingOptions:
    """The sampling settings a model's card recommends (the starter chorale model stays in key with them)."""
    data = dict((card.extra or {}).get("sampling") or {}) if card is not None else {}
    return SamplingOptions(
        float(data.get("temperature", 1.0)), int(data.get("top_k", 0)), float(data.get("top_p", 0.95))
    )


def trained_programs(card) -> frozenset[int] | None:
    """The programs (128 = drums) a music model may write, from its card; None when it does not say."""
    programs = ((card.extra or {}).get("limits") or {}).get("programs") if card is not None else None
    return frozenset(int(p) for p in programs) if programs is not None else None


def _limits(model, request: MusicRequest) -> DecodeLimits:
    """The decoder's limits for ``model`` (its card) and the user's request; InputError if nothing is left."""
    card = getattr(model, "card", None)
    limits = DecodeLimits.from_card(card, request.key, request.instruments)
    if request.instruments is not None and not limits.programs:
        from aigc_studio.music.constraints import describe_programs

        known = trained_programs(card) or frozenset()
        raise InputError(
            "This model was not trained on the instruments asked for; it knows "
            f"{', '.join(describe_programs(known)) or 'no instruments it names'}."
        )
    return limits


def _checked(ctx, attempt, bars: int, limits: DecodeLimits, voicing=None, song: Song | None = None):
    """Run ``attempt()`` -> (fragment, first_bar) until the fragment passes the validity check.

    Voices are dealt to their tracks first (when the model writes voices). After ATTEMPTS broken
    fragments the job fails with the reasons instead of returning a broken piece.
    """
    from dataclasses import replace

    if voicing is not None and limits.programs is not None:
        limits = replace(limits, programs=limits.programs | {voicing.program})
    problems: list[str] = []
    for number in range(1, ATTEMPTS + 1):
        fragment, first = attempt()
        if voicing is not None:
            from aigc_studio.music.voices import split_voices

            fragment = split_voices(fragment, song, voicing)
        problems = fragment_problems(fragment, first, bars, limits)
        if not problems:
            return fragment, first
        ctx.log(f"attempt {number} wrote a broken fragment ({'; '.join(problems)}); sampling it again")
    raise StudioError(
        f"The model kept writing broken bars ({'; '.join(problems)}). Try another seed, "
        "a lower temperature or fewer bars."
    )


def _check_once(fragment: Song, first_bar: int, bars: int) -> None:
    """The validity check for greedy (deterministic) decodes: sampling again would give the same, so fail."""
    problems = fragment_problems(fragment, first_bar, bars, DecodeLimits())
    if problems:
        raise StudioError(f"The model wrote broken bars ({'; '.join(problems)}).")


def _transformer_setup(model, song: Song | None, request: MusicRequest):
    """(limits, voicing, the song as the model reads it) for a music transformer."""
    from aigc_studio.music.voices import Voicing, model_view

    limits = _limits(model, request)
    voicing = Voicing.from_card(getattr(model, "card", None))
    view = model_view(song, voicing) if voicing is not None and song is not None else song
    return limits, voicing, view


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
                raise StudioError(
                    f"Out of memory while {what}. Ask for fewer bars or phrases, or pick a smaller model."
                ) from exc
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

    return SamplingSettings(
        temperature=options.temperature, top_k=options.top_k, top_p=options.top_p, max_new_tokens=bars * 120
    )


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
    request: MusicRequest = field(default_factory=MusicRequest)
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
            if self.request.instruments is not None:
                raise InputError("A MusicVAE writes one melody line; choosing instruments needs a music-transformer.")

            def vae_attempt():
                with _steps_checked(ctx, model):
                    fragment, first = _vae_phrases(
                        model, self.bars, self.options.temperature, gen, self.prime, self.at_bar
                    )
                return _clip_bars(_vae_request(fragment, self.request), first + self.bars), first

            limits = DecodeLimits(pitch_classes=self.request.key.pitch_classes if self.request.key else None)
            fragment, first = _checked(ctx, vae_attempt, self.bars, limits)
            return GeneratedMusic(
                fragment,
                self.seed,
                _name(self.model),
                time.monotonic() - started,
                details={"first_bar": first, "bars": self.bars, "tokens": 0},
            )
        limits, voicing, prime = _transformer_setup(model, self.prime, self.request)
        on_token, state = _token_reporter(ctx, self.bars)

        def attempt():
            return model.generate(
                self.bars,
                _settings(self.options, self.bars),
                gen,
                prime=prime,
                at_bar=self.at_bar,
                use_cache=self.options.use_cache,
                on_token=on_token,
                limits=limits,
            )

        fragment, first = _checked(ctx, attempt, self.bars, limits, voicing, self.prime)
        _note_cut_prime(ctx, model, self.prime)
        return GeneratedMusic(
            fragment,
            self.seed,
            _name(self.model),
            time.monotonic() - started,
            details={"first_bar": first, "bars": self.bars, "tokens": state["n"]},
        )


@dataclass
class InfillMusicJob:
    """Regenerate bars [first_bar, last_bar) of ``song`` in the context around them."""

    model: str
    song: Song
    first_bar: int
    last_bar: int
    options: SamplingOptions = field(default_factory=SamplingOptions)
    request: MusicRequest = field(default_factory=MusicRequest)
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
        bars = self.last_bar - self.first_bar
        if bars < 1:
            raise InputError("Select at least one bar to regenerate.")
        limits, voicing, view = _transformer_setup(model, self.song, self.request)
        on_token, state = _token_reporter(ctx, bars)
        gen = ctx.generator(self.seed)

        def attempt():
            return model.infill(
                view,
                self.first_bar,
                self.last_bar,
                _settings(self.options, bars),
                gen,
                use_cache=self.options.use_cache,
                on_token=on_token,
                limits=limits,
            ), self.first_bar

        fragment, _ = _checked(ctx, attempt, bars, limits, voicing, self.song)
        _note_cut_prime(ctx, model, self.song)
        return GeneratedMusic(
            fragment,
            self.seed,
            _name(self.model),
            details={"first_bar": self.first_bar, "last_bar": self.last_bar, "tokens": state["n"]},
        )


def _clip_bars(fragment: Song, end_bar: int) -> Song:
    """Drop notes from ``end_bar`` on and shorten those that ring past it (phrases come in whole phrase lengths)."""
    end = end_bar * fragment.bar_ticks
    for t in fragment.tracks:
        t.notes = [
            n if n.end <= end else n.__class__(n.pitch, n.start, end - n.start, n.velocity, n.generated)
            for n in t.notes
            if n.start < end
        ]
    return fragment


def _vae_request(fragment: Song, request: MusicRequest) -> Song:
    """A MusicVAE writes one melody line: a key lock moves its off-scale notes to the nearest scale pitch."""
    if request.key is not None:
        for t in fragment.tracks:
            if not t.is_drum:
                t.notes = snap_to_scale(t.notes, request.key)
    return fragment


def _note_cut_prime(ctx, model, prime: Song | None) -> None:
    """Say so when the music before the new bars was longer than the model's context could hold."""
    used, before = getattr(model, "prefix_bars", (0, 0))
    if prime is not None and prime.note_count and used < before:
        ctx.log(
            f"note: {before} bars come before the new ones; the model's context holds the last {used}, "
            "so the music before them was not used."
        )


def _vae_phrases(model, bars: int, temperature: float, gen, template: Song | None, at_bar: int | None):
    import torch

    c = model.config
    count = max(1, -(-bars // c.bars))
    z = torch.randn((count, c.latent), generator=gen).to(next(model.parameters()).device)
    phrases = model.decode(z, temperature=max(0.0, temperature - 0.5), generator=gen).tolist()
    return _place(phrases, c, template, at_bar), (
        at_bar if at_bar is not None else (template.bars if template and template.note_count else 0)
    )


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
        if not 1 <= self.steps <= 32:
            raise InputError("Interpolate with 1 to 32 steps.")
        a = song_to_melody(self.song, self.bar_a, model.config)
        b = song_to_melody(self.song, self.bar_b, model.config)
        if all(e >= 128 for e in a) or all(e >= 128 for e in b):
            raise InputError("Both phrases need notes: select two bar ranges that are not empty.")
        with _steps_checked(ctx, model):
            phrases = interpolate(model, a, b, self.steps)
        fragment = _place(phrases, model.config, self.song, self.at_bar)
        first = self.at_bar if self.at_bar is not None else self.song.bars
        _check_once(fragment, first, self.steps * model.config.bars)
        return GeneratedMusic(
            fragment, None, _name(self.model), details={"first_bar": first, "bars": self.steps * model.config.bars}
        )


@dataclass
class VariationsJob:
    """``count`` alternatives of bars [bar, last_bar) in place, to audition and keep one.

    Transformer: each alternative re-infills the bars in the context around them. MusicVAE: the
    2-bar phrase at ``bar`` re-decoded from its latent plus ``amount`` of noise.
    Result: MusicVariations (``alternatives``: fragments holding the new notes of those bars; ``first_bar``,
    ``last_bar`` in its details).
    """

    model: str
    song: Song
    bar: int
    count: int = 4
    amount: float = 0.5
    options: SamplingOptions = field(default_factory=SamplingOptions)
    last_bar: int | None = None
    request: MusicRequest = field(default_factory=MusicRequest)
    seed: int | None = None  # None: the engine's seed for this job, else one drawn once when it starts
    title: str = "Variations"

    def run(self, ctx) -> MusicVariations:
        """Write the variations (retried once after running out of memory, with the same seed)."""
        if not 1 <= self.count <= 10_000_000:
            raise InputError("Ask for at least one variation.")
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
            alternatives = [_vae_request(_place([p], model.config, self.song, self.bar), self.request) for p in phrases]
            for alternative in alternatives:
                ctx.check_cancelled()
                _check_once(alternative, self.bar, model.config.bars)
            return MusicVariations(
                alternatives,
                self.seed,
                _name(self.model),
                details={"first_bar": self.bar, "last_bar": self.bar + model.config.bars},
            )
        last = self.last_bar if self.last_bar is not None else self.bar + 2
        if last <= self.bar:
            raise InputError("Select at least one bar to vary.")
        limits, voicing, view = _transformer_setup(model, self.song, self.request)
        alternatives = []
        for i in range(self.count):
            ctx.progress(i / self.count, f"variation {i + 1} of {self.count}")

            def attempt():
                return model.infill(
                    view,
                    self.bar,
                    last,
                    _settings(self.options, last - self.bar),
                    gen,
                    use_cache=self.options.use_cache,
                    limits=limits,
                    on_token=lambda _token: ctx.check_cancelled(),
                ), self.bar

            alternatives.append(_checked(ctx, attempt, last - self.bar, limits, voicing, self.song)[0])
        return MusicVariations(
            alternatives, self.seed, _name(self.model), details={"first_bar": self.bar, "last_bar": last}
        )
