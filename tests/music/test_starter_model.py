"""The shipped starter models load and write music (one smoke test each)."""

from __future__ import annotations

import pytest

from aigc_studio.core.jobs import run_job
from aigc_studio.core.paths import bundled_models_dir
from aigc_studio.music.jobs import GenerateMusicJob


@pytest.mark.parametrize("name", ["music-chorales-transformer", "music-chorales-vae", "music-freedoom-transformer"])
def test_starter_model_generates_notes(name):
    path = bundled_models_dir() / f"{name}.safetensors"
    if not path.exists():
        pytest.skip(f"{name} is not shipped in this checkout")
    result = run_job(GenerateMusicJob(str(path), bars=2), seed=1)
    fragment = result["fragment"]
    assert fragment.note_count > 0
    assert all(0 <= n.pitch < 128 for t in fragment.tracks for n in t.notes)


def test_the_band_model_writes_only_the_instruments_asked_for():
    from aigc_studio.core.modelfile import read_card
    from aigc_studio.music.constraints import parse_instruments
    from aigc_studio.music.jobs import MusicRequest, trained_programs

    path = bundled_models_dir() / "music-freedoom-transformer.safetensors"
    if not path.exists():
        pytest.skip("music-freedoom-transformer is not shipped in this checkout")
    request = MusicRequest(None, parse_instruments("drums,bass", trained_programs(read_card(path))))
    fragment = run_job(GenerateMusicJob(str(path), bars=2, request=request), seed=1)["fragment"]
    parts = [t for t in fragment.tracks if t.notes]
    assert parts and all(t.channel == 9 if t.is_drum else 32 <= t.program < 40 for t in parts)
