"""Fuzz every reader of files a user may be sent: no crash, no hang, no memory blow-up.

For each reader, N inputs: the hostile files of issue 17 first, then mutations of valid
seed files written by our own writers (byte-level: flips, interesting integers, cuts,
repeats, splices; structure-aware: hostile JSON values put back into a well-formed
safetensors header, PNG chunk, sidecar or autosave record; MIDI built from hostile event
streams). Each input is written to a file and handed to the public reader in a worker
process that measures the CPU time and the peak memory (RSS high-water mark, reset per
input) the call costs; a worker that runs past the hard limit is killed and the input
counts as a hang.

An input is *refused* when the reader raises our own error (StudioError, or CorruptAutosave
for autosaves, which the app sets aside), *accepted* when it returns, and *crashed* on any
other exception, a hang, more than --max-seconds of CPU time or --max-mb of memory.

Run: python benchmarks/fuzz.py --inputs 10000 --jobs 2        (a table per reader at the end)
     python benchmarks/fuzz.py --inputs 200 --readers midi,model (a quick look)
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import multiprocessing as mp
import multiprocessing.connection
import os
import random
import struct
import sys
import tempfile
import time
import traceback
import zlib
from pathlib import Path

READERS = ("model", "recipe", "sidecar", "autosave", "picture", "midi", "text")
HARD_LIMIT_S = 180.0  # wall clock, generous: the CPU-time limit is what counts; this only catches hangs


# ----------------------------------------------------------------------------- seeds (our own writers)
def _tiny_tensors(kind: str):
    import torch

    g = torch.Generator().manual_seed(len(kind))
    return {
        "a.weight": torch.randn(3, 4, generator=g),
        "b.bias": torch.zeros(5, dtype=torch.float16),
        "c.idx": torch.arange(6, dtype=torch.int64),
    }


def model_seeds(folder: Path) -> list[bytes]:
    """Small model files of every kind, written by save_model, with the starter models' real cards."""
    from aigc_studio.core.modelfile import ModelCard, read_card, save_model

    root = Path(__file__).resolve().parents[1] / "resources" / "models"
    seeds = []
    for i, starter in enumerate(sorted(root.glob("*.safetensors"))):
        card = read_card(starter)
        card = ModelCard(
            kind=card.kind,
            config=card.config,
            name=card.name,
            tokenizer=card.tokenizer,
            training=card.training,
            license=card.license,
            extra=card.extra,
        )
        path = folder / f"seed-{i}.safetensors"
        save_model(path, _tiny_tensors(card.kind), card)
        seeds.append(path.read_bytes())
    return seeds


def recipe_seeds(folder: Path) -> list[bytes]:
    """PNGs with a recipe, written by save_png."""
    import numpy as np

    from aigc_studio.image.recipe import save_png

    seeds = []
    rng = np.random.default_rng(0)
    for i, scale in enumerate((1, 2)):
        recipe = {
            "version": 1,
            "op": "generate",
            "model": "Emoji GAN",
            "model_hash": "ab" * 32,
            "model_kind": "image-gan",
            "seed": 1234 + i,
            "index": i,
            "psi": 0.7,
            "latent": [float(v) for v in rng.standard_normal(64)],
            "resolution": 16,
            "torch": "2.13.0",
            "device": "cpu",
        }
        path = folder / f"recipe-{i}.png"
        save_png(path, rng.integers(0, 255, (16, 16, 3), dtype=np.uint8), recipe, scale=scale)
        seeds.append(path.read_bytes())
    return seeds


SIDECAR_TEXT = "Once upon a time, generated words followed. The end.\n"


def sidecar_seeds(folder: Path) -> list[bytes]:
    """Sidecars written by write_sidecar for SIDECAR_TEXT."""
    from aigc_studio.text.sidecar import sidecar_path, write_sidecar

    doc = folder / "story.md"
    write_sidecar(doc, SIDECAR_TEXT, [[0, 4], [17, 32]])
    one = sidecar_path(doc).read_bytes()
    write_sidecar(doc, SIDECAR_TEXT, [[i, i + 1] for i in range(0, 50, 2)])
    return [one, sidecar_path(doc).read_bytes()]


