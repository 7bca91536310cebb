"""The schema a model file's card and tensor table must satisfy before any tensor is read.

A model file may come from anyone. Its card decides what we build (layer
counts, widths, vocabulary sizes), so a hand-edited or hostile card could ask
for a model that fills all memory, or smuggle values of the wrong type into
code that trusts them. Everything here is plain JSON checking: no torch, so
the model list can use it on the GUI thread.
"""

from __future__ import annotations

import re
from typing import Any

from aigc_studio.core.untrusted_json import Float, Int, json_type
from aigc_studio.errors import ModelFileError

# Top-level card fields and the JSON types they may hold.
CARD_FIELDS: dict[str, tuple[type, ...]] = {
    "kind": (str,),
    "config": (dict,),
    "name": (str,),
    "description": (str,),
    "tokenizer": (dict, list, type(None)),
    "training": (dict,),
    "license": (str,),
    "data_sources": (str,),
    "untrained": (bool,),
    "format_version": (int,),
    "content_hash": (str,),
    "created": (str,),
    "extra": (dict,),
    "evaluation": (dict,),  # figures of the short evaluation after training (aigc_studio.evaluate.card)
}
REQUIRED_CARD_FIELDS = ("kind", "config", "format_version")


class Choice:
    """One of a fixed set of values."""

    def __init__(self, *options: Any) -> None:
        self.options = options

    def check(self, value: Any) -> str | None:
        """An error text, or None when ``value`` is allowed."""
        if value not in self.options or type(value) is not type(self.options[0]):
            return f"is {value!r}; expected one of {', '.join(map(repr, self.options))}"
        return None


class Names:
    """A list of short, distinct names (class names of a conditional model): bounded, so a card cannot ask
    for an embedding table that fills memory."""

    def __init__(self, most: int, longest: int = 200) -> None:
        self.most, self.longest = most, longest

    def check(self, value: Any) -> str | None:
        """An error text, or None when ``value`` is allowed."""
        if not isinstance(value, list):
            return f"must be a list of names, not {json_type(value)}"
        if len(value) > self.most:
            return f"lists {len(value):,} names, more than {self.most:,}"
        if not all(isinstance(name, str) and 0 < len(name) <= self.longest for name in value):
            return f"must hold names of 1 to {self.longest} characters"
        if len(set(value)) != len(value):
            return "names a class twice"
        return None


_WIDTH = Int(1, 16384)
_TRANSFORMER = {
    "vocab_size": Int(2, 1_000_000),
    "context": Int(1, 65536),
    "layers": Int(1, 256),
    "heads": Int(1, 256),
    "width": _WIDTH,
    "dropout": Float(0.0, 1.0),
    "tie_embeddings": Choice(True, False),
}

# Per kind: every config field the model families know, with its allowed values. Unknown
# fields are allowed (a newer minor version may add some; the loaders ignore them).
CONFIG_SCHEMAS: dict[str, dict[str, Any]] = {
    "image-gan": {
        "resolution": Int(8, 1024),
        "z_dim": Int(1, 4096),
        "w_dim": Int(1, 4096),
        "mapping_layers": Int(0, 32),
        "g_channels": _WIDTH,
        "d_channels": _WIDTH,
        "max_channels": _WIDTH,
        "d_norm": Choice("batch", "spectral"),
        "g_norm": Choice("batch", "pixel"),
        "modulate": Choice(True, False),
        "classes": Names(10_000),
    },
    "image-vae": {
        "resolution": Int(8, 1024),
        "latent_dim": Int(1, 4096),
        "channels": _WIDTH,
        "max_channels": _WIDTH,
        "ssim_weight": Float(0.0, 1000.0),
        "kl_weight": Float(0.0, 1000.0),
        "kl_warmup": Int(0, 10_000_000),
        "ssim_scales": Int(1, 8),
        "adv_weight": Float(0.0, 1000.0),
        "adv_start": Int(0, 100_000_000),
        "adv_channels": _WIDTH,
    },
    "text-gpt": _TRANSFORMER,
    "music-transformer": _TRANSFORMER,
    "text-vae": {
        "vocab_size": Int(4, 1_000_000),
        "embed": _WIDTH,
        "hidden": _WIDTH,
        "latent": Int(1, 4096),
        "max_len": Int(1, 4096),
    },
    "music-vae": {
        "bars": Int(1, 64),
        "steps_per_beat": Int(1, 48),
        "beats_per_bar": Int(1, 32),
        "embed": _WIDTH,
        "hidden": _WIDTH,
        "latent": Int(1, 4096),
    },
}
# The tokenizer a card stores decides the vocabulary that is built before any weight is read.
_MUSIC_TOKENIZER = {
    "steps_per_beat": Int(1, 48),
    "max_bar_beats": Int(1, 64),
    "max_duration_steps": Int(1, 1024),
    "velocity_bins": Int(1, 128),
    "tempo_min": Int(1, 1000),
    "tempo_max": Int(1, 1000),
    "tempo_step": Int(1, 1000),
}
MAX_VOCABULARY = 1_000_000
REQUIRED_CONFIG_FIELDS = {
    "text-gpt": ("vocab_size",),
    "music-transformer": ("vocab_size",),
    "text-vae": ("vocab_size",),
}

# safetensors dtypes and their sizes in bytes.
DTYPE_BYTES = {
    "BOOL": 1, "U8": 1, "I8": 1, "F8_E5M2": 1, "F8_E4M3": 1,
    "I16": 2, "U16": 2, "F16": 2, "BF16": 2,
    "I32": 4, "U32": 4, "F32": 4,
    "I64": 8, "U64": 8, "F64": 8,
}  # fmt: skip
MAX_TENSOR_DIMS = 16
_HEX64 = re.compile(r"[0-9a-f]{64}")


