"""Property-based fuzzing of every reader of files a user may be sent (Hypothesis).

Whatever bytes arrive, each reader either returns something the app can use or raises our own
error (StudioError; CorruptAutosave for autosaves, which are set aside) — never anything else.
The default run tries a few examples per reader; ``pytest -m fuzz`` runs a large budget.
``benchmarks/fuzz.py`` adds hostile structures, timing and memory limits.
"""

from __future__ import annotations

import io
import json
import math
import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from aigc_studio.core.autosave import CorruptAutosave, read_autosave
from aigc_studio.core.modelfile import read_card
from aigc_studio.core.untrusted_json import UnsafeJson, parse_untrusted_json
from aigc_studio.errors import StudioError
from aigc_studio.image.dataset import to_rgb
from aigc_studio.image.picture_io import read_picture
from aigc_studio.image.recipe import read_recipe
from aigc_studio.music.midi_io import MAX_MIDI_BEATS, read_midi_bytes
from aigc_studio.text.document_io import decode_text
from aigc_studio.text.sidecar import read_sidecar, sidecar_path, text_hash
from tests.badinput.corpus import _header, _png_with_recipe, _safetensors_bytes, _track, bundled_model

_COMMON = {
    "deadline": None,
    "database": None,
    "derandomize": True,
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.function_scoped_fixture, HealthCheck.data_too_large],
}
SMALL = settings(max_examples=10, **_COMMON)
LARGE = settings(max_examples=2_000, **_COMMON)

# JSON values, hostile raw fragments among them (deep nesting, huge numbers, NaN).
_RAW_FRAGMENTS = ["[" * 200 + "]" * 200, "9" * 5_000, "1e999", "NaN", "-Infinity", '{"a":' * 100 + "1" + "}" * 100]
json_leaves = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40)
)
json_values = st.recursive(
    json_leaves,
    lambda kids: st.lists(kids, max_size=5) | st.dictionaries(st.text(max_size=10), kids, max_size=5),
    max_leaves=25,
)


@st.composite
def json_texts(draw, base=None):
    """JSON text: ``base`` (or any value) with a random field replaced, sometimes by a raw hostile fragment."""
    value = draw(json_values) if base is None else json.loads(json.dumps(base))
    if isinstance(value, dict) and value:
        key = draw(st.sampled_from(sorted(value)))
        value[key] = "\u0000RAW\u0000" if draw(st.booleans()) else draw(json_values)
    text = json.dumps(value, ensure_ascii=False)
    return text.replace(json.dumps("\u0000RAW\u0000"), draw(st.sampled_from(_RAW_FRAGMENTS)))


def _splice(seed: bytes, data) -> bytes:
    """``seed`` with a drawn piece overwritten, inserted or cut."""
    at = data.draw(st.integers(0, len(seed)))
    piece = data.draw(st.binary(max_size=64))
    how = data.draw(st.sampled_from(("overwrite", "insert", "cut")))
    if how == "overwrite":
        return seed[:at] + piece + seed[at + len(piece) :]
    if how == "insert":
        return seed[:at] + piece + seed[at:]
    return seed[:at]


# ----------------------------------------------------------------------------- the properties
def check_json(raw: bytes | str) -> None:
    try:
        value = parse_untrusted_json(raw)
    except UnsafeJson:
        return
    stack = [value]
    while stack:  # what it returns holds only finite numbers
        item = stack.pop()
        if isinstance(item, float):
            assert math.isfinite(item)
        elif isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def _model_parts() -> tuple[dict, dict, bytes]:
    raw = bundled_model("emoji-vae-64").read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n])
    return header, json.loads(header["__metadata__"]["aigc_studio"]), raw[8 + n :]


def _json_with(obj: dict, key: str, raw: str) -> str:
    """JSON text of ``obj`` with the value of ``key`` replaced by the JSON text ``raw``."""
    return json.dumps(dict(obj, **{key: "\u0000HOLE\u0000"})).replace(json.dumps("\u0000HOLE\u0000"), raw)


def _safetensors_text(header_text: str, body: bytes) -> bytes:
    raw = header_text.encode()
    raw += b" " * (-len(raw) % 8)
    return struct.pack("<Q", len(raw)) + raw + body


