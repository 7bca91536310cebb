"""Training folders of mixed formats load; broken files are skipped and counted; empty folders are refused."""

import numpy as np
import pytest

from aigc_studio.errors import InputError
from aigc_studio.image.dataset import load_image_folder


def test_mixed_folder_loads_every_readable_image_and_counts_the_broken(mixed_folder):
    lines = []
    data = load_image_folder(mixed_folder, 32, "crop", log=lines.append)
    assert len(data) == 5
    assert data.images.shape == (5, 32, 32, 3) and data.images.dtype == np.uint8
    assert len(data.skipped) == 2
    assert any("Skipped 2 unreadable" in line for line in lines)
    assert any("Warning: only 5 images" in line for line in lines)


def test_alpha_is_composited_on_white(mixed_folder):
    data = load_image_folder(mixed_folder, 32, "pad")
    alpha = data.images[data.files.index("alpha0.png")]
    assert tuple(alpha[0, 0]) == (255, 255, 255)  # transparent corner becomes white
    r, g, b = alpha[16, 16]
    assert r > 200 and g < 60 and b < 60  # the opaque red square stays red


def test_crop_and_pad_differ_for_non_square_images(mixed_folder):
    crop = load_image_folder(mixed_folder, 32, "crop")
    pad = load_image_folder(mixed_folder, 32, "pad")
    i = crop.files.index("pal0.gif")  # 70 x 20: padding leaves white bands
    assert (pad.images[i][0] == 255).all()
    assert not (crop.images[i][0] == 255).all()
    assert crop.hash != pad.hash


def test_empty_or_missing_folder_is_a_clear_error(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no PNG, JPEG or WebP"):
        load_image_folder(tmp_path / "empty", 32)
    with pytest.raises(InputError, match="not found"):
        load_image_folder(tmp_path / "missing", 32)
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "x.png").write_text("nope")
    with pytest.raises(InputError, match="none readable"):
        load_image_folder(tmp_path / "bad", 32)
