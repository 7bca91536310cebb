"""Local Hugging Face folders open offline; pickle weights are refused unless allowed."""

from __future__ import annotations

import shutil

import pytest

pytest.importorskip("transformers")

import torch  # noqa: E402

from aigc_studio.cli.main import main  # noqa: E402
from aigc_studio.core.jobs import run_job  # noqa: E402
from aigc_studio.errors import InputError  # noqa: E402
from aigc_studio.nn.sampling import SamplingSettings  # noqa: E402
from aigc_studio.text.generate import generate_ids  # noqa: E402
from aigc_studio.text.hf import load_hf_model  # noqa: E402
from aigc_studio.text.jobs import GenerateTextJob  # noqa: E402


@pytest.mark.parametrize("family", ["gpt2", "llama"])
def test_tiny_model_loads_offline_and_cache_matches_recompute(hf_folders, family, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    lm = load_hf_model(hf_folders[family])
    prompt = lm.encode("Hello world. The quick")
    settings = SamplingSettings(temperature=0.0)
    n = 20
    cached = generate_ids(lm, prompt, settings, torch.Generator(), use_cache=True)
    full = generate_ids(lm, prompt, settings, torch.Generator(), use_cache=False)
    assert [next(cached) for _ in range(n)] == [next(full) for _ in range(n)]


def test_generate_job_streams_from_a_folder(hf_folders):
    pieces = []
    result = run_job(
        GenerateTextJob(model=str(hf_folders["gpt2"]), prompt="Hello", max_new_tokens=10, seed=1),
        on_partial=pieces.append,
    )
    assert "".join(p["text"] for p in pieces) == result["text"]


@pytest.fixture
def pickle_folder(hf_folders, tmp_path):
    folder = tmp_path / "pickled"
    shutil.copytree(hf_folders["gpt2"], folder)
    from safetensors.torch import load_file

    state = load_file(str(folder / "model.safetensors"))
    (folder / "model.safetensors").unlink()
    torch.save(state, folder / "pytorch_model.bin")
    return folder


def test_pickle_weights_are_refused_with_an_explanation(pickle_folder, capsys):
    with pytest.raises(InputError, match="pickle"):
        load_hf_model(pickle_folder)
    assert main(["generate", "text", "--model", str(pickle_folder), "--prompt", "Hi", "--max-tokens", "3"]) == 1
    assert "run any code" in capsys.readouterr().err


def test_pickle_weights_load_when_the_user_allows_them(pickle_folder):
    lm = load_hf_model(pickle_folder, allow_pickle=True)
    assert lm.decode(lm.encode("Hello")) == "Hello"


def test_folder_without_config_is_refused(tmp_path):
    with pytest.raises(InputError, match="config.json"):
        load_hf_model(tmp_path)