def autosave_seeds(folder: Path) -> list[tuple[bytes, bytes | None]]:
    """(record, arrays file) pairs written by AutosaveStore for each studio's kind of record."""
    import numpy as np

    from aigc_studio.core.autosave import AutosaveStore

    os.environ["AIGC_STUDIO_HOME"] = str(folder)
    store = AutosaveStore("canvas", pid=424242)
    out = []
    records = [
        ({"text": SIDECAR_TEXT, "path": "/home/me/story.md", "spans": [[0, 4]]}, None),
        (
            {
                "song": {
                    "ticks_per_beat": 480,
                    "time_signature": [4, 4],
                    "tempos": [[0, 500000]],
                    "tracks": [{"name": "Piano", "program": 0, "channel": 0, "notes": [[60, 0, 480, 90, 1]]}],
                },
                "path": None,
            },
            None,
        ),
        (
            {"recipes": [{"seed": 1, "latent": [0.5, -0.5]}], "selected": [0], "strip": False},
            {"pixels": np.zeros((1, 8, 8, 3), dtype=np.uint8)},
        ),
    ]
    for data, arrays in records:
        store.write(data, arrays)
        arrays_bytes = store._arrays_file.read_bytes() if store._arrays_file else None
        out.append((store.file.read_bytes(), arrays_bytes))
    store.clear()
    store._writer.shutdown()  # its thread would keep the worker process alive at exit
    return out


def picture_seeds(folder: Path) -> list[bytes]:
    """Pictures in each format we open (save_image), plus formats we refuse by name."""
    import numpy as np
    from PIL import Image

    from aigc_studio.image.export import save_image

    rng = np.random.default_rng(1)
    rgb = Image.fromarray(rng.integers(0, 255, (12, 10, 3), dtype=np.uint8))
    seeds = []
    for suffix, image in (
        (".png", rgb),
        (".jpg", rgb),
        (".webp", rgb),
        (".gif", rgb.convert("P")),
        (".bmp", rgb),
        (".png", rgb.convert("RGBA")),
        (".png", rgb.convert("I;16")),
        (".png", rgb.convert("LA")),
    ):
        path = folder / f"pic{len(seeds)}{suffix}"
        save_image(image, path)
        seeds.append(path.read_bytes())
    for fmt, image in (
        ("TIFF", rgb),
        ("DDS", rgb.convert("RGBA")),
        ("ICO", rgb),
        ("TGA", rgb),
        ("PPM", rgb),
        ("SGI", rgb),
        ("PCX", rgb),
        ("IM", rgb),
    ):
        path = folder / f"other{len(seeds)}"
        image.save(path, format=fmt)
        seeds.append(path.read_bytes())
    return seeds


def midi_seeds(folder: Path) -> list[bytes]:
    """Songs written by midi_bytes (type 0 and 1, drums, tempo changes)."""
    from aigc_studio.music.midi_io import midi_bytes
    from aigc_studio.music.song import Note, Song, TempoChange, Track

    rng = random.Random(2)
    seeds = []
    for midi_type in (0, 1):
        song = Song(
            480,
            [Track("Piano", 0, 0, []), Track("Bass", 33, 1, []), Track("Drums", 0, 9, [])],
            [TempoChange(0, 500_000), TempoChange(1920, 400_000)],
            (3, 4),
        )
        for track in song.tracks:
            track.notes = sorted(
                (
                    Note(rng.randint(30, 90), rng.randint(0, 8000), rng.randint(1, 900), rng.randint(1, 127))
                    for _ in range(40)
                ),
                key=lambda n: n.start,
            )
        seeds.append(midi_bytes(song, midi_type))
    return seeds


def text_seeds(folder: Path) -> list[bytes]:
    """Documents in the encodings the editor reads."""
    text = "Café, naïve — 東京 and emoji 😀.\nSecond line.\n" * 20
    return [
        text.encode("utf-8"),
        text.encode("utf-16"),
        text.encode("utf-8-sig"),
        text.replace("東京", "").replace("😀", "").replace("—", "-").encode("cp1252"),
        b"",
    ]


# ----------------------------------------------------------------------------- mutations
INTERESTING_BYTES = (0x00, 0x01, 0x7F, 0x80, 0xFF, 0x22, 0x5B, 0x7B, 0x5C, 0x2C)
INTERESTING_INTS = (
    0,
    1,
    2,
    7,
    8,
    0x7F,
    0x80,
    0xFF,
    0x7FFF,
    0x8000,
    0xFFFF,
    0x7FFFFFFF,
    0x80000000,
    0xFFFFFFFF,
    2**63 - 1,
    2**64 - 1,
)
MAX_MUTANT_BYTES = 20 * 1024 * 1024