def validate_card(data: Any, file_name: str, kinds: tuple[str, ...]) -> None:
    """Refuse a card (parsed JSON) whose fields or kind break the schema (config: see below)."""
    if not isinstance(data, dict):
        raise ModelFileError(f"{file_name} has a damaged model card (it is not a JSON object).")
    for key in REQUIRED_CARD_FIELDS:
        if key not in data:
            raise ModelFileError(f"{file_name} has a damaged model card (no {key!r} field).")
    for key, types in CARD_FIELDS.items():
        if key in data and (not isinstance(data[key], types) or (bool not in types and isinstance(data[key], bool))):
            wanted = " or ".join(_json_name(t) for t in types)
            raise ModelFileError(
                f"{file_name} has a damaged model card ({key!r} is {json_type(data[key])}, expected {wanted})."
            )
    kind = data["kind"]
    if kind not in kinds:
        raise ModelFileError(f"{file_name} is an unknown model kind {kind!r}; expected one of {', '.join(kinds)}.")
    if data.get("content_hash") and not _HEX64.fullmatch(data["content_hash"]):
        raise ModelFileError(f"{file_name} has a damaged model card (its content hash is not a SHA-256).")


def validate_config(config: dict[str, Any], kind: str, file_name: str) -> None:
    """Refuse an architecture config with missing, mistyped or absurd values for ``kind``."""
    for key in REQUIRED_CONFIG_FIELDS.get(kind, ()):
        if key not in config:
            raise ModelFileError(f"{file_name} has an incomplete architecture config (no {key!r}).")
    for key, rule in CONFIG_SCHEMAS.get(kind, {}).items():
        if key in config and (problem := rule.check(config[key])):
            raise ModelFileError(f"{file_name} has an unusable architecture config ({key} {problem}).")


def validate_tokenizer(tokenizer: Any, kind: str, file_name: str) -> None:
    """Refuse a stored tokenizer whose fields have the wrong type or would build an absurd vocabulary."""

    def damaged(problem: str) -> ModelFileError:
        return ModelFileError(f"{file_name} has a damaged tokenizer in its card ({problem}).")

    if tokenizer is None:
        return
    if kind == "music-transformer":
        if not isinstance(tokenizer, dict):
            raise damaged(f"it is {json_type(tokenizer)}, expected an object")
        for key, rule in _MUSIC_TOKENIZER.items():
            if key in tokenizer and (problem := rule.check(tokenizer[key])):
                raise damaged(f"{key} {problem}")
    elif kind in ("text-gpt", "text-vae"):
        if not isinstance(tokenizer, dict):
            raise damaged(f"it is {json_type(tokenizer)}, expected an object")
        if kind == "text-gpt" and tokenizer.get("type") not in ("char", "bpe"):
            raise damaged("its type is not 'char' or 'bpe'")
        for key in ("chars", "itos"):
            words = tokenizer.get(key)
            if words is not None and not (
                isinstance(words, (str, list))
                and len(words) <= MAX_VOCABULARY
                and all(isinstance(w, str) for w in words)
            ):
                raise damaged(f"{key!r} must be text or a list of at most {MAX_VOCABULARY:,} texts")
        if "json" in tokenizer and not isinstance(tokenizer["json"], str):
            raise damaged("'json' must be text")


def validate_tensor_table(header: dict[str, Any], data_bytes: int, file_name: str) -> None:
    """Check every tensor entry (dtype, shape, byte range) against the file's size, without reading it."""
    end_of_data = 0
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        where = f"{file_name}: tensor {name[:80]!r}"
        if not isinstance(entry, dict):
            raise ModelFileError(f"{where} has a malformed entry; the file is damaged.")
        dtype, shape, offsets = entry.get("dtype"), entry.get("shape"), entry.get("data_offsets")
        if not isinstance(dtype, str) or dtype not in DTYPE_BYTES:  # a list or object cannot be looked up
            raise ModelFileError(f"{where} has an unknown element type {dtype!r}; the file is damaged.")
        if not isinstance(shape, list) or len(shape) > MAX_TENSOR_DIMS or not all(_natural(n) for n in shape):
            raise ModelFileError(f"{where} has a malformed shape; the file is damaged.")
        if not (isinstance(offsets, list) and len(offsets) == 2 and all(_natural(n) for n in offsets)):
            raise ModelFileError(f"{where} has malformed byte offsets; the file is damaged.")
        count = 1
        for n in shape:
            count = min(count * n, data_bytes + 1)  # bounded: a product of huge numbers would take a while
        begin, end = offsets
        if end - begin != count * DTYPE_BYTES[dtype]:
            raise ModelFileError(f"{where}: its shape {shape} does not match its stored size; the file is damaged.")
        if end > data_bytes:
            raise ModelFileError(
                f"{file_name} is truncated: tensor {name[:80]!r} ends at byte {end:,} of data, "
                f"but the file holds only {data_bytes:,}."
            )
        end_of_data = max(end_of_data, end)
    if end_of_data < data_bytes:
        raise ModelFileError(f"{file_name} has {data_bytes - end_of_data:,} unexpected bytes after its tensors.")


def _natural(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _json_name(kind: type) -> str:
    return {str: "text", dict: "an object", list: "a list", bool: "true/false", int: "a whole number"}.get(
        kind, "null" if kind is type(None) else kind.__name__
    )
