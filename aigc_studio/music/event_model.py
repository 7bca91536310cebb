"""The event transformer: the shared TransformerLM over REMI tokens, with grammar-masked sampling.

Generate from nothing, continue a song, or infill a bar range conditioned on
the bars before and after it (``BOS prefix FILL suffix SEP middle EOS``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch

from aigc_studio.core.device import one_cpu_thread
from aigc_studio.core.modelfile import ModelCard, load_into, load_model
from aigc_studio.core.statefile import model_only
from aigc_studio.errors import InputError
from aigc_studio.music.decoding import IncrementalDecoder, pick_token
from aigc_studio.music.song import Song
from aigc_studio.music.tokenizer import Grammar, MusicTokenizer
from aigc_studio.nn.sampling import SamplingSettings
from aigc_studio.nn.transformer import TransformerConfig, TransformerLM

KIND = "music-transformer"


class MusicTransformer:
    """A TransformerLM plus its tokenizer (what a loaded music-transformer file holds)."""

    def __init__(self, model: TransformerLM, tokenizer: MusicTokenizer, card: ModelCard | None = None) -> None:
        self.model, self.tok, self.card = model, tokenizer, card
        self._allowed: dict = {}  # grammar state -> allowed ids
        self._decoders: dict = {}
        self.prefix_bars = (0, 0)  # (bars of music before the new ones that the last prompt held, bars there were)

    @property
    def context(self) -> int:
        """Longest token window the model sees."""
        return self.model.config.context

    def allowed_ids(self, grammar: Grammar) -> np.ndarray:
        """Ids of the tokens the grammar allows next, ascending (cached per grammar state)."""
        eos_ok = grammar.allow_eos and (grammar.target_bars is None or grammar.bars >= grammar.target_bars)
        key = (grammar.phase, grammar.pos, grammar.steps, eos_ok)
        ids = self._allowed.get(key)
        if ids is None:
            ids = self._allowed[key] = np.array(sorted(set(grammar.allowed())), dtype=np.int64)
        return ids

    def _decoder(self) -> IncrementalDecoder:
        """The KV-cache decoder for the model's current device and weights (rebuilt when either changes)."""
        # The decoder's NumPy step works on copies of the weights; in-place updates (an optimizer step,
        # load_state_dict) bump the parameters' version counters, so stale copies are never used.
        key = (next(self.model.parameters()).device, tuple(p._version for p in self.model.parameters()))
        decoder = self._decoders.get(key)
        if decoder is None:
            self._decoders = {key: (decoder := IncrementalDecoder(self.model))}
        decoder.reset()
        return decoder

    @torch.no_grad()
    def sample(self, prompt: list[int], grammar: Grammar, settings: SamplingSettings, generator: torch.Generator,
               max_new: int, use_cache: bool = True, on_token: Callable[[int], None] | None = None,
               keep: list[int] | None = None) -> list[int]:
        """Sample tokens after ``prompt`` until the grammar ends or ``max_new`` tokens.

        When the window fills up, the model restarts from ``keep`` (e.g. the header) plus the
        most recent half window. Returns only the new tokens.
        """
        self.model.eval()
        device = next(self.model.parameters()).device
        with one_cpu_thread(device):
            return self._sample(prompt, grammar, settings, generator, max_new, use_cache, on_token, keep, device)

    def _sample(self, prompt: list[int], grammar: Grammar, settings: SamplingSettings, generator: torch.Generator,
                max_new: int, use_cache: bool, on_token: Callable[[int], None] | None, keep: list[int] | None,
                device: torch.device) -> list[int]:
        keep = keep or []
        window = list(prompt)[-self.context:]
        new: list[int] = []
        decoder = self._decoder() if use_cache else None
        pending = window
        # One draw per token, all taken up front: a torch call per token would cost more than the sampling.
        noise = torch.rand(max_new, generator=generator, dtype=torch.float64).numpy() if settings.temperature > 0 else None
        for step in range(max_new):
            if decoder is not None:
                if len(pending) > decoder.room:
                    window = keep + window[-(self.context // 2):]
                    decoder.reset()
                    pending = window
                last = decoder.feed(pending)
            else:
                if len(window) > self.context:
                    window = keep + window[-(self.context // 2):]
                logits, _ = self.model(torch.tensor([window], device=device))
                last = logits[0, -1].float().cpu().numpy()
            token = pick_token(last, self.allowed_ids(grammar), settings, None if noise is None else noise[step])
            grammar.update(token)
            if grammar.at_end:
                break
            new.append(token)
            window.append(token)
            pending = [token]
            if on_token is not None:
                on_token(token)
        return new

    # ------------------------------------------------------------ high level
    def generate(self, bars: int, settings: SamplingSettings, generator: torch.Generator,
                 prime: Song | None = None, at_bar: int | None = None, use_cache: bool = True,
                 on_token: Callable[[int], None] | None = None) -> tuple[Song, int]:
        """New bars: from nothing, or after ``prime`` (its end, or ``at_bar``).

        Returns (fragment, first_bar): a song holding only the new notes, whose tracks line up
        with ``prime``'s tracks, and the bar where they start.
        """
        self.prefix_bars = (0, 0)
        tok = self.tok
        budget = bars * 120 + 50
        if prime is None or prime.note_count == 0 and at_bar is None:
            template = prime.copy() if prime is not None else Song()
            for t in template.tracks:
                t.notes = []
            grammar = Grammar(tok, template.time_signature, target_bars=bars)
            header = [tok.bos] if prime is None else tok.header(template)
            tokens = self.sample(header, grammar, settings, generator, budget, use_cache, on_token, keep=header)
            song = tok.decode(header + tokens) if prime is None else tok.decode(tokens, song=template, bar_offset=0)
            return _clip(song, bars * song.bar_ticks), 0
        first_bar = prime.bars if at_bar is None else at_bar
        prefix = self._prefix(prime, first_bar, int(self.context * 0.6))
        template = _empty_copy(prime)
        grammar = Grammar(tok, prime.time_signature, target_bars=bars, phase="open")
        header = tok.header(prime, first_bar * prime.bar_ticks)
        tokens = self.sample(prefix, grammar, settings, generator, budget, use_cache, on_token, keep=header)
        fragment = tok.decode(tokens, song=template, bar_offset=first_bar)
        return _clip(fragment, (first_bar + bars) * prime.bar_ticks), first_bar

    def infill(self, song: Song, first_bar: int, last_bar: int, settings: SamplingSettings,
               generator: torch.Generator, use_cache: bool = True,
               on_token: Callable[[int], None] | None = None) -> Song:
        """New notes for bars [first_bar, last_bar) that fit between what comes before and after."""
        if last_bar <= first_bar:
            raise InputError("Select at least one bar to regenerate.")
        self.prefix_bars = (0, 0)
        tok = self.tok
        prefix = self._prefix(song, first_bar, int(self.context * 0.35))
        after = _bars_window(song, last_bar, last_bar + int(self.context * 0.2))  # only these can fit
        bars = tok.encode_bars(after) if after is not None else tok.encode_bars(song)[last_bar:]
        suffix: list[int] = []
        for bar in bars:
            if len(suffix) + len(bar) > int(self.context * 0.2):
                break
            suffix += bar
        prompt = prefix + [tok.fill] + suffix + [tok.sep]
        grammar = Grammar(tok, song.time_signature, target_bars=last_bar - first_bar, phase="open")
        budget = max(16, self.context - len(prompt) - 1)
        tokens = self.sample(prompt, grammar, settings, generator, budget, use_cache, on_token, keep=prompt)
        fragment = tok.decode(tokens, song=_empty_copy(song), bar_offset=first_bar)
        return _clip(fragment, last_bar * song.bar_ticks)

    def _prefix(self, song: Song, first_bar: int, limit: int) -> list[int]:
        """Header plus as many whole bars before ``first_bar`` as fit in ``limit`` tokens.

        Every bar costs at least one token, so only the last ``limit`` bars can matter: a longer prime
        is cut to those before it is encoded (``self.prefix_bars`` says how many were used, of how many).
        """
        window_start = max(0, first_bar - limit) & ~1  # even: Python's round() sends halves to even steps
        window = _bars_window(song, window_start, first_bar)
        if window is None:  # a time signature the tokenizer maps to another: its bars are not the song's
            window, window_start = song, 0
        bars = self.tok.encode_bars(window)[: first_bar - window_start]
        bars += [[self.tok.bar]] * (first_bar - window_start - len(bars))  # empty bars the notes do not reach
        taken: list[list[int]] = []
        size = 3
        for bar in reversed(bars):
            if size + len(bar) > limit:
                break
            taken.insert(0, bar)
            size += len(bar)
        start_bar = first_bar - len(taken)
        self.prefix_bars = (len(taken), first_bar)
        return self.tok.header(song, start_bar * song.bar_ticks) + [t for bar in taken for t in bar]


def _bars_window(song: Song, first_bar: int, end_bar: int) -> Song | None:
    """The notes and tempo changes of bars [first_bar, end_bar), moved to start at bar 0.

    None when the tokenizer would count bars differently (a time signature it does not know).
    """
    from aigc_studio.music.song import TempoChange
    from aigc_studio.music.tokenizer import TIME_SIGNATURES

    if tuple(song.time_signature) not in TIME_SIGNATURES:
        return None
    begin, end = first_bar * song.bar_ticks, end_bar * song.bar_ticks
    window = _empty_copy(song)
    for source, target in zip(song.tracks, window.tracks):
        target.notes = [n.__class__(n.pitch, n.start - begin, n.duration, n.velocity, n.generated)
                        for n in source.notes if begin <= n.start < end]
    window.tempos = [TempoChange(0, song.tempo_at(begin - 1) if begin else song.tempos[0].tempo)]
    window.tempos += [TempoChange(c.tick - begin, c.tempo) for c in song.tempos[1:] if begin <= c.tick < end]
    return window


def _clip(song: Song, end: int) -> Song:
    """Drop notes starting at or after ``end`` and shorten those that ring past it."""
    for t in song.tracks:
        t.notes = [n.__class__(n.pitch, n.start, min(n.duration, end - n.start), n.velocity, True)
                   for n in t.notes if n.start < end]
    return song


def _empty_copy(song: Song) -> Song:
    out = song.copy()
    for t in out.tracks:
        t.notes = []
    return out


def new_music_transformer(tokenizer: MusicTokenizer, layers: int = 4, heads: int = 4, width: int = 192,
                          context: int = 512, dropout: float = 0.0) -> MusicTransformer:
    """A freshly initialised model."""
    config = TransformerConfig(vocab_size=tokenizer.vocab_size, context=context, layers=layers, heads=heads,
                               width=width, dropout=dropout)
    return MusicTransformer(TransformerLM(config), tokenizer)


def music_transformer_card(mt: MusicTransformer, **fields) -> ModelCard:
    """A model card describing ``mt``."""
    return ModelCard(kind=KIND, config=asdict(mt.model.config), tokenizer=mt.tok.to_card(), **fields)


def model_tensors(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """State dict for saving (a tied output head is stored once)."""
    state = dict(model.state_dict())
    if getattr(getattr(model, "config", None), "tie_embeddings", False):
        state.pop("head.weight", None)
    return state


def fill_model(model: torch.nn.Module, tensors: dict[str, torch.Tensor], path: str | Path) -> None:
    """Load file tensors into ``model`` (re-tying the output head)."""
    tensors = {k: v.float() for k, v in model_only(tensors).items()}
    if getattr(getattr(model, "config", None), "tie_embeddings", False) and "tokens.weight" in tensors:
        tensors["head.weight"] = tensors["tokens.weight"]
    load_into(model, tensors, path)


def load_music_transformer(path: str | Path, device: torch.device | str = "cpu") -> MusicTransformer:
    """Load a music-transformer model file (checkpoints work too)."""
    card, tensors = load_model(path, KIND)
    config = TransformerConfig(**card.config)
    tok = MusicTokenizer.from_card(card.tokenizer)
    if tok.vocab_size != config.vocab_size:
        from aigc_studio.errors import ModelFileError

        raise ModelFileError(f"{Path(path).name}: its vocabulary ({tok.vocab_size}) does not match the model ({config.vocab_size}).")
    model = TransformerLM(config)
    fill_model(model, tensors, path)
    model.to(device).eval()
    return MusicTransformer(model, tok, card)
