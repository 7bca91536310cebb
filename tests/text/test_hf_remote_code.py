"""Hugging Face folders never run code that comes with them: ``auto_map`` custom code is refused
before transformers sees the folder, and transformers is always told not to trust remote code."""

from __future__ import annotations

import json

import pytest

from aigc_studio.cli.main import main
from aigc_studio.errors import InputError


@pytest.fixture
def remote_code_folder(tmp_path):
    """An HF folder whose config asks transformers to import a .py file that leaves a marker."""
    folder = tmp_path / "custom-model"
    folder.mkdir()
    marker = tmp_path / "code-ran"
    (folder / "config.json").write_text(
        json.dumps({"model_type": "evil", "auto_map": {"AutoModelForCausalLM": "modeling_evil.EvilForCausalLM"}})
    )
    (folder / "modeling_evil.py").write_text(f"open({str(marker)!r}, 'w').write('ran')\n")
    (folder / "model.safetensors").write_bytes(b"")
    (folder / "tokenizer.json").write_text("{}")
    return folder, marker


def test_a_model_folder_that_brings_its_own_code_is_refused_and_the_code_never_runs(remote_code_folder, capsys):
    from aigc_studio.text.hf import load_hf_model

    folder, marker = remote_code_folder
    with pytest.raises(InputError, match=r"asks to run its own Python code \(modeling_evil.py\)"):
        load_hf_model(folder)
    assert main(["generate", "text", "--model", str(folder), "--prompt", "Hi", "--max-tokens", "3"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "never runs code that comes with a model" in err[0]
    assert not marker.exists()


def test_transformers_is_always_told_not_to_trust_remote_code(monkeypatch, hf_folders):
    transformers = pytest.importorskip("transformers")
    seen = []
    for auto in (transformers.AutoTokenizer, transformers.AutoModelForCausalLM):
        original = auto.from_pretrained

        def spy(*args, _original=original, **kwargs):
            seen.append(kwargs.get("trust_remote_code", "unset"))
            return _original(*args, **kwargs)

        monkeypatch.setattr(auto, "from_pretrained", spy)
    from aigc_studio.text.hf import load_hf_model

    load_hf_model(hf_folders["gpt2"])
    assert seen == [False, False]
