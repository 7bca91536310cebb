"""The shipped starter models load and write music (one smoke test each)."""

from __future__ import annotations

import pytest

from aigc_studio.core.jobs import run_job
from aigc_studio.core.paths import bundled_models_dir
from aigc_studio.music.jobs import GenerateMusicJob


@pytest.mark.parametrize("name", ["music-chorales-transformer", "music-chorales-vae"])
def test_starter_model_generates_notes(name):
    path = bundled_models_dir() / f"{name}.safetensors"
    if not path.exists():
        pytest.skip(f"{name} is not shipped in this checkout")
    result = run_job(GenerateMusicJob(str(path), bars=2), seed=1)
    fragment = result["fragment"]
    assert fragment.note_count > 0
    assert all(0 <= n.pitch < 128 for t in fragment.tracks for n in t.notes)
