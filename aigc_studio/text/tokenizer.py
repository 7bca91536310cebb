"""Tokenizers for the text GPT: character-level (tiny corpora) and byte-level BPE.

Both serialise to a small JSON-able dict that lives in the model card, so a
model file carries the exact tokenizer it was trained with.
"""

from __future__ import annotations

from typing import Any, Protocol

from aigc_studio.core.untrusted_json import UnsafeJson, parse_untrusted_json
from aigc_studio.errors import InputError, ModelFileError

UNKNOWN_CHAR = "\ufffd"


class TextTokenizer(Protocol):
    """What generation and training need from a tokenizer."""

    vocab_size: int

    def encode(self, text: str) -> list[int]: ...

    def decode(self, ids: list[int]) -> str: ...

    def to_card(self) -> dict[str, Any]: ...


class CharTokenizer:
    """One token per Unicode character seen in the corpus; unseen characters map to U+FFFD."""

    def __init__(self, chars: list[str]) -> None:
        chars = list(dict.fromkeys(chars))
        if UNKNOWN_CHAR not in chars:
            chars.append(UNKNOWN_CHAR)
        self.chars = chars
        self.index = {c: i for i, c in enumerate(chars)}
        self.unknown = self.index[UNKNOWN_CHAR]
        self.vocab_size = len(chars)

    @classmethod
    def train(cls, text: str) -> CharTokenizer:
        """Vocabulary = the sorted set of characters in ``text``."""
        return cls(sorted(set(text)))

    def encode(self, text: str) -> list[int]:
        """Characters to ids."""
        get = self.index.get
        return [get(c, self.unknown) for c in text]

    def decode(self, ids: list[int]) -> str:
        """Ids to characters."""
        chars = self.chars
        return "".join(chars[i] if 0 <= i < len(chars) else UNKNOWN_CHAR for i in ids)

    def to_card(self) -> dict[str, Any]:
        """JSON form for the model card."""
        return {"type": "char", "chars": "".join(self.chars)}


class BPETokenizer:
    """Byte-level BPE from the ``tokenizers`` library: every string round-trips exactly."""

    def __init__(self, backend: Any) -> None:
        self.backend = backend
        self.vocab_size = backend.get_vocab_size()

    @classmethod
    def train(cls, text: str, vocab_size: int = 2048) -> BPETokenizer:
        """Learn merges on ``text`` (byte-level, so no unknown tokens ever)."""
        from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

        backend = Tokenizer(models.BPE())
        backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        backend.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(
            vocab_size=vocab_size,
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
            show_progress=False,
        )
        chunk = 1 << 16
        backend.train_from_iterator((text[i : i + chunk] for i in range(0, len(text), chunk)), trainer=trainer)
        return cls(backend)

    def encode(self, text: str) -> list[int]:
        """Text to ids."""
        return self.backend.encode(text).ids

    def decode(self, ids: list[int]) -> str:
        """Ids to text (an incomplete UTF-8 sequence at the end shows as U+FFFD)."""
        return self.backend.decode(list(ids))

    def to_card(self) -> dict[str, Any]:
        """JSON form for the model card (the library's own JSON)."""
        return {"type": "bpe", "json": self.backend.to_str()}


def train_tokenizer(text: str, kind: str = "auto", vocab_size: int = 2048) -> TextTokenizer:
    """Pick and train a tokenizer; ``auto`` uses characters for corpora under 2 MB, BPE above."""
    if not text:
        raise InputError("Cannot build a tokenizer from empty text.")
    if kind == "auto":
        kind = "char" if len(text) < 2_000_000 else "bpe"
    if kind == "char":
        return CharTokenizer.train(text)
    if kind == "bpe":
        return BPETokenizer.train(text, vocab_size)
    raise InputError(f"Unknown tokenizer {kind!r}; use char, bpe or auto.")


def tokenizer_from_card(data: Any) -> TextTokenizer:
    """Rebuild the tokenizer stored in a model card."""
    if isinstance(data, str):
        try:
            data = parse_untrusted_json(data)
        except UnsafeJson as exc:
            raise ModelFileError(f"The model's tokenizer is damaged ({exc}).") from None
    if not isinstance(data, dict) or data.get("type") not in ("char", "bpe"):
        raise ModelFileError("The model file has no usable tokenizer in its card.")
    if data["type"] == "char":
        chars = data.get("chars")  # a string (what to_card writes) or a list of characters
        if not isinstance(chars, (str, list)) or not chars or not all(isinstance(c, str) for c in chars):
            raise ModelFileError("The model's character tokenizer is damaged (it has no characters).")
        return CharTokenizer(list(chars))
    from tokenizers import Tokenizer

    try:
        return BPETokenizer(Tokenizer.from_str(data["json"]))
    except Exception as exc:  # noqa: BLE001 - the library raises plain Exception on bad JSON
        raise ModelFileError(f"The model's BPE tokenizer is damaged ({exc}).") from exc
