"""Sentence VAE (Bowman et al. 2016): GRU encoder and decoder over words, a Gaussian latent.

Encode a sentence to a point, decode points greedily, walk the straight line
between two sentences (homotopy) and sample sentences near a given one.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from aigc_studio.core.modelfile import ModelCard, load_into, load_model
from aigc_studio.core.statefile import model_only
from aigc_studio.errors import InputError, ModelFileError

KIND = "text-vae"
PREFIX = "vae."
PAD, UNK, BOS, EOS = 0, 1, 2, 3
SPECIALS = ["<pad>", "<unk>", "<s>", "</s>"]
_WORD = re.compile(r"[A-Za-z]+(?:['’][A-Za-z]+)*|\d+|[^\sA-Za-z\d]")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_NO_SPACE_BEFORE = set(".,;:!?')]’")


def words(sentence: str) -> list[str]:
    """Lower-cased words and punctuation marks."""
    return [w.lower() for w in _WORD.findall(sentence)]


def split_sentences(text: str) -> list[str]:
    """Sentences of a text (line breaks inside a sentence become spaces)."""
    flat = re.sub(r"\s+", " ", text)
    return [s.strip() for s in _SENTENCE_END.split(flat) if s.strip()]


def detokenize(tokens: list[str]) -> str:
    """Join words back into a readable sentence with the first letter capitalised."""
    out = ""
    for token in tokens:
        if out and token not in _NO_SPACE_BEFORE and not out.endswith(("(", "[")):
            out += " "
        out += token
    out = re.sub(r"\bi\b", "I", out)
    return out[:1].upper() + out[1:]


class WordVocab:
    """The most frequent words of the corpus plus pad/unknown/start/end markers."""

    def __init__(self, itos: list[str]) -> None:
        self.itos = list(itos)
        self.stoi = {w: i for i, w in enumerate(self.itos)}
        self.size = len(self.itos)

    @classmethod
    def build(cls, sentences: list[str], max_size: int) -> WordVocab:
        """Count words and keep the ``max_size`` most frequent."""
        counts: dict[str, int] = {}
        for sentence in sentences:
            for w in words(sentence):
                counts[w] = counts.get(w, 0) + 1
        ranked = sorted(counts, key=lambda w: (-counts[w], w))[: max(0, max_size - len(SPECIALS))]
        return cls(SPECIALS + ranked)

    def encode(self, sentence: str, max_len: int) -> list[int]:
        """Word ids, truncated to ``max_len``."""
        return [self.stoi.get(w, UNK) for w in words(sentence)][:max_len]

    def decode(self, ids: list[int]) -> str:
        """Ids to a sentence (markers dropped; an unknown word shows as an ellipsis)."""
        return detokenize(["…" if i == UNK else self.itos[i] for i in ids if i >= len(SPECIALS) or i == UNK])


@dataclass
class VAEConfig:
    """Architecture of a :class:`SentenceVAE`; saved in the model card."""

    vocab_size: int
    embed: int = 128
    hidden: int = 256
    latent: int = 32
    max_len: int = 24


class SentenceVAE(nn.Module):
    """GRU encoder -> (mu, logvar) -> z -> GRU decoder that sees z at every step."""

    def __init__(self, config: VAEConfig) -> None:
        super().__init__()
        self.config = config
        self.embed = nn.Embedding(config.vocab_size, config.embed, padding_idx=PAD)
        self.encoder = nn.GRU(config.embed, config.hidden, batch_first=True, bidirectional=True)
        self.to_mu = nn.Linear(2 * config.hidden, config.latent)
        self.to_logvar = nn.Linear(2 * config.hidden, config.latent)
        self.latent_to_hidden = nn.Linear(config.latent, config.hidden)
        self.decoder = nn.GRU(config.embed + config.latent, config.hidden, batch_first=True)
        self.out = nn.Linear(config.hidden, config.vocab_size)

    def encode(self, tokens: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(mu, logvar) for padded word ids [batch, length] with their true lengths."""
        packed = nn.utils.rnn.pack_padded_sequence(
            self.embed(tokens), lengths.cpu(), batch_first=True, enforce_sorted=False
        )
        _, h = self.encoder(packed)
        h = torch.cat([h[0], h[1]], dim=-1)
        return self.to_mu(h), self.to_logvar(h)

    def decode_logits(self, z: torch.Tensor, inputs: torch.Tensor, h: torch.Tensor | None = None):
        """Teacher-forced decoder logits for ``inputs`` (start marker first) given ``z``."""
        if h is None:
            h = torch.tanh(self.latent_to_hidden(z)).unsqueeze(0)
        x = self.embed(inputs)
        x = torch.cat([x, z.unsqueeze(1).expand(-1, x.shape[1], -1)], dim=-1)
        out, h = self.decoder(x, h)
        return self.out(out), h

    def loss(self, tokens, lengths, word_dropout: float, kl_weight: float, generator=None, free_bits: float = 0.0):
        """(total, reconstruction, KL) per sentence, with word dropout on the decoder inputs.

        ``free_bits`` (nats per latent dimension) stops the optimiser from pushing a
        dimension's KL below it, which keeps the decoder from ignoring z.
        """
        mu, logvar = self.encode(tokens, lengths)
        noise = torch.randn(mu.shape, generator=generator).to(mu.device)
        z = mu + noise * torch.exp(0.5 * logvar)
        batch = tokens.shape[0]
        bos = torch.full((batch, 1), BOS, dtype=torch.long, device=tokens.device)
        inputs = torch.cat([bos, tokens], dim=1)
        if word_dropout > 0:
            drop = torch.rand(inputs.shape, generator=generator).to(inputs.device) < word_dropout
            drop[:, 0] = False
            inputs = inputs.masked_fill(drop & (inputs != PAD), UNK)
        targets = torch.cat([tokens, torch.full((batch, 1), PAD, dtype=torch.long, device=tokens.device)], dim=1)
        targets[torch.arange(batch), lengths] = EOS
        logits, _ = self.decode_logits(z, inputs)
        recon = (
            F.cross_entropy(
                logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), ignore_index=PAD, reduction="sum"
            )
            / batch
        )
        kl_dims = (-0.5 * (1 + logvar - mu.pow(2) - logvar.exp())).mean(0)
        kl = kl_dims.sum()
        kl_term = torch.clamp(kl_dims, min=free_bits).sum() if free_bits > 0 else kl
        return recon + kl_weight * kl_term, recon.detach(), kl.detach()


