"""Jobs of the writer studio. Importing this module does not import torch (the GUI may import it).

Each job's ``run`` imports its implementation, so torch loads on the engine thread.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aigc_studio.core.events import GeneratedText, TextPiece, TextTrim
from aigc_studio.core.seeds import job_seed
from aigc_studio.errors import InputError


def load_language_model(ref: str | Path, ctx: Any, allow_pickle: bool = False) -> Any:
    """An own-GPT file, a registry name, or a Hugging Face folder, loaded through the model cache (on ctx.device)."""
    from aigc_studio.core.registry import resolve_model

    device = ctx.device
    path = Path(str(ref)).expanduser()
    if path.is_dir():
        loader = _hf_loader_pickle if allow_pickle else _hf_loader
        return ctx.models.get(path, device, loader)
    from aigc_studio.text.gpt import load_gpt

    resolved = resolve_model(str(ref), "text-gpt")
    return ctx.models.get(resolved, device, load_gpt)


def _hf_loader(path: Path, device: Any) -> Any:
    from aigc_studio.text.hf import load_hf_model

    return load_hf_model(path, device, allow_pickle=False)


def _hf_loader_pickle(path: Path, device: Any) -> Any:
    from aigc_studio.text.hf import load_hf_model

    return load_hf_model(path, device, allow_pickle=True)


@dataclass
class GenerateTextJob:
    """Continue ``prompt``; streams ``{"type": "token", "text": piece}`` partials; returns a GeneratedText (the text, the seed used,
    and ``details``: words, tokens, reason, reason_text, trimmed).

    ``length`` (with ``length_unit`` words, sentences, paragraphs or tokens and ``finish``)
    sets how much to write; without it, ``max_new_tokens`` tokens. When ``loop_stop``
    cuts a repetition loop, a TextTrim partial takes back the repeats.
    """

    model: str
    prompt: str
    temperature: float = 0.8
    top_k: int = 0
    top_p: float = 0.95
    repetition_penalty: float = 1.0
    max_new_tokens: int = 200
    stop: list[str] = field(default_factory=list)
    seed: int | None = None
    allow_pickle: bool = False
    use_cache: bool = True
    length: int | None = None
    length_unit: str = "words"
    finish: str = "sentence"
    loop_stop: bool = True
    title: str = "Continue text"

    def run(self, ctx: Any) -> GeneratedText:
        """Load the model (cached), then sample token by token."""
        from aigc_studio.text.length import LengthGoal, tokens_per_word

        goal = LengthGoal(self.length, self.length_unit, self.finish) if self.length is not None else None
        if goal is None and self.max_new_tokens < 1:
            raise InputError("Max tokens must be at least 1.")
        ctx.progress(None, "Loading the model…")
        lm = load_language_model(self.model, ctx, self.allow_pickle)
        budget = goal.budget(tokens_per_word(lm, self.prompt)) if goal is not None else self.max_new_tokens
        return stream_into_job(ctx, lm, self, budget, goal, self.prompt)


def stream_into_job(
    ctx: Any, lm: Any, job: Any, budget: int, goal: Any, prompt: str, prompt_ids: list[int] | None = None
) -> GeneratedText:
    """Run a :class:`TextStream` for ``job`` (sampling fields, seed, stop, loop_stop) and report it through ``ctx``."""
    from aigc_studio.core.device import one_cpu_thread
    from aigc_studio.nn.sampling import SamplingSettings
    from aigc_studio.text.generate import STOP_REASONS, Retract, TextStream
    from aigc_studio.text.length import count_words
    from aigc_studio.text.loops import LoopDetector

    settings = SamplingSettings(
        temperature=job.temperature,
        top_k=job.top_k,
        top_p=job.top_p,
        repetition_penalty=job.repetition_penalty,
        max_new_tokens=budget,
    )
    job.seed = job_seed(job.seed, ctx)
    generator = ctx.generator(job.seed)
    started = time.monotonic()
    recover = _OutOfMemoryRecovery(ctx, job.model, job.allow_pickle)
    stream = TextStream(
        lm,
        prompt,
        settings,
        generator,
        getattr(job, "stop", ()),
        job.use_cache,
        on_token=ctx.check_cancelled,
        on_oom=recover,
        length=goal,
        loops=LoopDetector() if job.loop_stop else None,
        prompt_ids=prompt_ids,
    )
    # One token at a time is too little work to split across threads (see one_cpu_thread).
    with one_cpu_thread(ctx.device):
        for count, piece in enumerate(stream, 1):
            if isinstance(piece, Retract):
                ctx.partial(TextTrim(piece.chars))
                continue
            ctx.partial(TextPiece(piece))
            if count % 16 == 0:
                ctx.progress(stream.tokens / budget, f"{stream.tokens} tokens")
    trimmed = stream.loop.cut if stream.loop is not None else 0
    reason_text = STOP_REASONS.get(stream.reason, stream.reason)
    if goal is not None and stream.reason in ("length", "budget"):
        reason_text = goal.ending(stream.text, stream.reason)
    if stream.loop is not None:
        ctx.log(
            f"Stopped a repetition loop: {stream.loop.span[:60]!r} came {stream.loop.repeats} times in a row; "
            f"the {trimmed} characters of the repeats were cut."
        )
    details = {
        "words": count_words(stream.text),
        "tokens": stream.tokens,
        "reason": stream.reason,
        "reason_text": reason_text,
        "trimmed": trimmed,
    }
    return GeneratedText(stream.text, job.seed, getattr(lm, "name", ""), time.monotonic() - started, details=details)


def generation_summary(result: GeneratedText) -> str:
    """The status line after a generation: words added, why it ended, the seed, and a loop note."""
    words = result.get("words", 0)
    line = f"Added {words} word{'s' if words != 1 else ''} ({result.get('reason_text', 'done')}; seed {result.seed})."
    if result.get("trimmed"):
        line += f" The text began to repeat itself: {result['trimmed']} repeated characters were cut."
    return line


class _OutOfMemoryRecovery:
    """What generation does when the device runs out of memory: retry, then the CPU, then a clear error."""

    RETRIES = 2  # after freeing the cache a retry often fits; more would only repeat the failure

    def __init__(self, ctx: Any, model: str, allow_pickle: bool) -> None:
        self.ctx, self.model, self.allow_pickle = ctx, model, allow_pickle
        self.failures = 0

    def __call__(self, exc: BaseException) -> Any:
        """Free memory and return the language model to continue with (or raise StudioError)."""
        import torch

        from aigc_studio.core.oom import free_device_memory
        from aigc_studio.errors import StudioError

        self.failures += 1
        device = self.ctx.device
        free_device_memory(device)
        if device.type != "cpu":
            self.ctx.log(f"Out of memory on the {device.type.upper()} while writing: continuing on the CPU (slower).")
            self.ctx.device = torch.device("cpu")
            return load_language_model(self.model, self.ctx, self.allow_pickle)
        if self.failures > self.RETRIES:
            raise StudioError(
                "Out of memory while writing. Ask for fewer tokens (a shorter Length), shorten the text before the "
                "cursor, or pick a smaller model."
            ) from exc
        self.ctx.log("Out of memory while writing: freed memory and trying again.")
        return load_language_model(self.model, self.ctx, self.allow_pickle)


@dataclass
class TrainGPTJob:
    """Train or fine-tune the own GPT; ``settings`` are GPTTrainSettings fields."""

    settings: dict[str, Any]
    title: str = "Train text GPT"
    trains = True  # builds optimisers: warm_up_training() first (see core/jobs.py)

    def run(self, ctx: Any) -> Any:
        """Run the training loop (see ``train_gpt.py``); returns a TrainingResult."""
        from aigc_studio.text.train_gpt import GPTTrainer, GPTTrainSettings

        return GPTTrainer(GPTTrainSettings(**self.settings)).run(ctx)


@dataclass
class TrainVAEJob:
    """Train the sentence VAE; ``settings`` are VAETrainSettings fields."""

    settings: dict[str, Any]
    title: str = "Train sentence VAE"
    trains = True  # builds optimisers: warm_up_training() first (see core/jobs.py)

    def run(self, ctx: Any) -> Any:
        """Run the VAE training loop (see ``train_vae.py``); returns a TrainingResult."""
        from aigc_studio.text.train_vae import VAETrainer, VAETrainSettings

        return VAETrainer(VAETrainSettings(**self.settings)).run(ctx)


@dataclass
class BlendSentencesJob:
    """Decode ``steps`` sentences on the latent path from ``first`` to ``second`` (homotopy)."""

    model: str
    first: str
    second: str
    steps: int = 5
    title: str = "Blend sentences"

    def run(self, ctx: Any) -> list[str]:
        """Encode both, interpolate, decode greedily (one sentence at a time, so Cancel is quick)."""
        from aigc_studio.core.registry import resolve_model
        from aigc_studio.text.vae import load_vae

        vae = ctx.models.get(resolve_model(self.model, "text-vae"), ctx.device, load_vae)
        ctx.check_cancelled()
        steps = max(2, int(self.steps))
        a, b = vae.encode(self.first), vae.encode(self.second)
        out = []
        for i in range(steps):
            ctx.progress(i / steps, f"sentence {i + 1} of {steps}")
            out.append(vae.decode(a + (b - a) * (i / (steps - 1))))
        return out


@dataclass
class NeighboursJob:
    """Sentences near ``sentence`` in the VAE's latent space."""

    model: str
    sentence: str
    count: int = 5
    radius: float = 0.5
    seed: int | None = None
    title: str = "Sentence neighbours"

    def run(self, ctx: Any) -> list[str]:
        """Encode, add Gaussian noise, decode (one sentence at a time, so Cancel is quick)."""
        import torch

        from aigc_studio.core.registry import resolve_model
        from aigc_studio.text.vae import load_vae

        vae = ctx.models.get(resolve_model(self.model, "text-vae"), ctx.device, load_vae)
        ctx.check_cancelled()
        self.seed = job_seed(self.seed, ctx)
        generator = ctx.generator(self.seed)
        mu = vae.encode(self.sentence)
        out = []
        for i in range(self.count):
            ctx.progress(i / self.count, f"sentence {i + 1} of {self.count}")
            # The same draws as LoadedVAE.neighbours, one sentence at a time.
            out.append(vae.decode(mu + self.radius * torch.randn(mu.shape, generator=generator).to(mu.device)))
        return out