def mutate_bytes(data: bytes, rng: random.Random, others: list[bytes], tokens: list[bytes]) -> bytes:
    """One to four stacked byte-level mutations."""
    buf = bytearray(data)
    for _ in range(rng.choice((1, 1, 2, 3, 4))):
        op = rng.randrange(10)
        n = len(buf)
        pos = rng.randrange(n + 1) if n else 0
        if op == 0 and n:  # bit flips
            for _ in range(rng.randint(1, 8)):
                i = rng.randrange(n)
                buf[i] ^= 1 << rng.randrange(8)
        elif op == 1 and n:
            buf[rng.randrange(n)] = rng.choice(INTERESTING_BYTES)
        elif op == 2 and n:  # an interesting integer over 1, 2, 4 or 8 bytes, either byte order
            width = rng.choice((1, 2, 4, 8))
            value = rng.choice(INTERESTING_INTS) % (1 << (8 * width))
            raw = value.to_bytes(width, rng.choice(("big", "little")))
            buf[pos : pos + width] = raw
        elif op == 3 and n:
            end = min(n, pos + rng.choice((1, 4, 16, 256, n)))
            del buf[pos:end]
        elif op == 4:
            buf[pos:pos] = bytes(rng.randrange(256) for _ in range(rng.choice((1, 2, 4, 16))))
        elif op == 5 and n:  # repeat a slice, sometimes very many times
            length = rng.choice((1, 3, 4, 8, 32))
            piece = bytes(buf[pos : pos + length]) or b"\x00"
            times = rng.choice((2, 3, 10, 100, 1000, 10_000, 100_000, 1_000_000))
            times = min(times, MAX_MUTANT_BYTES // max(1, len(piece)) // 2)
            buf[pos:pos] = piece * times
        elif op == 6 and n:
            del buf[pos:]
        elif op == 7 and others:
            other = rng.choice(others)
            cut = rng.randrange(len(other) + 1) if other else 0
            buf[pos:] = other[cut:]
        elif op == 8 and tokens:
            buf[pos:pos] = rng.choice(tokens)
        elif op == 9 and n > 1:  # swap two slices
            a, b = sorted(rng.sample(range(n), 2))
            length = min(rng.choice((1, 4, 16)), b - a)
            buf[a : a + length], buf[b : b + length] = buf[b : b + length], buf[a : a + length]
    return bytes(buf[:MAX_MUTANT_BYTES])


_RAW = "\u0000RAW{}\u0000"


@functools.cache
def _hostile_raw_texts() -> tuple[str, ...]:
    texts = ["9" * n for n in (41, 4_301, 5_000, 100_000)]
    texts += [
        "-" + "9" * 5_000,
        "1e999",
        "-1e999",
        "1e308",
        "NaN",
        "Infinity",
        "-Infinity",
        "1." + "5" * 5_000,
        "0.0e-99999",
        '"\\ud800"',
        '"\\u0000"',
        '"' + "x" * 5_000_000 + '"',
        "[" + "[]," * 1_100_000 + "[]]",
    ]
    texts += ["[" + "0," * n + "0]" for n in (10_000, 2_000_000)]
    for depth in (65, 500, 1_000, 100_000):
        texts += ["[" * depth + "]" * depth, '{"a":' * depth + "1" + "}" * depth, "[" * depth]
    return tuple(texts)


def hostile_raw_json(rng: random.Random) -> str:
    """A JSON text that breaks naive readers: deep nesting, huge numbers, NaN, millions of values."""
    return rng.choice(_hostile_raw_texts())


def hostile_value(rng: random.Random, raws: list[str]):
    """A JSON value of the wrong type, range or size (raw text ones go through ``raws``)."""
    if rng.random() < 0.25:
        raws.append(hostile_raw_json(rng))
        return _RAW.format(len(raws) - 1)
    return rng.choice(
        (
            None,
            True,
            False,
            0,
            -1,
            1,
            2**31,
            2**63,
            2**64,
            10**39,
            -(10**39),
            1.5,
            -0.0,
            1e300,
            "",
            "x" * 300,
            "../../../etc/passwd",
            "F32",
            ["F32"],
            {"F32": 1},
            [],
            {},
            [1, 2],
            [-1, 5],
            [[0, 4]],
            list(range(1000)),
            {"a": {"b": {"c": []}}},
            "\ud800",
            "canvas-1.1.safetensors",
            "canvas-" + "9" * 300 + ".1.safetensors",
            [0, 2**40],
            [2**70, 0],
            "1e999",
        )
    )


def mutate_json(obj, rng: random.Random):
    """Replace, delete or add one value somewhere in ``obj``; returns (new object, raw texts it references)."""
    raws: list[str] = []
    obj = json.loads(json.dumps(obj))
    if rng.random() < 0.1:
        return hostile_value(rng, raws), raws
    # Walk to a random container.
    node = obj
    for _ in range(rng.randint(0, 4)):
        children = list(node.values()) if isinstance(node, dict) else node if isinstance(node, list) else []
        children = [c for c in children if isinstance(c, (dict, list))]
        if not children:
            break
        node = rng.choice(children)
    for _ in range(rng.choice((1, 1, 2, 3))):
        if isinstance(node, dict):
            keys = list(node)
            op = rng.randrange(4)
            if keys and op < 2:
                node[rng.choice(keys)] = hostile_value(rng, raws)
            elif keys and op == 2:
                del node[rng.choice(keys)]
            else:
                node[rng.choice(("extra", "pid", "arrays", "dtype", "latent", "x" * 50))] = hostile_value(rng, raws)
        elif isinstance(node, list):
            if node and rng.random() < 0.7:
                node[rng.randrange(len(node))] = hostile_value(rng, raws)
            else:
                node.append(hostile_value(rng, raws))
    return obj, raws


def dump_json(obj, raws: list[str]) -> str:
    """JSON text of ``obj`` with the raw hostile texts put in place of their placeholders."""
    text = json.dumps(obj, ensure_ascii=False)
    for i, raw in enumerate(raws):
        text = text.replace(json.dumps(_RAW.format(i), ensure_ascii=False), raw)
    return text


def _safetensors(header: dict | str, body: bytes) -> bytes:
    raw = (header if isinstance(header, str) else json.dumps(header)).encode("utf-8", "surrogatepass")
    raw += b" " * (-len(raw) % 8)
    return struct.pack("<Q", len(raw)) + raw + body


def _split_safetensors(data: bytes) -> tuple[dict, bytes]:
    (n,) = struct.unpack("<Q", data[:8])
    return json.loads(data[8 : 8 + n]), data[8 + n :]


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def _png_with_recipe(png: bytes, recipe_text: str) -> bytes:
    """``png`` with its aigc-studio iTXt chunk replaced by ``recipe_text`` (a well-formed chunk)."""
    out, pos = bytearray(png[:8]), 8
    while pos + 8 <= len(png):
        (length,) = struct.unpack(">I", png[pos : pos + 4])
        kind = png[pos + 4 : pos + 8]
        chunk = png[pos : pos + 12 + length]
        pos += 12 + length
        if kind == b"iTXt" and chunk[8 : 8 + 11] == b"aigc-studio":
            continue
        if kind == b"IEND":
            out += _png_chunk(
                b"iTXt", b"aigc-studio\x00\x00\x00\x00\x00" + recipe_text.encode("utf-8", "surrogatepass")
            )
        out += chunk
    return bytes(out)


def fix_png_crcs(data: bytes) -> bytes:
    """Recompute every chunk's CRC, so that a mutant gets past the CRC check into the decoder."""
    if not data.startswith(b"\x89PNG\r\n\x1a\n"):
        return data
    out, pos = bytearray(data[:8]), 8
    while pos + 12 <= len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        if pos + 12 + length > len(data):
            break
        body = data[pos + 4 : pos + 8 + length]
        out += data[pos : pos + 8 + length] + struct.pack(">I", zlib.crc32(body))
        pos += 12 + length
    return bytes(out + data[pos:])


def _recipe_of(png: bytes) -> dict:
    import io

    from PIL import Image

    with Image.open(io.BytesIO(png)) as im:
        return json.loads(im.text["aigc-studio"])


# MIDI from event streams: hostile timing, running status floods, lengths that lie.
def _vlq(value: int, overlong: bool = False) -> bytes:
    out = [value & 0x7F]
    value >>= 7
    while value:
        out.append(0x80 | (value & 0x7F))
        value >>= 7
    if overlong:
        out += [0x80] * 2
    return bytes(reversed(out))


def _midi_track(body: bytes, declared: int | None = None) -> bytes:
    return b"MTrk" + struct.pack(">I", len(body) if declared is None else declared % 2**32) + body


def hostile_midi(rng: random.Random) -> bytes:
    """A MIDI file built from a hostile event stream."""
    fmt = rng.choice((0, 1, 1, 2, 3, 0xFFFF))
    division = rng.choice((480, 96, 1, 0x7FFF, 0, 0xE728, 0xE200, 0x8000, 0xFF01))
    tracks = []
    for _ in range(rng.choice((1, 1, 2, 3, 16))):
        events = bytearray()
        flood = rng.random() < 0.04
        count = rng.choice((2_000_000, 1_100_000, 500_000, 250_000)) if flood else rng.randint(0, 200)
        kind = rng.randrange(8)
        if flood:
            unit = {
                0: b"\x00\x3c\x40",
                1: b"\x00\x90\x3c\x40",
                2: b"\x00\xff\x01\x00",
                3: b"\x00\xb0\x07\x64",
                4: b"\x81\x80\x80\x00\x90\x3c\x40",
                5: b"\x00\xf0\x01\xf7",
                6: b"\x00\x3c\x40\x00\x3c\x00",
                7: b"\x00\xff\x51\x03\x00\x00\x01",
            }[kind]
            events += b"\x00\x90\x3c\x40" + unit * min(count, MAX_MUTANT_BYTES // len(unit) - 1)
        else:
            for _ in range(count):
                delta = rng.choice((0, 0, 1, 120, 480, 0x0FFFFFFF, 0x3FFF))
                events += _vlq(delta, overlong=rng.random() < 0.02)
                choice = rng.randrange(10)
                if choice < 4:
                    status = rng.choice((0x80, 0x90)) | rng.randrange(16)
                    if rng.random() > 0.3:
                        events.append(status)
                    events += bytes(
                        (rng.randrange(256) if rng.random() < 0.05 else rng.randrange(128), rng.randrange(128))
                    )
                elif choice == 4:
                    meta = rng.choice((0x00, 0x01, 0x03, 0x2F, 0x51, 0x58, 0x59, 0x7F, 0x21, 0x54, 0x60))
                    length = rng.choice((0, 1, 2, 3, 4, 5, 0x7F, 0x0FFFFFFF))
                    payload = bytes(rng.randrange(256) for _ in range(min(length, 8)))
                    events += b"\xff" + bytes((meta,)) + _vlq(length) + payload
                elif choice == 5:
                    events += (
                        bytes((rng.choice((0xF0, 0xF7)),)) + _vlq(rng.choice((0, 3, 0x0FFFFFFF))) + b"\x01\x02\x03"
                    )
                elif choice == 6:
                    events.append(rng.choice((0xF1, 0xF2, 0xF3, 0xF4, 0xF5, 0xF6, 0xF8, 0xF9, 0xFD, 0xFE)))
                    events += bytes(rng.randrange(128) for _ in range(rng.randrange(3)))
                elif choice == 7:
                    events += bytes((0xC0 | rng.randrange(16), rng.randrange(256)))
                else:
                    events += bytes(
                        (
                            rng.choice((0xA0, 0xB0, 0xD0, 0xE0)) | rng.randrange(16),
                            rng.randrange(128),
                            rng.randrange(128),
                        )
                    )
            if rng.random() < 0.8:
                events += b"\x00\xff\x2f\x00"
        declared = None if rng.random() < 0.9 else rng.choice((0, len(events) + 1, 0xFFFFFFFF, len(events) // 2))
        tracks.append(_midi_track(bytes(events), declared))
    count = len(tracks) if rng.random() < 0.85 else rng.choice((0, len(tracks) + 1, 0xFFFF, 0x8000))
    header = b"MThd" + struct.pack(">IHHH", 6, fmt % 0x10000, count, division)
    return (header + b"".join(tracks))[:MAX_MUTANT_BYTES]


# ----------------------------------------------------------------------------- the issue's hostile files
def deep(depth: int = 100_000) -> str:
    return "[" * depth + "]" * depth


def issue_inputs(reader: str, seeds) -> list:
    """The inputs issue 17 names, as the first ones of each reader."""
    if reader == "model":
        header, body = _split_safetensors(seeds[0])
        card = json.loads(header["__metadata__"]["aigc_studio"])
        out = []
        meta = dict(header["__metadata__"])
        out.append(
            _safetensors(
                dict(header, __metadata__=dict(meta, aigc_studio=json.dumps(card)[:-1] + ', "x": ' + deep() + "}")),
                body,
            )
        )
        out.append(_safetensors(json.dumps(header)[:-1] + ', "x": ' + deep() + "}", body))
        out.append(
            _safetensors(
                dict(header, __metadata__=dict(meta, aigc_studio=json.dumps(card)[:-1] + ', "x": ' + "9" * 5000 + "}")),
                body,
            )
        )
        table = {k: v for k, v in header.items() if k != "__metadata__"}
        name = next(iter(table))
        out.append(_safetensors(dict(header, **{name: dict(table[name], dtype=["F32"])}), body))
        return [("model.safetensors", o) for o in out]
    if reader == "recipe":
        recipe = _recipe_of(seeds[0])
        text = json.dumps(recipe)
        return [
            ("recipe.png", _png_with_recipe(seeds[0], text.replace('"latent": [', '"latent": [' + deep(1000) + ", "))),
            ("recipe.png", _png_with_recipe(seeds[0], text.replace('"latent": [', '"latent": [' + "9" * 5000 + ", "))),
        ]
    if reader == "sidecar":
        data = json.loads(seeds[0])
        text = json.dumps(data)
        return [
            (
                "story.md.aigc.json",
                text.replace('"generated_spans": [', '"generated_spans": [' + deep() + ", ").encode(),
            ),
            (
                "story.md.aigc.json",
                text.replace('"generated_spans": [', '"generated_spans": [' + "9" * 5000 + ", ").encode(),
            ),
        ]
    if reader == "autosave":
        record, arrays = seeds[2]
        data = json.loads(record)
        text = json.dumps(data)
        return [
            ("record", (text[:-1] + ', "x": ' + deep() + "}").encode(), arrays),
            ("record", text.replace('"pid": 424242', '"pid": 1e999').encode(), arrays),
            ("record", json.dumps(dict(data, arrays="canvas-424242." + "1" * 300 + ".safetensors")).encode(), arrays),
        ]
    if reader == "picture":
        dds = seeds[9]
        return [("texture.dds", dds), ("texture.dds", dds[:64] + bytes(b ^ 0x5A for b in dds[64:200]) + dds[200:])]
    if reader == "midi":
        head = b"MThd" + struct.pack(">IHHH", 6, 0, 1, 480)
        return [
            ("running.mid", head + _midi_track(b"\x00\x90\x3c\x40" + b"\x00\x3c\x00" * 500_000)),
            ("noteons.mid", head + _midi_track(b"\x00\x90" + b"\x3c\x40\x00" * 1_000_000)),
            ("deltas.mid", head + _midi_track(b"\xff\xff\xff\x7f\x90\x3c\x40" * 1000)),
            ("big.mid", head + _midi_track(b"\x00\xb0\x07\x64" * (50 * 2**20 // 4))),
        ]
    return []


# ----------------------------------------------------------------------------- inputs per reader
class Corpus:
    """Seeds per reader (written once per worker) and the deterministic i-th input of each."""

    def __init__(self, folder: Path, seed: int) -> None:
        self.folder, self.seed = folder, seed
        self.seeds = {
            "model": model_seeds(folder),
            "recipe": recipe_seeds(folder),
            "sidecar": sidecar_seeds(folder),
            "autosave": autosave_seeds(folder),
            "picture": picture_seeds(folder),
            "midi": midi_seeds(folder),
            "text": text_seeds(folder),
        }
        self.fixed = {r: issue_inputs(r, self.seeds[r]) for r in READERS}

    def input(self, reader: str, index: int):
        """(file name, bytes[, arrays bytes]) of input ``index`` for ``reader``."""
        fixed = self.fixed[reader]
        if index < len(fixed):
            return fixed[index]
        rng = random.Random(f"{self.seed}-{reader}-{index}")
        seeds = self.seeds[reader]
        structured = rng.random() < 0.5
        if reader == "model":
            data = rng.choice(seeds)
            if structured:
                header, body = _split_safetensors(data)
                target = rng.randrange(3)
                if target == 0:  # the card
                    card = json.loads(header["__metadata__"]["aigc_studio"])
                    card, raws = mutate_json(card, rng)
                    header["__metadata__"]["aigc_studio"] = _RAW.format(len(raws))
                    raws.append(json.dumps(dump_json(card, raws), ensure_ascii=False))
                    return "model.safetensors", _safetensors(dump_json(header, raws), body)
                header, raws = mutate_json(header, rng)  # the tensor table or the metadata
                return "model.safetensors", _safetensors(dump_json(header, raws), body)
            return "model.safetensors", mutate_bytes(data, rng, seeds, [b"[", b"{", b'"', b"9" * 50, b"1e999", b"NaN"])
        if reader == "recipe":
            png = rng.choice(seeds)
            if structured:
                recipe, raws = mutate_json(_recipe_of(png), rng)
                return "recipe.png", _png_with_recipe(png, dump_json(recipe, raws))
            mutant = mutate_bytes(png, rng, seeds, [b"iTXt", b"IHDR", b"IEND", b"[", b"9" * 50])
            return "recipe.png", fix_png_crcs(mutant) if rng.random() < 0.7 else mutant
        if reader == "sidecar":
            data = rng.choice(seeds)
            if structured:
                obj, raws = mutate_json(json.loads(data), rng)
                return "story.md.aigc.json", dump_json(obj, raws).encode("utf-8", "surrogatepass")
            return "story.md.aigc.json", mutate_bytes(data, rng, seeds, [b"[", b"{", b'"', b"9" * 50])
        if reader == "autosave":
            record, arrays = rng.choice(seeds)
            if structured:
                obj, raws = mutate_json(json.loads(record), rng)
                record = dump_json(obj, raws).encode("utf-8", "surrogatepass")
            elif arrays is not None and rng.random() < 0.5:
                arrays = mutate_bytes(arrays, rng, [], [b"[", b"{", b"F32", b"BF16"])
            else:
                record = mutate_bytes(record, rng, [s[0] for s in seeds], [b"[", b"{", b'"', b"9" * 50])
            return "record", record, arrays
        if reader == "picture":
            data = rng.choice(seeds)
            mutant = mutate_bytes(data, rng, seeds, [b"IHDR", b"\xff\xd8", b"\xff\xc0", b"RIFF", b"GIF89a"])
            return "picture", fix_png_crcs(mutant) if rng.random() < 0.7 else mutant
        if reader == "midi":
            if structured:
                return "song.mid", hostile_midi(rng)
            return "song.mid", mutate_bytes(rng.choice(seeds), rng, seeds, [b"MTrk", b"\xff\x2f\x00", b"\x90", b"\xf0"])
        if reader == "text":
            return "doc.txt", mutate_bytes(rng.choice(seeds), rng, seeds, [b"\x00", b"\xff\xfe", b"\xef\xbb\xbf"])
        raise ValueError(reader)


# ----------------------------------------------------------------------------- calling the readers
def call_reader(reader: str, folder: Path, item) -> str:
    """Write the input and hand it to the reader; returns 'accepted' or 'refused' (other exceptions escape)."""
    from aigc_studio.core.autosave import CorruptAutosave, read_autosave
    from aigc_studio.errors import StudioError

    name, data = item[0], item[1]
    try:
        if reader == "autosave":
            record = folder / "canvas-424242.json"
            record.write_bytes(data)
            arrays = item[2]
            for stale in folder.glob("canvas-*.safetensors"):
                stale.unlink()
            if arrays is not None:
                (folder / "canvas-424242.1.safetensors").write_bytes(arrays)
            try:
                autosave = read_autosave("canvas", record)
                autosave.arrays()
            except CorruptAutosave:
                return "refused"
            return "accepted"
        path = folder / name
        path.write_bytes(data)
        if reader == "model":
            from aigc_studio.core.modelfile import load_model

            card, _ = load_model(path)
            card.summary()
        elif reader == "recipe":
            from aigc_studio.image.recipe import read_recipe

            read_recipe(path)
        elif reader == "sidecar":
            from aigc_studio.text.sidecar import read_sidecar

            return "accepted" if read_sidecar(folder / "story.md", SIDECAR_TEXT) else "refused"
        elif reader == "picture":
            from aigc_studio.image.dataset import to_rgb
            from aigc_studio.image.picture_io import read_picture

            with read_picture(path) as im:
                to_rgb(im)
        elif reader == "midi":
            from aigc_studio.music.midi_io import read_midi

            read_midi(path)
        elif reader == "text":
            from aigc_studio.text.document_io import read_text_file

            read_text_file(path)
    except StudioError as exc:
        text = str(exc)
        if name not in text:
            raise AssertionError(f"refusal does not name the file: {text[:120]}") from None
        return "refused"
    return "accepted"


def _reset_peak_rss() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
        return True
    except OSError:
        return False


def _rss_mb(field: str) -> float:
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith(field):
                return int(line.split()[1]) / 1024
    return math.nan


def worker(conn, seed: int) -> None:
    """Serve (reader, index) requests: build the input, call the reader, send back the outcome."""
    import torch

    torch.set_num_threads(1)
    folder = Path(tempfile.mkdtemp(prefix="aigc-fuzz-"))
    os.environ["AIGC_STUDIO_HOME"] = str(folder / "home")
    (folder / "seeds").mkdir()
    corpus = Corpus(folder / "seeds", seed)
    work = folder / "work"
    work.mkdir()
    conn.send("ready")
    while True:
        request = conn.recv()
        if request is None:
            return
        reader, index = request
        item = corpus.input(reader, index)
        size = len(item[1])
        for old in work.iterdir():
            old.unlink()
        base = _rss_mb("VmRSS:")
        _reset_peak_rss()
        wall, cpu = time.perf_counter(), time.process_time()
        try:
            outcome, detail = call_reader(reader, work, item), ""
        except BaseException as exc:  # noqa: BLE001 - every escape is what we are looking for
            outcome = "crashed"
            detail = f"{type(exc).__name__}: {str(exc)[:200]} | {traceback.format_exc().splitlines()[-3].strip()[:150]}"
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        memory = max(0.0, _rss_mb("VmHWM:") - base)
        del item
        conn.send((reader, index, outcome, detail, cpu, wall, memory, size))


def run(readers: list[str], inputs: int, jobs: int, seed: int, max_seconds: float, max_mb: float, log) -> dict:
    """Fuzz ``readers`` with ``inputs`` each over ``jobs`` workers; returns per-reader statistics."""
    ctx = mp.get_context("spawn")
    todo = [(r, i) for i in range(inputs) for r in readers]
    todo.reverse()
    stats = {
        r: {
            "inputs": 0,
            "accepted": 0,
            "refused": 0,
            "crashed": 0,
            "over_time": 0,
            "over_memory": 0,
            "slowest_cpu": 0.0,
            "slowest_wall": 0.0,
            "max_mb": 0.0,
            "total_cpu": 0.0,
            "total_wall": 0.0,
            "examples": [],
        }
        for r in readers
    }

    def start():
        parent, child = ctx.Pipe()
        process = ctx.Process(target=worker, args=(child, seed), daemon=True)
        process.start()
        if not parent.poll(600) or parent.recv() != "ready":
            raise RuntimeError("a fuzz worker did not start")
        return [process, parent, None, 0.0]

    workers = [start() for _ in range(jobs)]
    started = time.monotonic()
    done = 0
    total = len(todo)
    while todo or any(w[2] is not None for w in workers):
        for w in workers:
            if w[2] is None and todo:
                w[2], w[3] = todo.pop(), time.monotonic()
                w[1].send(w[2])
        mp.connection.wait([w[1] for w in workers if w[2] is not None], timeout=1.0)
        for w in workers:
            process, conn, current, since = w
            if current is None:
                continue
            if conn.poll():
                reader, index, outcome, detail, cpu, wall, memory, size = conn.recv()
                w[2] = None
            elif time.monotonic() - since > HARD_LIMIT_S or not process.is_alive():
                reader, index = current
                outcome, detail, cpu, wall, memory, size = (
                    "crashed",
                    "hang or worker died",
                    math.nan,
                    HARD_LIMIT_S,
                    math.nan,
                    -1,
                )
                process.kill()
                process.join()
                workers[workers.index(w)] = start()
            else:
                continue
            s = stats[reader]
            s["inputs"] += 1
            over_time = cpu > max_seconds
            over_memory = memory > max_mb
            s["over_time"] += over_time
            s["over_memory"] += over_memory
            if outcome != "crashed" and (over_time or over_memory):
                detail = f"{outcome} but took {cpu:.2f} s CPU / {memory:.0f} MB"
                outcome = "crashed"
            s[outcome] += 1
            if not math.isnan(cpu):
                s["slowest_cpu"] = max(s["slowest_cpu"], cpu)
                s["max_mb"] = max(s["max_mb"], memory)
            s["slowest_wall"] = max(s["slowest_wall"], wall)
            s["total_wall"] += wall
            s["total_cpu"] += 0.0 if math.isnan(cpu) else cpu
            if outcome == "crashed":
                s["examples"].append(f"#{index} ({size:,} bytes): {detail}")
                log(f"CRASH {reader} #{index} ({size:,} bytes): {detail}")
            done += 1
            if done % 500 == 0:
                log(f"{done:,}/{total:,} inputs, {time.monotonic() - started:.0f} s")
    for w in workers:
        w[1].send(None)
        w[0].join(5)
        if w[0].is_alive():
            w[0].kill()
    return stats


def table(stats: dict, max_seconds: float, max_mb: float) -> str:
    """The markdown table of outcomes per reader."""
    rows = [
        f"| reader | inputs | accepted | refused | crashed | CPU > {max_seconds:g} s | memory > {max_mb:g} MB "
        "| slowest (CPU s / wall s) | max memory (MB) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for reader, s in stats.items():
        rows.append(
            f"| {reader} | {s['inputs']:,} | {s['accepted']:,} | {s['refused']:,} | {s['crashed']:,} | "
            f"{s['over_time']} | {s['over_memory']} | {s['slowest_cpu']:.2f} / {s['slowest_wall']:.2f} | "
            f"{s['max_mb']:.0f} |"
        )
    return "\n".join(rows)


def main() -> int:
    """Parse options, fuzz, print the table (exit 1 when anything crashed)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inputs", type=int, default=1000, help="inputs per reader (default 1000)")
    parser.add_argument("--readers", default=",".join(READERS), help=f"comma-separated, from {', '.join(READERS)}")
    parser.add_argument("--jobs", type=int, default=1, help="worker processes (default 1)")
    parser.add_argument("--seed", type=int, default=17)
    parser.add_argument("--max-seconds", type=float, default=2.0, help="CPU seconds allowed per input")
    parser.add_argument("--max-mb", type=float, default=500.0, help="memory allowed per input (MB above the baseline)")
    parser.add_argument("--json", help="also write the statistics (with crash examples) to this file")
    args = parser.parse_args()
    readers = [r.strip() for r in args.readers.split(",") if r.strip()]
    unknown = set(readers) - set(READERS)
    if unknown:
        parser.error(f"unknown reader(s): {', '.join(sorted(unknown))}")

    def log(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    started = time.monotonic()
    stats = run(readers, args.inputs, args.jobs, args.seed, args.max_seconds, args.max_mb, log)
    print(table(stats, args.max_seconds, args.max_mb))
    print(
        f"\n{sum(s['inputs'] for s in stats.values()):,} inputs in {time.monotonic() - started:.0f} s "
        f"({args.jobs} worker(s), seed {args.seed}); CPU time and peak RSS are measured per input in the worker."
    )
    for reader, s in stats.items():
        for example in s["examples"][:5]:
            print(f"  {reader}: {example}")
    if args.json:
        Path(args.json).write_text(json.dumps(stats, indent=1))
    return 1 if any(s["crashed"] for s in stats.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
