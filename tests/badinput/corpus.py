"""A corpus of bad (and awkward) input files, written byte by byte, deterministically, with no downloads.

``write_corpus(folder)`` writes every file and returns :class:`BadInput` entries
saying which loaders each one applies to, whether refusing or opening it is the
right outcome, and what a good message mentions. The 200 MB text file is written
separately by ``write_huge_text`` (tests make it once per session).

Run ``python -m tests.badinput.corpus FOLDER`` to write the corpus for a look.
"""

from __future__ import annotations

import hashlib
import io
import json
import pickle
import struct
import sys
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

# Loaders: every way a user's file gets into the app (GUI and CLI share these names).
IMAGE_OPEN = "image-open"  # File > Open / drop on the window (recipe PNG or picture to encode)
IMAGE_ENCODE = "image-encode"  # a picture dropped on the canvas, encoded by the VAE job
IMAGE_FOLDER = "image-folder"  # image training data
TEXT_OPEN = "text-open"  # File > Open in the writer studio; CLI --prompt-file
TEXT_CORPUS = "text-corpus"  # text training data
MIDI_OPEN = "midi-open"  # File > Open / drop in the music studio; CLI --prime
MIDI_CORPUS = "midi-corpus"  # music training data
MODEL_IMAGE = "model-image"  # a model file for the image studio (picker, --model)
MODEL_TEXT = "model-text"  # a model file for the writer studio (picker, --model, --init, --resume)
MODEL_MUSIC = "model-music"  # a model file for the music studio (picker, --model)
MODEL_INFO = "model-info"  # aigc-studio models info FILE
HF_FOLDER = "hf-folder"  # a Hugging Face model folder (writer studio, --model FOLDER)
LOADERS = (IMAGE_OPEN, IMAGE_ENCODE, IMAGE_FOLDER, TEXT_OPEN, TEXT_CORPUS, MIDI_OPEN, MIDI_CORPUS,
           MODEL_IMAGE, MODEL_TEXT, MODEL_MUSIC, MODEL_INFO, HF_FOLDER)
ALL_MODELS = (MODEL_IMAGE, MODEL_TEXT, MODEL_MUSIC, MODEL_INFO)

REFUSE, OPEN = "refuse", "open"
MARKER_NAME = "PICKLE-CODE-RAN"  # the hostile pickle creates this file if it is ever unpickled
HUGE_TEXT_BYTES = 200_000_000

TEXT_SAMPLE = "Café, naïve, façade; Ærø. ¿Qué? «Oui.»\nSecond line.\n"
WIDE_SAMPLE = "Café, naïve — 東京 and 😀 emoji.\nSecond line.\n"


@dataclass(frozen=True)
class BadInput:
    """One input file or folder and what the app should do with it."""

    id: str
    path: Path
    loaders: frozenset[str]
    # Loaders for which opening it (with a note) is right; every other loader must refuse it.
    opens_in: frozenset[str] = frozenset()
    # Each item must appear (case-insensitive) in the message; "a|b" means either.
    mentions: tuple[str, ...] = ()
    # For text that opens: what the editor must show afterwards.
    expected_text: str | None = None

    def outcome(self, loader: str) -> str:
        """OPEN or REFUSE: what ``loader`` should do with this input."""
        return OPEN if loader in self.opens_in else REFUSE

    def message_ok(self, message: str) -> bool:
        """Does ``message`` name the file and the problem?"""
        text = message.lower()
        # A folder may be named by itself or by the file inside it that is at fault.
        names = [self.path.name] + ([p.name for p in self.path.iterdir()] if self.path.is_dir() else [])
        return any(name.lower() in text for name in names) and all(
            any(alt in text for alt in item.lower().split("|")) for item in self.mentions
        )


