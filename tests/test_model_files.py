"""Model files: round trip, atomic writes, and refusal of files that are not our models."""

import os
import pickle

import pytest
import torch
from torch import nn

from aigc_studio.core.atomic import atomic_write_text, atomic_write_with
from aigc_studio.core.modelfile import FORMAT_VERSION, ModelCard, load_into, load_model, read_card, save_model
from aigc_studio.core.statefile import load_checkpoint, save_checkpoint
from aigc_studio.errors import ModelFileError


def _tiny_tensors():
    torch.manual_seed(0)
    return {"layer.weight": torch.randn(4, 3), "layer.bias": torch.randn(4)}


def test_round_trip_keeps_tensors_and_card(tmp_path):
    path = tmp_path / "m.safetensors"
    card = save_model(path, _tiny_tensors(), ModelCard(kind="image-gan", config={"z": 8}, name="tiny", training={"steps": 3}))
    loaded_card, tensors = load_model(path, "image-gan")
    assert loaded_card.config == {"z": 8}
    assert loaded_card.training == {"steps": 3}
    assert loaded_card.format_version == FORMAT_VERSION
    assert loaded_card.content_hash == card.content_hash and len(card.content_hash) == 64
    for name, value in _tiny_tensors().items():
        assert torch.equal(tensors[name], value)


def test_content_hash_changes_with_weights(tmp_path):
    a = save_model(tmp_path / "a.safetensors", _tiny_tensors(), ModelCard(kind="image-gan", config={}))
    changed = _tiny_tensors()
    changed["layer.bias"][0] += 1
    b = save_model(tmp_path / "b.safetensors", changed, ModelCard(kind="image-gan", config={}))
    assert a.content_hash != b.content_hash


def test_failed_write_leaves_old_file_intact_and_no_temp_files(tmp_path):
    path = tmp_path / "m.safetensors"
    save_model(path, _tiny_tensors(), ModelCard(kind="text-gpt", config={"v": 1}))
    before = path.read_bytes()

    def crash_halfway(tmp):
        tmp.write_bytes(b"half a model")
        raise OSError("disk full")

    with pytest.raises(OSError):
        atomic_write_with(path, crash_halfway)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.safetensors"]


@pytest.mark.skipif(os.name != "posix", reason="POSIX file modes")
def test_atomic_write_gives_new_files_the_umask_mode_and_keeps_an_existing_mode(tmp_path, monkeypatch):
    from aigc_studio.core import atomic

    fresh = tmp_path / "story.md"
    monkeypatch.setattr(atomic, "_UMASK", 0o022)  # the process umask, read once at import
    atomic_write_text(fresh, "one")
    assert fresh.stat().st_mode & 0o777 == 0o644
    fresh.chmod(0o640)
    atomic_write_text(fresh, "two")
    assert fresh.stat().st_mode & 0o777 == 0o640 and fresh.read_text() == "two"


def test_pickle_renamed_to_safetensors_is_refused_without_unpickling(tmp_path):
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    raw = tmp_path / "raw.safetensors"
    raw.write_bytes(pickle.dumps({"x": Evil()}))
    with pytest.raises(ModelFileError, match="pickle"):
        load_model(raw)
    zipped = tmp_path / "checkpoint.safetensors"
    torch.save({"w": torch.zeros(2)}, zipped)
    with pytest.raises(ModelFileError, match="zip archive"):
        load_model(zipped)
    assert not marker.exists()


def test_wrong_kind_is_refused_naming_both_kinds(tmp_path):
    path = tmp_path / "m.safetensors"
    save_model(path, _tiny_tensors(), ModelCard(kind="music-vae", config={}))
    with pytest.raises(ModelFileError, match="music-vae model; expected image-gan"):
        load_model(path, "image-gan")


def test_other_files_are_named_for_what_they_are(tmp_path):
    text = tmp_path / "notes.safetensors"
    text.write_text("just some notes, nothing else\n")
    with pytest.raises(ModelFileError, match="text file"):
        read_card(text)
    empty = tmp_path / "empty.safetensors"
    empty.write_bytes(b"")
    with pytest.raises(ModelFileError, match="empty"):
        read_card(empty)
    with pytest.raises(ModelFileError, match="not found"):
        read_card(tmp_path / "missing.safetensors")


def test_plain_safetensors_without_card_and_future_versions_are_refused(tmp_path):
    from safetensors.torch import save_file

    plain = tmp_path / "plain.safetensors"
    save_file(_tiny_tensors(), str(plain))
    with pytest.raises(ModelFileError, match="not an AIGC Studio model"):
        read_card(plain)
    future = tmp_path / "future.safetensors"
    card = ModelCard(kind="image-gan", config={}, format_version=FORMAT_VERSION + 1)
    save_file(_tiny_tensors(), str(future), metadata={"aigc_studio": card.to_json()})
    with pytest.raises(ModelFileError, match="format version"):
        read_card(future)


def test_shape_mismatch_is_refused_with_the_parameter_named(tmp_path):
    path = tmp_path / "m.safetensors"
    save_model(path, {"weight": torch.zeros(5, 3), "bias": torch.zeros(5)}, ModelCard(kind="image-vae", config={}))
    _, tensors = load_model(path)
    with pytest.raises(ModelFileError, match=r"wrong shape weight: file \(5, 3\) vs model \(4, 3\)"):
        load_into(nn.Linear(3, 4), tensors, path)


def test_checkpoint_restores_optimiser_and_rng_state_exactly(tmp_path):
    torch.manual_seed(1)
    model = nn.Linear(3, 2)
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    for _ in range(3):
        opt.zero_grad()
        model(torch.randn(8, 3)).pow(2).mean().backward()
        opt.step()
    state = {"optimizer": opt.state_dict(), "rng": torch.get_rng_state(), "step": 3, "history": [(1, 0.5)]}
    path = tmp_path / "ckpt.safetensors"
    save_checkpoint(path, model.state_dict(), ModelCard(kind="image-gan", config={}), state)

    card, weights, restored = load_checkpoint(path, "image-gan")
    assert restored["step"] == 3 and restored["history"] == [(1, 0.5)]
    assert torch.equal(restored["rng"], state["rng"])
    twin = nn.Linear(3, 2)
    twin.load_state_dict(weights)
    twin_opt = torch.optim.Adam(twin.parameters(), lr=0.01)
    twin_opt.load_state_dict(restored["optimizer"])
    batch = torch.randn(8, 3)
    for m, o in ((model, opt), (twin, twin_opt)):
        o.zero_grad()
        m(batch).pow(2).mean().backward()
        o.step()
    assert torch.equal(model.weight, twin.weight)
    # A checkpoint is still an ordinary model file.
    assert read_card(path).kind == "image-gan"
