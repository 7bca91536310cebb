"""Writer studio evaluator (text-gpt, Hugging Face folders, text-vae): held-out loss, real words,
distinct n-grams, repetition loops and the longest verbatim copy from the reference."""

from __future__ import annotations

import math
import re
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import torch

from aigc_studio.core.registry import resolve_model
from aigc_studio.errors import InputError
from aigc_studio.evaluate.base import Loaded, Measured, Pair, Reference
from aigc_studio.evaluate.copying import longest_copy
from aigc_studio.evaluate.efficiency import count_parameters
from aigc_studio.text.corpus import load_corpus

WORD = re.compile(r"[A-Za-z]+(?:['’][A-Za-z]+)*")
SAMPLE_TOKENS = 256  # per GPT sample: about a paragraph for a character model
LOSS_TOKENS = 32768  # held-out tokens scored (evenly spread windows), enough for two decimals
LOOP_NGRAM, LOOP_REPEATS = 4, 3  # a sample loops when some 4-word run comes back 3 times
NEAREST_SHOWN = 6
CONTEXT_CHARS = 80  # reference text shown around a copied span
COPY_FLOOR_CHARS = 50  # about ten words: shorter shared stretches are common phrases, not memorised text


def words(text: str) -> list[str]:
    """Lower-case words (letters and inner apostrophes)."""
    return [w.lower() for w in WORD.findall(text)]


def distinct_n(texts: list[str], n: int) -> float:
    """Distinct word n-grams / all word n-grams over the texts (1.0 = no n-gram repeats)."""
    grams = [tuple(ws[i : i + n]) for ws in map(words, texts) for i in range(len(ws) - n + 1)]
    return len(set(grams)) / len(grams) if grams else 0.0


def loops(text: str) -> bool:
    """True when some run of LOOP_NGRAM words occurs LOOP_REPEATS times or more."""
    ws = words(text)
    counts = Counter(tuple(ws[i : i + LOOP_NGRAM]) for i in range(len(ws) - LOOP_NGRAM + 1))
    return bool(counts) and max(counts.values()) >= LOOP_REPEATS


