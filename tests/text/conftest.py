"""Fixtures for the writer studio: tiny models built here, never the starter weights."""

from __future__ import annotations

from pathlib import Path

import pytest

SAMPLE_TEXT = (
    "It was a bright cold day in April, and the clocks were striking thirteen. "
    "The garden was quiet; the rain had stopped. Café, naïve, smörgåsbord — and 東京.\n"
) * 20


@pytest.fixture(scope="session")
def tiny_gpt_path(tmp_path_factory) -> Path:
    """A random (untrained) char-level GPT saved as a real model file."""
    import torch

    from aigc_studio.core.modelfile import ModelCard
    from aigc_studio.nn.transformer import TransformerConfig
    from aigc_studio.text.gpt import new_gpt_model, save_gpt
    from aigc_studio.text.tokenizer import CharTokenizer

    torch.manual_seed(0)
    tokenizer = CharTokenizer.train(SAMPLE_TEXT)
    model = new_gpt_model(TransformerConfig(vocab_size=tokenizer.vocab_size, context=32, layers=2, heads=2, width=32))
    path = tmp_path_factory.mktemp("gpt") / "tiny-gpt.safetensors"
    save_gpt(path, model, tokenizer, ModelCard("text-gpt", {}, name="tiny", untrained=True))
    return path


@pytest.fixture(scope="session")
def corpus_dir(tmp_path_factory) -> Path:
    """A folder with a small UTF-8 corpus."""
    folder = tmp_path_factory.mktemp("corpus")
    (folder / "story.txt").write_text(SAMPLE_TEXT, encoding="utf-8")
    return folder


def _hf_tokenizer():
    from transformers import PreTrainedTokenizerFast

    from aigc_studio.text.tokenizer import BPETokenizer

    bpe = BPETokenizer.train("Hello world. The quick brown fox jumps over the lazy dog. " * 20, vocab_size=300)
    return PreTrainedTokenizerFast(tokenizer_object=bpe.backend), bpe.vocab_size


@pytest.fixture(scope="session")
def hf_folders(tmp_path_factory) -> dict[str, Path]:
    """Tiny random GPT-2 and Llama models saved in the Hugging Face layout."""
    pytest.importorskip("transformers")
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel, LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    tokenizer, vocab = _hf_tokenizer()
    models = {
        "gpt2": GPT2LMHeadModel(
            GPT2Config(
                vocab_size=vocab, n_positions=64, n_embd=32, n_layer=2, n_head=2, bos_token_id=None, eos_token_id=None
            )
        ),
        "llama": LlamaForCausalLM(
            LlamaConfig(
                vocab_size=vocab,
                hidden_size=32,
                intermediate_size=64,
                num_hidden_layers=2,
                num_attention_heads=2,
                num_key_value_heads=2,
                max_position_embeddings=64,
                bos_token_id=None,
                eos_token_id=None,
            )
        ),
    }
    root = tmp_path_factory.mktemp("hf")
    folders = {}
    for name, model in models.items():
        folder = root / name
        model.save_pretrained(folder)
        tokenizer.save_pretrained(folder)
        folders[name] = folder
    return folders


CHAT_TEMPLATE = (
    "{% for message in messages %}<|{{ message['role'] }}|>\n{{ message['content'] }}</s>\n{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
)


@pytest.fixture(scope="session")
def chat_folder(hf_folders, tmp_path_factory) -> Path:
    """The tiny random Llama folder turned into a 'chat model': a chat template written into its tokenizer config."""
    import json
    import shutil

    folder = tmp_path_factory.mktemp("chat") / "tiny-chat"
    shutil.copytree(hf_folders["llama"], folder)
    config_file = folder / "tokenizer_config.json"
    config = json.loads(config_file.read_text(encoding="utf-8"))
    config["chat_template"] = CHAT_TEMPLATE
    config_file.write_text(json.dumps(config), encoding="utf-8")
    (folder / "chat_template.jinja").unlink(missing_ok=True)
    return folder