class LoadedVAE:
    """A sentence VAE ready to use: module + vocabulary."""

    def __init__(self, model: SentenceVAE, vocab: WordVocab, card: ModelCard, device: Any = "cpu") -> None:
        self.model = model.to(device).eval()
        self.vocab = vocab
        self.card = card
        self.device = torch.device(device)

    def _ids(self, sentence: str) -> list[int]:
        ids = self.vocab.encode(sentence, self.model.config.max_len)
        if not ids:
            raise InputError("The sentence has no words to encode.")
        return ids

    @torch.no_grad()
    def encode(self, sentence: str) -> torch.Tensor:
        """The latent mean of a sentence ([latent])."""
        ids = self._ids(sentence)
        tokens = torch.tensor([ids], device=self.device)
        mu, _ = self.model.encode(tokens, torch.tensor([len(ids)]))
        return mu[0]

    @torch.no_grad()
    def decode(self, z: torch.Tensor) -> str:
        """Greedy decoding of one latent point."""
        z = z.to(self.device).unsqueeze(0)
        token = torch.tensor([[BOS]], device=self.device)
        h, out = None, []
        for _ in range(self.model.config.max_len + 1):
            logits, h = self.model.decode_logits(z, token, h)
            step = logits[0, -1].clone()
            step[[PAD, UNK, BOS]] = float("-inf")  # write real words: "unknown" is no use to a writer
            nxt = int(step.argmax())
            if nxt == EOS:
                break
            out.append(nxt)
            token = torch.tensor([[nxt]], device=self.device)
        return self.vocab.decode(out)

    def homotopy(self, first: str, second: str, steps: int = 5) -> list[str]:
        """``steps`` sentences evenly spaced from ``first`` to ``second`` (both ends included)."""
        steps = max(2, int(steps))
        a, b = self.encode(first), self.encode(second)
        return [self.decode(a + (b - a) * (i / (steps - 1))) for i in range(steps)]

    def neighbours(
        self, sentence: str, count: int = 5, radius: float = 0.5, generator: torch.Generator | None = None
    ) -> list[str]:
        """Sentences decoded from random points around ``sentence``."""
        mu = self.encode(sentence)
        return [
            self.decode(mu + radius * torch.randn(mu.shape, generator=generator).to(mu.device)) for _ in range(count)
        ]


def vae_tensors(model: SentenceVAE) -> dict[str, torch.Tensor]:
    """State dict under the file's prefix."""
    return {PREFIX + k: v for k, v in model.state_dict().items()}


def vae_card_fields(model: SentenceVAE, vocab: WordVocab) -> dict[str, Any]:
    """Config and vocabulary for the card."""
    return {"config": asdict(model.config), "tokenizer": {"type": "words", "itos": vocab.itos}}


def load_vae(path: str | Path, device: Any = "cpu") -> LoadedVAE:
    """Load a text-vae model file (or checkpoint)."""
    card, tensors = load_model(path, KIND)
    try:
        config = VAEConfig(**card.config)
        vocab = WordVocab(card.tokenizer["itos"])
    except (TypeError, KeyError) as exc:
        raise ModelFileError(f"{Path(path).name} has a damaged sentence-VAE card ({exc}).") from exc
    model = SentenceVAE(config)
    load_into(model, {k: v.float() for k, v in model_only(tensors).items()}, path, prefix=PREFIX)
    return LoadedVAE(model, vocab, card, device)