def write_corpus(root: Path) -> list[BadInput]:
    """Write every bad input under ``root`` and describe them."""
    root.mkdir(parents=True, exist_ok=True)
    entries: list[BadInput] = []
    entries += _images(root / "images")
    entries += _image_folders(root / "image-folders")
    entries += _texts(root / "texts")
    entries += _midis(root / "midi")
    entries += _models(root / "models", root)
    entries += _hf_folders(root / "hf", root)
    ids = [e.id for e in entries]
    assert len(ids) == len(set(ids)), "corpus ids must be unique"
    return entries


def huge_text_entry(path: Path) -> BadInput:
    """The 200 MB text file (written by :func:`write_huge_text`)."""
    return BadInput("huge.txt", path, frozenset({TEXT_OPEN, TEXT_CORPUS}), mentions=("MB",))


def write_huge_text(path: Path, size: int = HUGE_TEXT_BYTES) -> Path:
    """A plain UTF-8 text file of ``size`` bytes, written in 1 MB blocks (about a second)."""
    line = b"All work and no play makes Jack a dull boy. " * 23 + b"\n"
    block = line * (1_000_000 // len(line) + 1)
    block = block[:1_000_000]
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        for _ in range(size // len(block)):
            f.write(block)
        f.write(block[: size % len(block)])
    return path


# ---------------------------------------------------------------- pictures
def _png_bytes(width: int = 64, height: int = 64, fmt: str = "PNG") -> bytes:
    rng = np.random.default_rng(0)
    buffer = io.BytesIO()
    Image.fromarray(rng.integers(0, 255, (height, width, 3), dtype=np.uint8)).save(buffer, format=fmt)
    return buffer.getvalue()


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _png_bomb(width: int, height: int) -> bytes:
    """A valid PNG header claiming ``width`` × ``height`` (RGB) with a few rows of real data."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    rows = zlib.compress(b"\x00" + b"\x00" * (width * 3), 9) if width <= 100_000 else b""
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", rows) + _png_chunk(b"IEND", b"")


def _jpeg_claiming(width: int, height: int) -> bytes:
    """A small real JPEG whose frame header (SOF0) is patched to claim ``width`` × ``height``."""
    data = bytearray(_png_bytes(16, 16, "JPEG"))
    sof = data.index(b"\xff\xc0")
    data[sof + 5:sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def _images(folder: Path) -> list[BadInput]:
    folder.mkdir(parents=True, exist_ok=True)
    png, jpeg, webp = _png_bytes(), _png_bytes(fmt="JPEG"), _png_bytes(fmt="WEBP")
    files = {
        "empty.png": (b"", ("empty|0 bytes",)),
        "truncated.png": (png[: len(png) // 2], ("truncated|damaged",)),
        "corrupt.png": (png[:33] + bytes(range(256)) * 8, ("damaged|not a readable",)),
        "truncated.jpg": (jpeg[: len(jpeg) // 2], ("truncated|damaged",)),
        "corrupt.jpg": (b"\xff\xd8\xff\xe0" + b"\x13\x37" * 500, ("damaged|not a readable",)),
        "truncated.webp": (webp[: len(webp) // 2], ("truncated|damaged|not a readable",)),
        "corrupt.webp": (webp[:12] + b"VP8 " + b"\x55" * 400, ("damaged|not a readable",)),
        "bomb-50000.png": (_png_bomb(50_000, 50_000), ("megapixels",)),
        "bomb-12000.jpg": (_jpeg_claiming(12_000, 12_000), ("megapixels",)),
        "text-renamed.png": (b"This is a note, not a picture.\n" * 4, ("not a readable",)),
    }
    entries = []
    for name, (data, mentions) in files.items():
        (folder / name).write_bytes(data)
        entries.append(BadInput(name, folder / name, frozenset({IMAGE_OPEN, IMAGE_ENCODE}), mentions=mentions))
    # Readable pictures whose AIGC Studio recipe is damaged: opening one must not draw anything.
    recipes = {
        "recipe-not-json.png": ("{latent: [0.1", ("damaged",)),
        "recipe-no-latent.png": (json.dumps({"version": 1, "seed": 3}), ("no latent",)),
        "recipe-latent-text.png": (json.dumps({"version": 1, "latent": ["a", "b"], "seed": 3}), ("latent",)),
        "recipe-version-text.png": (json.dumps({"version": "two", "latent": [0.1]}), ("version",)),
        "recipe-newer.png": (json.dumps({"version": 7, "latent": [0.1]}), ("newer",)),
    }
    for name, (raw, mentions) in recipes.items():
        (folder / name).write_bytes(_png_with_recipe(raw))
        entries.append(BadInput(name, folder / name, frozenset({IMAGE_OPEN}), mentions=mentions))
    return entries


def _png_with_recipe(raw: str) -> bytes:
    """A small PNG carrying ``raw`` as its AIGC Studio recipe chunk."""
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_itxt("aigc-studio", raw)
    buffer = io.BytesIO()
    Image.new("RGB", (16, 16), (200, 40, 40)).save(buffer, format="PNG", pnginfo=info)
    return buffer.getvalue()


def _image_folders(root: Path) -> list[BadInput]:
    empty = root / "empty-image-folder"
    empty.mkdir(parents=True, exist_ok=True)
    only_text = root / "no-images-folder"
    only_text.mkdir(exist_ok=True)
    (only_text / "readme.txt").write_text("no pictures here")
    (only_text / "song.mid").write_bytes(b"MThd")
    broken = root / "broken-images-folder"
    broken.mkdir(exist_ok=True)
    png = _png_bytes()
    (broken / "empty.png").write_bytes(b"")
    (broken / "cut.png").write_bytes(png[:100])
    (broken / "bomb.png").write_bytes(_png_bomb(50_000, 50_000))
    (broken / "words.jpg").write_text("not a jpeg")
    return [
        BadInput("empty-image-folder", empty, frozenset({IMAGE_FOLDER}), mentions=("no png",)),
        BadInput("no-images-folder", only_text, frozenset({IMAGE_FOLDER}), mentions=("no png",)),
        BadInput("broken-images-folder", broken, frozenset({IMAGE_FOLDER}), mentions=("none readable",)),
    ]


# ---------------------------------------------------------------- text
def _texts(folder: Path) -> list[BadInput]:
    folder.mkdir(parents=True, exist_ok=True)
    broken_utf8 = WIDE_SAMPLE.encode("utf-8")
    broken_utf8 = broken_utf8[:5] + b"\xff\xfe" + broken_utf8[5:]
    files = {
        # name: (bytes, loaders, what the message or note mentions, editor text when opened)
        # An empty file opens as an empty document in the editor, but it is no training data.
        "empty.txt": (b"", {TEXT_OPEN, TEXT_CORPUS}, ("empty",), ""),
        "latin1.txt": (TEXT_SAMPLE.encode("latin-1"), {TEXT_OPEN}, ("read as cp1252",), TEXT_SAMPLE),
        "utf16-bom.txt": (WIDE_SAMPLE.encode("utf-16"), {TEXT_OPEN}, ("read as utf-16",), WIDE_SAMPLE),
        "utf16le-nobom.txt": (TEXT_SAMPLE.encode("utf-16-le"), {TEXT_OPEN}, ("read as utf-16",), TEXT_SAMPLE),
        "invalid-utf8.txt": (broken_utf8, {TEXT_OPEN}, ("invalid byte",),
                             WIDE_SAMPLE[:4] + "\ufffd\ufffd" + WIDE_SAMPLE[4:]),
        "binary-renamed.txt": (_png_bytes(), {TEXT_OPEN, TEXT_CORPUS}, ("binary",), None),
        "zip-renamed.md": (b"PK\x03\x04" + bytes(range(256)) * 4, {TEXT_OPEN, TEXT_CORPUS}, ("binary",), None),
    }
    entries = []
    for name, (data, loaders, mentions, text) in files.items():
        (folder / name).write_bytes(data)
        opens = frozenset({TEXT_OPEN} if text is not None else ())
        entries.append(BadInput(name, folder / name, frozenset(loaders), opens, mentions, text))
    # Our own sidecar beside a text, hand-edited: its hash matches but the spans are nonsense.
    spans_text = "A draft with a damaged sidecar.\n"
    (folder / "damaged-sidecar.md").write_text(spans_text, encoding="utf-8")
    sidecar = {"format": "aigc-studio-text-spans", "version": 1,
               "text_sha256": hashlib.sha256(spans_text.encode()).hexdigest(),
               "generated_spans": [[2, "x"], "oops", [1], [True, 3], None, [0, 5]]}
    (folder / "damaged-sidecar.md.aigc.json").write_text(json.dumps(sidecar), encoding="utf-8")
    entries.append(BadInput("damaged-sidecar.md", folder / "damaged-sidecar.md", frozenset({TEXT_OPEN}),
                            frozenset({TEXT_OPEN}), expected_text=spans_text))
    nothing = folder / "no-usable-text-folder"
    nothing.mkdir(exist_ok=True)
    (nothing / "blank.txt").write_text("  \n\n")
    (nothing / "photo.txt").write_bytes(_png_bytes(8, 8))
    (nothing / "picture.png").write_bytes(_png_bytes(8, 8))
    empty_folder = folder / "empty-text-folder"
    empty_folder.mkdir(exist_ok=True)
    entries.append(BadInput("no-usable-text-folder", nothing, frozenset({TEXT_CORPUS}),
                            mentions=("binary|empty|no usable",)))
    entries.append(BadInput("empty-text-folder", empty_folder, frozenset({TEXT_CORPUS}), mentions=("no .txt",)))
    return entries


# ---------------------------------------------------------------- MIDI
def _vlq(value: int) -> bytes:
    out = [value & 0x7F]
    value >>= 7
    while value:
        out.append(0x80 | (value & 0x7F))
        value >>= 7
    return bytes(reversed(out))


def _track(events: bytes, end: bool = True) -> bytes:
    body = events + (b"\x00\xff\x2f\x00" if end else b"")
    return b"MTrk" + struct.pack(">I", len(body)) + body


def _header(fmt: int, tracks: int, division: int) -> bytes:
    return b"MThd" + struct.pack(">IHHH", 6, fmt, tracks, division)


def _notes(*pitches: int, length: int = 480) -> bytes:
    """Note-on/note-off pairs one after another (explicit status bytes)."""
    out = b""
    for p in pitches:
        out += b"\x00\x90" + bytes([p, 90]) + _vlq(length) + b"\x80" + bytes([p, 0])
    return out


def _midis(folder: Path) -> list[BadInput]:
    folder.mkdir(parents=True, exist_ok=True)
    tempo = b"\x00\xff\x51\x03\x07\xa1\x20"  # 500 000 µs per beat
    good = _header(1, 2, 480) + _track(tempo) + _track(_notes(60, 62, 64, 65, 67))
    smpte_division = (0xE7 << 8) | 40  # -25 fps, 40 ticks per frame = 1000 ticks per second
    files = {
        "empty.mid": (b"", REFUSE, ("empty|0 bytes",)),
        "truncated.mid": (good[: len(good) - 12], REFUSE, ("truncated",)),
        "bad-header-type.mid": (_header(7, 1, 480) + _track(_notes(60)), REFUSE, ("type 7",)),
        "jpeg-renamed.mid": (_png_bytes(8, 8, "JPEG"), REFUSE, ("not a standard midi",)),
        "bad-running-status.mid": (_header(0, 1, 480) + _track(b"\x00\x3c\x40" + _notes(60)), REFUSE,
                                   ("running status",)),
        "zero-tracks.mid": (_header(0, 0, 480), REFUSE, ("no tracks",)),
        "format2.mid": (_header(2, 2, 480) + _track(_notes(60)) + _track(_notes(64)), REFUSE, ("type 2",)),
        "smpte.mid": (_header(0, 1, smpte_division) + _track(_notes(60, 64, length=1000)), OPEN, ("smpte",)),
        "hanging-note.mid": (_header(0, 1, 480) + _track(b"\x00\x90\x3c\x50" + _notes(64) + b"\x83\x60\x90\x43\x50"),
                             OPEN, ("no note-off",)),
        # A tempo of 0 µs per beat and a 0/4 time signature would divide by zero in the roll and the player.
        "zero-tempo.mid": (_header(0, 1, 480) + _track(b"\x00\xff\x51\x03\x00\x00\x00" + _notes(60)), OPEN, ("tempo",)),
        "bad-time-signature.mid": (_header(0, 1, 480) + _track(b"\x00\xff\x58\x04\x00\x02\x18\x08" + _notes(60)),
                                   OPEN, ("time signature",)),
    }
    entries = []
    for name, (data, outcome, mentions) in files.items():
        (folder / name).write_bytes(data)
        # A file that opens would be used as training data too; training on it is not a bad-input test.
        loaders = {MIDI_OPEN} if outcome == OPEN else {MIDI_OPEN, MIDI_CORPUS}
        opens = frozenset({MIDI_OPEN} if outcome == OPEN else ())
        entries.append(BadInput(name, folder / name, frozenset(loaders), opens, mentions))
    empty_folder = folder / "empty-midi-folder"
    empty_folder.mkdir(exist_ok=True)
    (empty_folder / "notes.txt").write_text("no MIDI here")
    broken = folder / "broken-midi-folder"
    broken.mkdir(exist_ok=True)
    for name in ("empty.mid", "truncated.mid", "zero-tracks.mid"):
        (broken / name).write_bytes((folder / name).read_bytes())
    entries.append(BadInput("empty-midi-folder", empty_folder, frozenset({MIDI_CORPUS}), mentions=("no .mid",)))
    entries.append(BadInput("broken-midi-folder", broken, frozenset({MIDI_CORPUS}),
                            mentions=("could be used", "empty|truncated|no tracks")))
    return entries


# ---------------------------------------------------------------- model files
class _RunsCodeOnLoad:
    """Unpickling this calls ``Path.touch(marker)``: proof that a loader unpickled a user's file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (Path(self.marker),))


def hostile_pickle(marker: Path) -> bytes:
    """Pickle bytes that create ``marker`` when loaded (a stand-in for any code)."""
    return pickle.dumps({"state_dict": _RunsCodeOnLoad(marker)}, protocol=2)


def _safetensors_parts(path: Path) -> tuple[dict, bytes]:
    data = path.read_bytes()
    (length,) = struct.unpack("<Q", data[:8])
    return json.loads(data[8:8 + length]), data[8 + length:]


def _safetensors_bytes(header: dict, body: bytes) -> bytes:
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)
    return struct.pack("<Q", len(raw)) + raw + body


def _with_card(source: Path, change) -> bytes:
    """``source`` (a real model file) with its card passed through ``change(card)``."""
    header, body = _safetensors_parts(source)
    card = json.loads(header["__metadata__"]["aigc_studio"])
    change(card)
    header["__metadata__"]["aigc_studio"] = json.dumps(card)
    return _safetensors_bytes(header, body)


def bundled_model(name: str) -> Path:
    """A starter model shipped in resources/models."""
    from aigc_studio.core.paths import bundled_models_dir

    return bundled_models_dir() / f"{name}.safetensors"


def _models(folder: Path, root: Path) -> list[BadInput]:
    folder.mkdir(parents=True, exist_ok=True)
    gan, gpt = bundled_model("emoji-gan-64"), bundled_model("shakespeare-gpt")
    music, music_vae = bundled_model("music-chorales-transformer"), bundled_model("music-chorales-vae")
    foreign_header = {"__metadata__": {"format": "pt"}, "weight": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 16]}}
    marker = root / MARKER_NAME

    def set_(key, value):
        return lambda card: card.__setitem__(key, value)

    def config(key, value):
        return lambda card: card["config"].__setitem__(key, value)

    files = {
        # name: (bytes, loaders, mentions)
        "empty.safetensors": (b"", ALL_MODELS, ("empty|0 bytes|too short|not a",)),
        "truncated.safetensors": (gpt.read_bytes()[:200_000], ALL_MODELS, ("truncated|damaged|incomplete|shorter",)),
        "pickle.safetensors": (hostile_pickle(marker), ALL_MODELS, ("pickle",)),
        "pickle.bin": (hostile_pickle(marker), ALL_MODELS, ("pickle",)),
        "foreign.safetensors": (_safetensors_bytes(foreign_header, b"\x00" * 16), ALL_MODELS, ("not an aigc studio model",)),
        "music-model-as-image.safetensors": (music_vae.read_bytes(), (MODEL_IMAGE, MODEL_TEXT), ("music-vae",)),
        "image-model-as-music.safetensors": (gan.read_bytes(), (MODEL_MUSIC,), ("image-gan",)),
        "newer-format.safetensors": (_with_card(gpt, set_("format_version", 99)), ALL_MODELS, ("version 99",)),
        "shape-mismatch-image.safetensors": (_with_card(gan, config("w_dim", 96)), (MODEL_IMAGE,), ("shape|size|match",)),
        "shape-mismatch-text.safetensors": (_with_card(gpt, config("width", 240)), (MODEL_TEXT,), ("shape|size|match",)),
        "shape-mismatch-music.safetensors": (_with_card(music, config("width", 256)), (MODEL_MUSIC,), ("shape|size|match",)),
    }
    entries = []
    for name, (data, loaders, mentions) in files.items():
        (folder / name).write_bytes(data)
        entries.append(BadInput(name, folder / name, frozenset(loaders), mentions=mentions))
    return entries