def check_model(folder, data) -> None:
    header, card, body = _model_parts()
    where = data.draw(st.sampled_from(("card", "config", "table", "bytes")))
    if where == "card":
        header["__metadata__"]["aigc_studio"] = data.draw(json_texts(card))
        raw = _safetensors_bytes(header, body)
    elif where == "config":
        header["__metadata__"]["aigc_studio"] = _json_with(card, "config", data.draw(json_texts(card["config"])))
        raw = _safetensors_bytes(header, body)
    elif where == "table":
        name = data.draw(st.sampled_from(sorted(k for k in header if k != "__metadata__")))
        raw = _safetensors_text(_json_with(header, name, data.draw(json_texts(header[name]))), body)
    else:
        raw = _splice(_safetensors_bytes(header, body), data)
    path = folder / "model.safetensors"
    path.write_bytes(raw)
    try:
        read_card(path).summary()
    except StudioError as exc:
        assert "model.safetensors" in str(exc)


def check_recipe(folder, data) -> None:
    base = {
        "version": 1,
        "op": "generate",
        "model": "m",
        "model_hash": "ab" * 32,
        "seed": 3,
        "psi": 0.7,
        "latent": [0.5, -1.0, 2.0],
    }
    path = folder / "recipe.png"
    path.write_bytes(_png_with_recipe(data.draw(json_texts(base) | json_texts())))
    try:
        recipe = read_recipe(path)
    except StudioError as exc:
        assert "recipe.png" in str(exc)
        return
    assert recipe["latent"] and all(isinstance(v, (int, float)) and math.isfinite(v) for v in recipe["latent"])


SIDECAR_TEXT = "Once upon a time there were words."


def check_sidecar(folder, data) -> None:
    base = {
        "format": "aigc-studio-text-spans",
        "version": 1,
        "text_sha256": text_hash(SIDECAR_TEXT),
        "generated_spans": [[0, 4], [5, 9]],
    }
    raw = data.draw(json_texts(base).map(str.encode) | st.binary(max_size=200))
    sidecar_path(folder / "story.md").write_bytes(raw)
    spans = read_sidecar(folder / "story.md", SIDECAR_TEXT)
    assert all(0 <= start <= end <= len(SIDECAR_TEXT) for start, end in spans)


def check_autosave(folder, data) -> None:
    base = {"text": "x", "version": 1, "kind": "canvas", "pid": 424242, "saved_at": 1.5e9, "arrays": None}
    raw = data.draw(json_texts(base).map(str.encode) | st.binary(max_size=200))
    file = folder / "canvas-424242.json"
    file.write_bytes(raw)
    try:
        autosave = read_autosave("canvas", file)
    except CorruptAutosave:
        return
    assert isinstance(autosave.pid, int) and autosave.pid > 0 and math.isfinite(autosave.saved_at)
    assert autosave.arrays_file is None or autosave.arrays_file.parent == folder


def _picture_seeds() -> list[bytes]:
    seeds = []
    image = Image.new("RGB", (6, 5), (10, 200, 30))
    for fmt, im in (
        ("PNG", image),
        ("JPEG", image),
        ("GIF", image.convert("P")),
        ("BMP", image),
        ("WEBP", image),
        ("TIFF", image),
        ("PNG", image.convert("I;16")),
        ("DDS", image.convert("RGBA")),
    ):
        buffer = io.BytesIO()
        im.save(buffer, format=fmt)
        seeds.append(buffer.getvalue())
    return seeds


PICTURES = _picture_seeds()


def check_picture(folder, data) -> None:
    path = folder / "picture.img"
    path.write_bytes(_splice(data.draw(st.sampled_from(PICTURES)), data))
    try:
        with read_picture(path) as im:
            assert to_rgb(im).mode == "RGB"
    except StudioError as exc:
        assert "picture.img" in str(exc)


# MIDI event streams: any statuses, lengths and deltas, with or without running status.
midi_events = st.lists(
    st.one_of(
        st.tuples(st.integers(0, 0x0FFFFFFF), st.integers(0x80, 0xEF), st.integers(0, 255), st.integers(0, 255)).map(
            lambda e: _vlq(e[0]) + bytes(e[1:])
        ),
        st.tuples(st.integers(0, 500), st.integers(0, 127), st.integers(1, 127)).map(
            lambda e: _vlq(e[0]) + bytes(e[1:])
        ),  # running status
        st.tuples(st.integers(0, 100), st.integers(0, 127), st.binary(max_size=8)).map(
            lambda e: _vlq(e[0]) + b"\xff" + bytes([e[1], len(e[2])]) + e[2]
        ),
        st.binary(min_size=1, max_size=6),
    ),
    max_size=40,
).map(b"".join)


