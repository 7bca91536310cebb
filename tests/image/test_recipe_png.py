"""Exported PNGs carry their recipe (tEXt parameters + iTXt JSON) and read back exactly."""

import json

import numpy as np
import pytest
from PIL import Image

from aigc_studio import __version__
from aigc_studio.errors import InputError
from aigc_studio.image.export import contact_sheet, save_animation, save_frames
from aigc_studio.image.recipe import read_recipe, save_png

RECIPE = {
    "version": 1,
    "op": "generate",
    "model": "emoji-gan-64",
    "model_hash": "ab" * 32,
    "model_kind": "image-gan",
    "seed": 42,
    "index": 3,
    "psi": 0.7,
    "latent": [0.1234567, -1.5, 2.25e-7],
    "resolution": 32,
    "torch": "2.x",
    "device": "cpu",
}


def picture():
    return np.random.default_rng(1).integers(0, 255, (32, 32, 3), dtype=np.uint8)


@pytest.mark.parametrize("scale", [1, 2, 4])
def test_png_chunks_round_trip_at_every_scale(tmp_path, scale):
    path = save_png(tmp_path / "x.png", picture(), RECIPE, scale=scale)
    with Image.open(path) as im:
        assert im.size == (32 * scale, 32 * scale)
        chunks = im.text
    assert chunks["parameters"].startswith(
        "Model: emoji-gan-64, Model hash: abababababab, Seed: 42, Psi: 0.7, Index: 3"
    )
    assert json.loads(chunks["aigc-studio"])["latent"] == RECIPE["latent"]
    back = read_recipe(path)
    assert back == dict(RECIPE, scale=scale, app_version=__version__)  # the provenance record's app version


def test_png_bytes_are_identical_when_written_twice(tmp_path):
    a = save_png(tmp_path / "a.png", picture(), RECIPE).read_bytes()
    b = save_png(tmp_path / "b.png", picture(), RECIPE).read_bytes()
    assert a == b


def test_pixels_at_scale_1_are_untouched(tmp_path):
    path = save_png(tmp_path / "x.png", picture(), RECIPE)
    assert np.array_equal(np.asarray(Image.open(path).convert("RGB")), picture())


def test_foreign_files_are_refused_with_a_message(tmp_path):
    Image.fromarray(picture()).save(tmp_path / "plain.png")
    with pytest.raises(InputError, match="without an AIGC Studio recipe"):
        read_recipe(tmp_path / "plain.png")
    (tmp_path / "t.png").write_text("text")
    with pytest.raises(InputError, match="not a readable image"):
        read_recipe(tmp_path / "t.png")


def test_contact_sheet_frames_and_animations(tmp_path):
    frames = [np.full((16, 16, 3), v, np.uint8) for v in (0, 128, 255)]
    sheet = contact_sheet(frames, columns=3, pad=4)
    assert sheet.size == (3 * 20 + 4, 20 + 4)
    assert len(save_frames(frames, tmp_path / "frames")) == 3
    gif = save_animation(frames, tmp_path / "a.gif")
    webp = save_animation(frames, tmp_path / "a.webp")
    with Image.open(gif) as im:
        assert im.n_frames == 4  # bounce: 0 1 2 1
    with Image.open(webp) as im:
        assert im.n_frames == 4