class TextStudio:
    """Evaluates the writer studio's models on a text file or folder."""

    kinds = ("text-gpt", "text-vae")
    unit = "tokens"
    quick = False  # the short evaluation after training: a quarter of the held-out tokens, shorter samples

    def load(self, ref: str, ctx: Any) -> Loaded:
        """An own GPT or sentence VAE file (or registry name), or a Hugging Face folder."""
        path = Path(str(ref)).expanduser()
        if path.is_dir():
            from aigc_studio.text.hf import load_hf_model

            lm = load_hf_model(path, ctx.device)
            return Loaded(path.name, "text-gpt (Hugging Face)", "", path, lm, count_parameters(lm.model))
        resolved = resolve_model(str(ref), self.kinds)
        from aigc_studio.core.modelfile import read_card

        card = read_card(resolved)
        if card.kind == "text-vae":
            from aigc_studio.text.vae import load_vae

            m = load_vae(resolved, ctx.device)
            self.unit = "sentences"
        else:
            from aigc_studio.text.gpt import load_gpt

            m = load_gpt(resolved, ctx.device)
        return Loaded(card.name or resolved.stem, card.kind, card.content_hash, resolved, m, count_parameters(m.model))

    def read_reference(self, path: str, loaded: Loaded | None, ctx: Any, limit: int, seed: int) -> Reference:
        """The text of a file or folder; for a sentence VAE also its sentences (items)."""
        ctx.progress(0.0, "Reading the reference text")
        try:
            corpus = load_corpus(path, log=ctx.log)
        except InputError as exc:  # the corpus reader speaks of training data; here it is the reference
            raise InputError(str(exc).replace("training data", "reference data")) from exc
        text = corpus.text
        if not words(text):
            raise InputError(f"{path} holds no words to compare with; choose English text (.txt or .md).")
        labels = _file_spans(corpus)
        if loaded is not None and loaded.kind == "text-vae":
            from aigc_studio.text.vae import split_sentences

            sentences = [s for s in split_sentences(text) if 3 <= len(words(s)) <= 24]
            if len(sentences) < 4:
                raise InputError(f"{path} has fewer than 4 sentences of 3-24 words; the sentence VAE needs more.")
            return Reference(
                str(path),
                sentences,
                labels,  # file spans of ``text``, to name where a copy comes from
                "sentences",
                len(sentences),
                text,
            )
        return Reference(str(path), [text], labels, "characters of text", len(text), text)

    def sample(self, loaded: Loaded, count: int, ctx: Any, seed: int) -> tuple[list[Any], int]:
        """``count`` paragraphs (GPT, app's default settings) or sentences (VAE, latents ~ N(0, 1))."""
        gen = torch.Generator().manual_seed(seed)
        out: list[str] = []
        made = 0
        if loaded.kind == "text-vae":
            z = torch.randn(count, loaded.model.model.config.latent, generator=gen)
            for i in range(count):
                out.append(loaded.model.decode(z[i]))
                made += len(out[-1].split())
                ctx.progress((i + 1) / count, f"Sentence {i + 1}/{count}")
            return out, count
        from aigc_studio.nn.sampling import SamplingSettings
        from aigc_studio.text.generate import generate_ids

        lm = loaded.model
        for i in range(count):
            ids = []
            for token in generate_ids(lm, lm.start_ids(), SamplingSettings(), gen):
                ids.append(token)
                if len(ids) % 32 == 0:
                    ctx.progress((i + len(ids) / SAMPLE_TOKENS) / count, f"Sample {i + 1}/{count}")
                if len(ids) >= SAMPLE_TOKENS // (4 if self.quick else 1):
                    break
            out.append(lm.decode(ids).strip())
            made += len(ids)
        return out, made

    def split(self, reference: Reference, count: int, seed: int, length: int = 0) -> tuple[list[Any], Reference]:
        """Stretches of the reference's first half posing as samples; its second half as reference."""
        if reference.what == "sentences":
            order = np.random.default_rng(seed).permutation(len(reference.items))
            half = min(count, len(order) // 2)
            rest = [reference.items[i] for i in order[half:]]
            return [reference.items[i] for i in order[:half]], Reference(
                reference.path,
                rest,
                [f"sentence {i + 1}" for i in order[half:]],
                "sentences",
                len(rest),
                "\n".join(rest),
            )
        text = reference.text
        middle = len(text) // 2
        length = max(40, length or 400)
        first, second = text[:middle], text[middle:]
        starts = np.linspace(0, max(0, len(first) - length), count).astype(int)
        chunks = [_whole_words(first[s : s + length]) for s in starts]
        return [c for c in chunks if c], Reference(
            reference.path, [second], ["second half of the reference"], reference.what, len(second), second
        )

    def measure(
        self,
        samples: list[Any],
        reference: Reference | None,
        loaded: Loaded | None,
        ctx: Any,
        baseline: Measured | None,
    ) -> Measured:
        """Loss, real words, distinct-n, loops and verbatim copies."""
        out = Measured()
        out.units.update(
            held_out_loss_nats_per_token="mean next-token cross-entropy on the reference, nats per model token",
            held_out_loss_nats_per_char="the same in nats per character (comparable across tokenizers)",
            held_out_loss_nats_per_sentence="negative ELBO (reconstruction + KL) per reference sentence, nats",
            real_word_share="share of sample words found in the second half of the reference (0-1)",
            distinct_2="distinct word pairs / all word pairs over all samples (0-1)",
            distinct_3="distinct word triples / all word triples (0-1)",
            repetition_loop_share=f"share of samples where a {LOOP_NGRAM}-word run occurs {LOOP_REPEATS}+ times",
            longest_copy_chars_max="longest stretch of any sample found verbatim in the reference, characters",
            longest_copy_chars_median="median over samples of their longest verbatim copy, characters",
            copied_share_median="median over samples of longest copy / sample length (0-1)",
            memorised_share="share of samples with a longer verbatim copy than any reference stretch "
            "has with the rest of the reference (and longer than 50 characters)",
        )
        out.diversity.update(
            distinct_2=_r(distinct_n(samples, 2)),
            distinct_3=_r(distinct_n(samples, 3)),
            repetition_loop_share=_r(sum(map(loops, samples)) / max(1, len(samples))),
        )
        if reference is None:
            for name in ("held_out_loss", "real_word_share", "longest_copy_chars_max", "nearest", "memorised_share"):
                out.missing[name] = "needs reference text (--data)"
            return out
        # The reference's own figure can only use the half of the reference that its stretches are not
        # from; the samples use that same half, so both count real words against the same vocabulary.
        vocabulary = set(words(reference.text[len(reference.text) // 2 :] if baseline is not None else reference.text))
        sample_words = [w for s in samples for w in words(s)]
        out.quality["real_word_share"] = _r(sum(w in vocabulary for w in sample_words) / max(1, len(sample_words)))
        if loaded is not None:
            out.quality.update(self._held_out_loss(loaded, reference, ctx))
        corpus = reference.text
        copies = []
        for i, s in enumerate(samples):
            copies.append(longest_copy(s, corpus, ctx.check_cancelled))
            ctx.progress(None, f"Looking for copied text {i + 1}/{len(samples)}")
        lengths = np.array([c.length for c in copies])
        out.novelty.update(
            longest_copy_chars_max=int(lengths.max(initial=0)),
            longest_copy_chars_median=float(np.median(lengths)) if len(lengths) else 0.0,
            copied_share_median=_r(float(np.median([c.length / max(1, len(s)) for c, s in zip(copies, samples)]))),
        )
        own = baseline.novelty.get("longest_copy_chars_max") if baseline else None
        # A few dozen samples make a noisy maximum, and stock phrases are no copies: hence the floor.
        ceiling = None if own is None else max(own, COPY_FLOOR_CHARS)
        memorised = [ceiling is not None and c.length > ceiling for c in copies]
        if ceiling is not None:
            out.memorised = sum(memorised)
            out.memorised_rule = (
                f"a verbatim copy of more than {ceiling} characters (the reference's own longest shared "
                f"stretch is {own}; copies up to {COPY_FLOOR_CHARS} are taken for common phrases)"
            )
            out.novelty["memorised_share"] = _r(out.memorised / max(1, len(samples)))
        shown = np.argsort(-lengths, kind="stable")[:NEAREST_SHOWN]
        out.novelty["nearest"] = []
        for i in shown:
            c, s = copies[i], samples[i]
            where = _label_at(reference, c.reference_start)
            lo = max(0, c.reference_start - CONTEXT_CHARS)
            hi = c.reference_start + c.length + CONTEXT_CHARS
            out.novelty["nearest"].append(
                {
                    "sample": int(i),
                    "reference": where,
                    "copied_chars": c.length,
                    "distance": _r(1 - c.length / max(1, len(s))),
                    "copied_text": s[c.sample_start : c.sample_start + c.length],
                }
            )
            out.pairs.append(
                Pair(
                    f"sample {i}",
                    where,
                    1 - c.length / max(1, len(s)),
                    s,
                    corpus[lo:hi],
                    (c.sample_start, c.sample_start + c.length),
                    (c.reference_start - lo, c.reference_start - lo + c.length),
                    memorised[i],
                )
            )
        return out

    def _held_out_loss(self, loaded: Loaded, reference: Reference, ctx: Any) -> dict[str, float]:
        if loaded.kind == "text-vae":
            return _vae_loss(loaded.model, reference.items, ctx)
        return _lm_loss(loaded.model, reference.text, ctx, LOSS_TOKENS // (4 if self.quick else 1))


@torch.no_grad()
def _lm_loss(lm: Any, text: str, ctx: Any, budget: int = LOSS_TOKENS) -> dict[str, float]:
    """Cross-entropy over evenly spread non-overlapping windows of the reference (up to ``budget`` tokens)."""
    ids = lm.encode(text[: budget * 40])  # enough characters for any tokenizer's ``budget`` tokens
    window = min(lm.context, 512)
    starts = list(range(0, max(1, len(ids) - window - 1), window + 1))
    if not starts or len(ids) < 2:
        return {}
    keep = max(1, budget // window)
    starts = [starts[int(i)] for i in np.linspace(0, len(starts) - 1, min(keep, len(starts)))]
    total = tokens = chars = 0.0
    for n, s in enumerate(starts):
        chunk = ids[s : s + window + 1]
        x = torch.tensor([chunk[:-1]], device=lm.device)
        y = torch.tensor(chunk[1:], device=lm.device)
        logits = _all_logits(lm, x)
        total += float(torch.nn.functional.cross_entropy(logits.float(), y, reduction="sum"))
        tokens += len(y)
        chars += len(lm.decode(chunk[1:]))
        if n % 8 == 0:
            ctx.progress(None, f"Held-out loss {n + 1}/{len(starts)} windows")
    return {
        "held_out_loss_nats_per_token": _r(total / tokens),
        "held_out_loss_nats_per_char": _r(total / max(1, chars)),
        "held_out_tokens": int(tokens),
    }


def _all_logits(lm: Any, x: torch.Tensor) -> torch.Tensor:
    """Logits at every position of one window [T, vocab], for our GPT or a Hugging Face model."""
    from aigc_studio.text.hf import HFCausalLM

    if isinstance(lm, HFCausalLM):
        return lm.model(input_ids=x).logits[0]
    out, _ = lm.model(x, None)
    return out[0]


@torch.no_grad()
def _vae_loss(vae: Any, sentences: list[str], ctx: Any, limit: int = 2000) -> dict[str, float]:
    """Negative ELBO per sentence and per word with z at the posterior mean plus its noise (seeded)."""
    from aigc_studio.text.vae import PAD

    spread = np.linspace(0, len(sentences) - 1, min(limit, len(sentences))).astype(int) if sentences else []
    ids = [vae.vocab.encode(sentences[i], vae.model.config.max_len) for i in spread]
    ids = [i for i in ids if i]
    gen = torch.Generator().manual_seed(0)
    total = words_seen = 0.0
    for start in range(0, len(ids), 64):
        batch = ids[start : start + 64]
        lengths = torch.tensor([len(b) for b in batch])
        tokens = torch.full((len(batch), int(lengths.max())), PAD, dtype=torch.long)
        for row, b in enumerate(batch):
            tokens[row, : len(b)] = torch.tensor(b)
        loss, _, _ = vae.model.loss(tokens.to(vae.device), lengths, 0.0, 1.0, gen)
        total += float(loss) * len(batch)
        words_seen += float(lengths.sum() + len(batch))  # + the end marker of each sentence
        ctx.progress(None, f"Held-out loss {start + len(batch)}/{len(ids)} sentences")
    if not ids:
        return {}
    return {
        "held_out_loss_nats_per_sentence": _r(total / len(ids)),
        "held_out_loss_nats_per_token": _r(total / words_seen),
        "held_out_sentences": len(ids),
    }


def _file_spans(corpus: Any) -> list[str]:
    """'name:start' labels so a character offset can be turned into a file name."""
    from aigc_studio.text.document_io import read_text_file

    labels, offset = [], 0
    for path in corpus.files:
        text, _ = read_text_file(path)
        labels.append(f"{path.name}:{offset}")
        offset += len(text.strip("\n")) + 2
    return labels


def _label_at(reference: Reference, offset: int) -> str:
    """The file and line a character offset of the joined reference text falls in."""
    best = (Path(reference.path).name, 0)
    for label in reference.labels:
        name, _, start = label.rpartition(":")
        if name and start.isdigit() and int(start) <= offset:
            best = (name, int(start))
    line = reference.text.count("\n", best[1], max(best[1], offset)) + 1
    return f"{best[0]}, line {line}"


def _whole_words(chunk: str) -> str:
    """Trim a cut stretch of text to whole words at both ends."""
    first, last = chunk.find(" "), chunk.rfind(" ")
    return chunk[first + 1 : last].strip() if 0 <= first < last else chunk.strip()


def _r(x: float) -> float:
    return round(float(x), 4) if math.isfinite(x) else x