# ---------------------------------------------------------------- Hugging Face folders
def _hf_folders(root: Path, corpus_root: Path) -> list[BadInput]:
    config = {"model_type": "gpt2", "architectures": ["GPT2LMHeadModel"], "vocab_size": 16, "n_embd": 8,
              "n_layer": 1, "n_head": 1, "n_positions": 16}
    weights = _safetensors_bytes({"__metadata__": {"format": "pt"},
                                  "transformer.wte.weight": {"dtype": "F32", "shape": [16, 8], "data_offsets": [0, 512]}},
                                 b"\x00" * 512)
    tokenizer = json.dumps({"version": "1.0", "model": {"type": "WordLevel", "vocab": {"a": 0}, "unk_token": "a"}})
    layouts = {
        # name: ({file: bytes}, mentions)
        "hf-empty-folder": ({}, ("config.json",)),
        "hf-config-only": ({"config.json": json.dumps(config).encode()}, ("weight",)),
        "hf-no-config": ({"model.safetensors": weights, "tokenizer.json": tokenizer.encode()}, ("config.json",)),
        "hf-no-tokenizer": ({"config.json": json.dumps(config).encode(), "model.safetensors": weights}, ("tokenizer",)),
        "hf-broken-config": ({"config.json": b"{not json", "model.safetensors": weights,
                              "tokenizer.json": tokenizer.encode()}, ("config.json",)),
        "hf-pickle-weights": ({"config.json": json.dumps(config).encode(), "tokenizer.json": tokenizer.encode(),
                               "pytorch_model.bin": hostile_pickle(corpus_root / MARKER_NAME)}, ("pickle",)),
    }
    entries = []
    for name, (files, mentions) in layouts.items():
        folder = root / name
        folder.mkdir(parents=True, exist_ok=True)
        for file_name, data in files.items():
            (folder / file_name).write_bytes(data)
        entries.append(BadInput(name, folder, frozenset({HF_FOLDER}), mentions=mentions))
    return entries


if __name__ == "__main__":
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "bad-inputs")
    for entry in write_corpus(target):
        print(f"{entry.id:36} {', '.join(f'{x}:{entry.outcome(x)}' for x in sorted(entry.loaders))}")
