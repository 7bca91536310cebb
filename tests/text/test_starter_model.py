"""The shipped starter GPT loads by name and writes English-looking text (smoke test)."""

from __future__ import annotations

import re

import pytest

from aigc_studio.core.jobs import run_job
from aigc_studio.core.paths import bundled_models_dir
from aigc_studio.core.registry import resolve_model
from aigc_studio.text.jobs import GenerateTextJob

STARTER = bundled_models_dir() / "shakespeare-gpt.safetensors"


@pytest.mark.skipif(not STARTER.exists(), reason="starter model not shipped in this checkout")
def test_starter_model_generates_english_words():
    assert resolve_model("shakespeare-gpt", "text-gpt") == STARTER
    result = run_job(
        GenerateTextJob(model="shakespeare-gpt", prompt="KING.\nMy lord, ", max_new_tokens=300, temperature=0.7, seed=1)
    )
    words = re.findall(r"[A-Za-z']+", result["text"])
    common = {"the", "and", "i", "to", "of", "a", "my", "you", "is", "that", "in", "not", "me", "it", "with", "your"}
    assert len(words) > 30
    assert sum(w.lower() in common for w in words) / len(words) > 0.15
