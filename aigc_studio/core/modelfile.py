"""One model = one ``.safetensors`` file with a JSON card in its metadata.

Loading never unpickles: the header is parsed as JSON by hand first, so a
pickle, zip or random file is named for what it is and refused before any
tensor library touches it.
"""

from __future__ import annotations

import functools
import hashlib
import json
import struct
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aigc_studio.core.atomic import atomic_path
from aigc_studio.core.card_schema import validate_card, validate_config, validate_tensor_table, validate_tokenizer
from aigc_studio.core.untrusted_json import NotJson, UnsafeJson, parse_untrusted_json
from aigc_studio.errors import ModelFileError

if TYPE_CHECKING:
    import torch

FORMAT_VERSION = 1
CARD_KEY = "aigc_studio"
MODEL_KINDS = ("image-gan", "image-vae", "text-gpt", "text-vae", "music-transformer", "music-vae")
_MAX_HEADER_BYTES = 16 * 1024 * 1024  # our headers are a few KB; a big tokenizer makes them a few MB


@dataclass
class ModelCard:
    """What a model file says about itself; ``config`` is enough to rebuild the model."""

    kind: str
    config: dict[str, Any]
    name: str = ""
    description: str = ""
    tokenizer: Any = None
    training: dict[str, Any] = field(default_factory=dict)
    license: str = ""
    data_sources: str = ""
    untrained: bool = False
    format_version: int = FORMAT_VERSION
    content_hash: str = ""
    created: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    evaluation: dict[str, Any] = field(default_factory=dict)  # see aigc_studio.evaluate.card (versioned)

    def to_json(self) -> str:
        """Serialise to the JSON stored in the file."""
        return json.dumps(asdict(self), ensure_ascii=False, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> ModelCard:
        """Parse the stored JSON (bounded: see :mod:`untrusted_json`), keeping unknown keys in ``extra``."""
        return cls.from_data(parse_untrusted_json(text))

    @classmethod
    def from_data(cls, data: Any) -> ModelCard:
        """Build from parsed card JSON, keeping unknown keys in ``extra``."""
        if not isinstance(data, dict):
            raise ValueError("card is not a JSON object")
        known = {f for f in cls.__dataclass_fields__}
        extra = dict(data.get("extra") or {})
        extra.update({k: v for k, v in data.items() if k not in known})
        kwargs = {k: v for k, v in data.items() if k in known and k != "extra"}
        return cls(**kwargs, extra=extra)

    @property
    def short_hash(self) -> str:
        """The first 12 hex digits of the content hash, as shown to users."""
        return self.content_hash[:12]

    def summary(self) -> str:
        """One line for lists: name, training summary, untrained label."""
        parts = [self.description or self.name or self.kind]
        steps = self.training.get("steps")
        if steps:
            parts.append(f"{steps} steps")
        loss = self.training.get("final_loss", self.training.get("val_loss"))
        if isinstance(loss, (int, float)):
            parts.append(f"loss {loss:.3f}")
        if self.untrained:
            parts.append("UNTRAINED (random weights)")
        return ", ".join(parts)


def content_hash(tensors: dict[str, torch.Tensor]) -> str:
    """SHA-256 over names, dtypes, shapes and bytes of all tensors, in name order."""
    import torch

    digest = hashlib.sha256()
    for name in sorted(tensors):
        tensor = tensors[name].detach().cpu().contiguous()
        digest.update(name.encode())
        digest.update(str(tensor.dtype).encode())
        digest.update(str(tuple(tensor.shape)).encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def save_model(path: str | Path, tensors: dict[str, torch.Tensor], card: ModelCard) -> ModelCard:
    """Write tensors and card atomically; returns the card with hash and date filled in."""
    from safetensors.torch import save_file

    if card.kind not in MODEL_KINDS:
        raise ModelFileError(f"Unknown model kind {card.kind!r}; expected one of {', '.join(MODEL_KINDS)}.")
    tensors = {k: v.detach().cpu().contiguous() for k, v in tensors.items()}
    card.content_hash = content_hash(tensors)
    card.format_version = FORMAT_VERSION
    card.created = card.created or time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata={CARD_KEY: card.to_json(), "format": "pt"})
    return card


def _names_the_file(read):
    """Mark a ModelFileError raised while reading ``path`` with that path (the GUI shows which file)."""

    @functools.wraps(read)
    def wrapper(path, *args, **kwargs):
        try:
            return read(path, *args, **kwargs)
        except ModelFileError as exc:
            if exc.path is None:
                exc.path = str(path)
            raise

    return wrapper


@_names_the_file
def read_card(path: str | Path, expected_kind: str | tuple[str, ...] | None = None) -> ModelCard:
    """Read only the card (fast, no tensors); refuse files that are not our models.

    The card and the tensor table are checked against :mod:`card_schema` here, so
    nothing is built or read from a file whose card is damaged or hostile.
    """
    path = Path(path)
    header, data_bytes = _read_header(path)
    metadata = header.get("__metadata__") or {}
    if not isinstance(metadata, dict) or CARD_KEY not in metadata:
        raise ModelFileError(
            f"{path.name} is a safetensors file but not an AIGC Studio model (it has no model card). "
            "Expected a model saved by AIGC Studio."
        )
    if not isinstance(metadata[CARD_KEY], str):
        raise ModelFileError(f"{path.name} has a damaged model card (it is not text).")
    try:
        data = parse_untrusted_json(metadata[CARD_KEY])
    except UnsafeJson as exc:
        raise ModelFileError(f"{path.name} has a damaged model card ({exc}).") from None
    version = data.get("format_version") if isinstance(data, dict) else None
    if isinstance(version, int) and not isinstance(version, bool) and version > FORMAT_VERSION:
        raise ModelFileError(
            f"{path.name} is model format version {version}; this version of AIGC Studio "
            f"reads up to version {FORMAT_VERSION}. Update AIGC Studio to open it."
        )
    validate_card(data, path.name, MODEL_KINDS)
    card = ModelCard.from_data(data)
    _check_kind(path, card, expected_kind)  # "wrong kind" says more than a config detail would
    validate_config(card.config, card.kind, path.name)
    validate_tokenizer(card.tokenizer, card.kind, path.name)
    validate_tensor_table(header, data_bytes, path.name)
    return card


@_names_the_file
def load_model(
    path: str | Path, expected_kind: str | tuple[str, ...] | None = None
) -> tuple[ModelCard, dict[str, torch.Tensor]]:
    """Load card and tensors (on the CPU); refuses bad cards and wrong kinds before reading tensors."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    card = read_card(path, expected_kind)
    try:
        tensors = load_file(str(path), device="cpu")
    except (SafetensorError, OSError, ValueError) as exc:
        raise ModelFileError(f"{Path(path).name} is damaged and cannot be read ({exc}).") from exc
    if card.content_hash and content_hash(tensors) != card.content_hash:
        raise ModelFileError(
            f"{Path(path).name} is damaged: its weights do not match the content hash in its card "
            "(the file was changed or corrupted after it was saved)."
        )
    return card, tensors


def load_into(module: torch.nn.Module, tensors: dict[str, torch.Tensor], path: str | Path, prefix: str = "") -> None:
    """Copy ``tensors`` (optionally under ``prefix``) into ``module``, naming any shape mismatch."""
    wanted = module.state_dict()
    given = {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}
    missing = sorted(set(wanted) - set(given))
    unexpected = sorted(set(given) - set(wanted))
    wrong = [
        f"{k}: file {tuple(given[k].shape)} vs model {tuple(wanted[k].shape)}"
        for k in wanted
        if k in given and given[k].shape != wanted[k].shape
    ]
    if missing or unexpected or wrong:
        details = "; ".join(
            part
            for part in (
                f"missing {', '.join(missing[:3])}" if missing else "",
                f"unexpected {', '.join(unexpected[:3])}" if unexpected else "",
                f"wrong shape {', '.join(wrong[:3])}" if wrong else "",
            )
            if part
        )
        raise ModelFileError(f"{Path(path).name} does not match the architecture in its card ({details}).")
    module.load_state_dict(given, strict=True)


def _check_kind(path: Path, card: ModelCard, expected: str | tuple[str, ...] | None) -> None:
    if expected is None:
        return
    allowed = (expected,) if isinstance(expected, str) else tuple(expected)
    if not any(card.kind == kind or card.kind.startswith(kind + "-") for kind in allowed):
        raise ModelFileError(
            f"{path.name} is {with_article(card.kind)} model; expected {' or '.join(allowed)}."
        )


def _read_header(path: Path) -> tuple[dict[str, Any], int]:
    """Parse the safetensors header as plain JSON (and say how many data bytes follow it)."""
    if not path.exists():
        raise ModelFileError(f"Model file not found: {path}")
    if path.is_dir():
        raise ModelFileError(f"{path} is a folder, not a model file.")
    size = path.stat().st_size
    with open(path, "rb") as handle:
        head = handle.read(8)
        if len(head) < 8:
            raise ModelFileError(f"{path.name} is empty or truncated ({size} bytes); expected a .safetensors model.")
        (header_len,) = struct.unpack("<Q", head)
        if header_len > min(size - 8, _MAX_HEADER_BYTES) or header_len < 2:
            raise ModelFileError(f"{path.name} is {_identify(head)}, not a .safetensors model file.")
        raw = handle.read(header_len)
    try:
        header = parse_untrusted_json(raw, max_bytes=_MAX_HEADER_BYTES)
    except NotJson:
        raise ModelFileError(f"{path.name} is {_identify(head)}, not a .safetensors model file.") from None
    except UnsafeJson as exc:
        raise ModelFileError(f"{path.name} has a damaged or hostile header ({exc}); it is not opened.") from None
    if not isinstance(header, dict):
        raise ModelFileError(f"{path.name} has a malformed header; expected a .safetensors model file.")
    return header, size - 8 - header_len


def _identify(head: bytes) -> str:
    if head.startswith(b"PK"):
        return "a zip archive (a PyTorch .pt/.pth/.bin pickle checkpoint?), which AIGC Studio never opens because unpickling can run code"
    if head[:1] == b"\x80" and head[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05"):
        return "a Python pickle, which AIGC Studio never opens because unpickling can run code"
    if head.startswith(b"\x89PNG"):
        return "a PNG image"
    if head.startswith(b"MThd"):
        return "a MIDI file"
    if head.startswith(b"GGUF"):
        return "a GGUF file (llama.cpp format)"
    if all(32 <= b < 127 or b in (9, 10, 13) for b in head):
        return "a text file"
    return "an unrecognised binary file"


def with_article(kind: str) -> str:
    """'a text-gpt', 'an image-gan': for messages that name a model kind."""
    return f"{'an' if kind[:1].lower() in 'aeiou' else 'a'} {kind}"