def _vlq(value: int) -> bytes:
    out = [value & 0x7F]
    value >>= 7
    while value:
        out.append(0x80 | (value & 0x7F))
        value >>= 7
    return bytes(reversed(out))


def check_midi(data) -> None:
    fmt = data.draw(st.integers(0, 3))
    division = data.draw(st.sampled_from((480, 96, 0, 0xE728, 0x8000, 1)))
    tracks = data.draw(st.lists(midi_events, min_size=0, max_size=3))
    raw = _header(fmt, data.draw(st.sampled_from((len(tracks), 0, len(tracks) + 1))), division)
    raw += b"".join(_track(t, end=data.draw(st.booleans())) for t in tracks)
    try:
        song, warnings = read_midi_bytes(raw, "fuzz.mid")
    except StudioError as exc:
        assert "fuzz.mid" in str(exc)
        return
    for track in song.tracks:
        for n in track.notes:
            assert 0 <= n.pitch <= 127 and 1 <= n.velocity <= 127 and n.duration >= 1
            assert 0 <= n.start <= MAX_MIDI_BEATS * song.ticks_per_beat
    assert all(t.tempo > 0 for t in song.tempos) and song.bar_ticks > 0


def check_text(data) -> None:
    raw = data.draw(st.binary(max_size=300) | st.text(max_size=100).map(lambda t: t.encode("utf-16")))
    try:
        text, encoding = decode_text(raw, "doc.txt")
    except StudioError as exc:
        assert "doc.txt" in str(exc)
        return
    assert isinstance(text, str) and encoding


# ----------------------------------------------------------------------------- small budget (every run)
@SMALL
@given(st.binary(max_size=300) | json_texts())
def test_json_reader_returns_finite_json_or_unsafe_json(raw):
    check_json(raw)


@SMALL
@given(st.data())
def test_model_files_open_or_are_refused_by_name(tmp_path, data):
    check_model(tmp_path, data)


@SMALL
@given(st.data())
def test_recipes_read_or_are_refused_by_name(tmp_path, data):
    check_recipe(tmp_path, data)


@SMALL
@given(st.data())
def test_sidecars_give_spans_inside_the_text_or_none(tmp_path, data):
    check_sidecar(tmp_path, data)


@SMALL
@given(st.data())
def test_autosave_records_read_or_are_corrupt(tmp_path, data):
    check_autosave(tmp_path, data)


@SMALL
@given(st.data())
def test_pictures_decode_to_rgb_or_are_refused_by_name(tmp_path, data):
    check_picture(tmp_path, data)


@SMALL
@given(st.data())
def test_midi_reads_into_a_playable_song_or_is_refused_by_name(data):
    check_midi(data)


@SMALL
@given(st.data())
def test_text_documents_decode_or_are_refused_by_name(data):
    check_text(data)


# ----------------------------------------------------------------------------- large budget: pytest -m fuzz
@pytest.mark.fuzz
@LARGE
@given(st.binary(max_size=2_000) | json_texts())
def test_fuzz_json_reader(raw):
    check_json(raw)


@pytest.mark.fuzz
@LARGE
@given(st.data())
def test_fuzz_model_files(tmp_path, data):
    check_model(tmp_path, data)


@pytest.mark.fuzz
@LARGE
@given(st.data())
def test_fuzz_recipes(tmp_path, data):
    check_recipe(tmp_path, data)


@pytest.mark.fuzz
@LARGE
@given(st.data())
def test_fuzz_sidecars(tmp_path, data):
    check_sidecar(tmp_path, data)


@pytest.mark.fuzz
@LARGE
@given(st.data())
def test_fuzz_autosave_records(tmp_path, data):
    check_autosave(tmp_path, data)


@pytest.mark.fuzz
@LARGE
@given(st.data())
def test_fuzz_pictures(tmp_path, data):
    check_picture(tmp_path, data)


@pytest.mark.fuzz
@LARGE
@given(st.data())
def test_fuzz_midi(data):
    check_midi(data)


@pytest.mark.fuzz
@LARGE
@given(st.data())
def test_fuzz_text_documents(data):
    check_text(data)
