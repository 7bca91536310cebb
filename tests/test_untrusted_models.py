"""Model files from strangers: the card is checked against a schema before any tensor is read,
and damaged weights are caught by the content hash."""

from __future__ import annotations

import dataclasses
import json
import struct

import pytest
import torch

from aigc_studio.core import modelfile
from aigc_studio.core.card_schema import CONFIG_SCHEMAS
from aigc_studio.core.modelfile import ModelCard, load_model, read_card, save_model
from aigc_studio.errors import ModelFileError
from aigc_studio.text.gpt import load_gpt


def _save(path, kind="text-gpt", config=None, tensors=None):
    config = {"vocab_size": 8, "context": 16, "layers": 1, "heads": 1, "width": 8} if config is None else config
    tensors = tensors or {"w": torch.arange(12, dtype=torch.float32).reshape(3, 4)}
    save_model(path, tensors, ModelCard(kind=kind, config=config))
    return path


def _rewrite_card(path, change):
    """Edit the JSON card inside a saved file, keeping the tensor bytes."""
    raw = path.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n])
    card = json.loads(header["__metadata__"]["aigc_studio"])
    change(card)
    header["__metadata__"]["aigc_studio"] = json.dumps(card)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    path.write_bytes(struct.pack("<Q", len(text)) + text + raw[8 + n :])


@pytest.fixture
def no_tensor_reads(monkeypatch):
    """Fail the test if anything reads tensors from a file."""
    import safetensors.torch

    def forbidden(*args, **kwargs):
        raise AssertionError("tensors were read from a file whose card should have been refused")

    monkeypatch.setattr(safetensors.torch, "load_file", forbidden)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda c: c["config"].update(layers=100_000), r"layers is 100000, outside 1\.\.256"),
        (lambda c: c["config"].update(width=10**12), r"width is 1000000000000, outside"),
        (lambda c: c["config"].update(heads="four"), r"heads must be a whole number, not text"),
        (lambda c: c["config"].update(dropout=True), r"dropout must be a number, not true/false"),
        (lambda c: c["config"].pop("vocab_size"), r"no 'vocab_size'"),
        (lambda c: c.update(config=[1, 2]), r"'config' is a list, expected an object"),
        (lambda c: c.update(kind="image-diffusion"), r"unknown model kind 'image-diffusion'"),
        (lambda c: c.pop("kind"), r"no 'kind' field"),
        (lambda c: c.update(untrained="no"), r"'untrained' is text, expected true/false"),
        (lambda c: c.update(content_hash="../../etc/passwd"), r"content hash is not a SHA-256"),
    ],
)
def test_a_hostile_or_damaged_card_is_refused_before_any_tensor_is_read(tmp_path, no_tensor_reads, change, message):
    path = _save(tmp_path / "gift.safetensors")
    _rewrite_card(path, change)
    with pytest.raises(ModelFileError, match=message) as refused:
        load_gpt(path)
    assert "gift.safetensors" in str(refused.value)


def test_an_image_model_asking_for_an_absurd_resolution_is_refused(tmp_path, no_tensor_reads):
    path = _save(tmp_path / "big.safetensors", kind="image-gan", config={"resolution": 1 << 20, "g_norm": "pixel"})
    with pytest.raises(ModelFileError, match=r"resolution is 1048576, outside 8\.\.1024"):
        read_card(path)
    _rewrite_card(path, lambda c: c["config"].update(resolution=64, g_norm="magic"))
    with pytest.raises(ModelFileError, match=r"g_norm is 'magic'; expected one of 'batch', 'pixel'"):
        read_card(path)


def test_a_conditional_image_model_asking_for_a_million_classes_is_refused(tmp_path, no_tensor_reads):
    path = _save(tmp_path / "classes.safetensors", kind="image-gan", config={"resolution": 64, "classes": ["a", "b"]})
    read_card(path)  # two named classes are fine
    _rewrite_card(path, lambda c: c["config"].update(classes=[f"c{i}" for i in range(20_000)]))
    with pytest.raises(ModelFileError, match=r"classes lists 20,000 names, more than 10,000"):
        read_card(path)
    _rewrite_card(path, lambda c: c["config"].update(classes=["cats", 7]))
    with pytest.raises(ModelFileError, match=r"classes must hold names of 1 to 200 characters"):
        read_card(path)


def test_a_tensor_table_that_points_outside_the_file_is_refused_before_reading(tmp_path, no_tensor_reads):
    path = _save(tmp_path / "cut.safetensors")
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(ModelFileError, match="cut.safetensors is truncated: tensor 'w' ends at byte 48"):
        read_card(path)
    grown = _save(tmp_path / "grown.safetensors")
    grown.write_bytes(grown.read_bytes() + b"\0" * 16)
    with pytest.raises(ModelFileError, match="16 unexpected bytes after its tensors"):
        read_card(grown)


def test_changed_weights_are_caught_by_the_content_hash(tmp_path):
    path = _save(tmp_path / "m.safetensors")
    raw = bytearray(path.read_bytes())
    raw[-1] ^= 0xFF  # one flipped byte in the last tensor value
    path.write_bytes(bytes(raw))
    read_card(path)  # the card itself is fine
    with pytest.raises(ModelFileError, match="weights do not match the content hash"):
        load_model(path)


def test_every_starter_model_passes_the_schema_and_its_hash():
    for path in sorted((modelfile.Path(__file__).parents[1] / "resources" / "models").glob("*.safetensors")):
        card, tensors = load_model(path)
        assert card.content_hash and tensors


@pytest.mark.parametrize("kind", sorted(CONFIG_SCHEMAS))
def test_the_schema_knows_every_config_field_of_each_model_family(kind):
    from aigc_studio.image.gan import GANConfig
    from aigc_studio.image.vae import VAEConfig as ImageVAEConfig
    from aigc_studio.music.vae import MusicVAEConfig
    from aigc_studio.nn.transformer import TransformerConfig
    from aigc_studio.text.vae import VAEConfig as TextVAEConfig

    families = {
        "image-gan": GANConfig,
        "image-vae": ImageVAEConfig,
        "text-gpt": TransformerConfig,
        "music-transformer": TransformerConfig,
        "text-vae": TextVAEConfig,
        "music-vae": MusicVAEConfig,
    }
    assert set(CONFIG_SCHEMAS[kind]) == {f.name for f in dataclasses.fields(families[kind])}
