"""The bad-input corpus, written once per test session, plus a few good inputs the commands need beside it."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.badinput.cases import CORPUS_ROOT, MARKER
from tests.badinput.corpus import write_huge_text


@pytest.fixture(scope="session", autouse=True)
def _corpus_folder():
    """Remove the corpus at the end; fail loudly if any loader ever unpickled the hostile pickle."""
    yield CORPUS_ROOT
    ran = MARKER.exists()
    shutil.rmtree(CORPUS_ROOT, ignore_errors=True)
    assert not ran, "a loader unpickled a user's file: the hostile pickle ran its code"


@pytest.fixture(scope="session")
def huge_text() -> Path:
    """The 200 MB text file (written once, in about a second)."""
    path = CORPUS_ROOT / "texts" / "huge.txt"
    if not path.exists():
        write_huge_text(path)
    return path


@pytest.fixture(scope="session")
def good_inputs(tmp_path_factory) -> dict[str, Path]:
    """Small valid training data, for commands where a bad file is not the data (--init, --resume)."""
    from aigc_studio.music.midi_io import write_midi
    from aigc_studio.music.song import Note, Song, TempoChange, Track

    root = tmp_path_factory.mktemp("good")
    text = root / "text"
    text.mkdir()
    (text / "story.txt").write_text("The rain had stopped and the garden was quiet. " * 40, encoding="utf-8")
    images = root / "images"
    images.mkdir()
    rng = np.random.default_rng(0)
    for i in range(4):
        Image.fromarray(rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)).save(images / f"p{i}.png")
    midi = root / "midi"
    midi.mkdir()
    for i in range(2):
        song = Song(480, [Track("Piano", 0, 0, [Note(60 + i + k, k * 480, 480, 80) for k in range(16)])],
                    [TempoChange(0, 500_000)])
        write_midi(song, midi / f"s{i}.mid")
    return {"text": text, "images": images, "midi": midi}
