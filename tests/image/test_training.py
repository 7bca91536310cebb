"""Training: finite losses, exact resume, OOM fallback, cancel keeps a checkpoint, CLI train."""

import math

import pytest
import torch

from aigc_studio.core.jobs import CancelToken, run_job
from aigc_studio.core.statefile import load_checkpoint
from aigc_studio.errors import Cancelled
from aigc_studio.image.jobs import train_job
from aigc_studio.image.training import ImageTrainSettings

from .conftest import write_mixed_folder


@pytest.fixture
def folder(tmp_path):
    path = tmp_path / "data"
    write_mixed_folder(path, copies=3)
    return path


def settings(folder, out, kind="image-gan", **kw):
    base = dict(
        data=str(folder), out=str(out), kind=kind, resolution=32, size="tiny", steps=1, batch_size=4, loss_every=1
    )
    base.update(kw)
    return ImageTrainSettings(**base)


def run(s):
    losses = []
    result = run_job(train_job(s), on_partial=lambda p: p["type"] == "loss" and losses.append((p["step"], p["values"])))
    return result, losses


@pytest.mark.parametrize("kind", ["image-gan", "image-vae"])
def test_one_training_step_gives_finite_losses_and_a_loadable_model(folder, tmp_path, kind):
    from aigc_studio.image.model import load_image_model

    out = tmp_path / "m.safetensors"
    result, losses = run(settings(folder, out, kind))
    assert result["steps"] == 1 and losses
    assert all(math.isfinite(v) for v in losses[-1][1].values())
    model = load_image_model(out)
    assert model.kind == kind and model.card.training["steps"] == 1
    if kind == "image-vae":
        assert model.latent_mean is not None and model.latent_chol.shape == (model.latent_dim, model.latent_dim)
        from aigc_studio.image.model import to_uint8

        u = torch.ones(1, model.latent_dim)
        with torch.no_grad():
            expected = to_uint8(model.net.decode(model.latent_mean + u @ model.latent_chol.T))
        assert (model.decode(u) == expected).all()  # canvas latents are standardised codes
    image = model.decode(torch.zeros(1, model.latent_dim))
    assert image.shape == (1, 32, 32, 3)


@pytest.mark.parametrize("kind", ["image-gan", "image-vae"])
@pytest.mark.parametrize("resolution", [64, 128])
def test_larger_resolutions_train_a_step_and_decode_at_their_size(folder, tmp_path, kind, resolution):
    from aigc_studio.image.model import load_image_model

    out = tmp_path / "m.safetensors"
    result, losses = run(settings(folder, out, kind, resolution=resolution, batch_size=2))
    assert result["steps"] == 1 and all(math.isfinite(v) for v in losses[-1][1].values())
    model = load_image_model(out)
    assert model.decode(torch.zeros(1, model.latent_dim)).shape == (1, resolution, resolution, 3)


@pytest.mark.parametrize("kind", ["image-gan", "image-vae"])
def test_resume_continues_at_the_same_step_with_identical_next_loss(folder, tmp_path, kind):
    straight, straight_losses = run(settings(folder, tmp_path / "a.safetensors", kind, steps=3))
    run(settings(folder, tmp_path / "b.safetensors", kind, steps=2))
    card, _, state = load_checkpoint(tmp_path / "b.safetensors", kind)
    assert state["step"] == 2
    resumed, resumed_losses = run(
        settings(folder, tmp_path / "b.safetensors", kind, steps=3, resume=str(tmp_path / "b.safetensors"))
    )
    step3 = [v for s, v in resumed_losses if s == 3]
    assert step3 and step3[-1] == straight_losses[-1][1]
    _, a, _ = load_checkpoint(tmp_path / "a.safetensors", kind)
    _, b, _ = load_checkpoint(tmp_path / "b.safetensors", kind)
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_out_of_memory_halves_the_batch_and_continues(folder, tmp_path, monkeypatch):
    from aigc_studio.image import train_gan

    original = train_gan.GANTrainer.step
    calls = {"n": 0}

    def flaky(self, check_cancelled=lambda: None):
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return original(self, check_cancelled)

    monkeypatch.setattr(train_gan.GANTrainer, "step", flaky)
    lines = []
    out = tmp_path / "m.safetensors"
    run_job(train_job(settings(folder, out, batch_size=8, steps=2)), on_log=lines.append)
    assert any("Out of memory at batch 8: continuing with batch 4" in line for line in lines)
    assert load_checkpoint(out, "image-gan")[2]["batch"] == 4


def test_cancel_stops_and_keeps_a_resumable_checkpoint(folder, tmp_path):
    token = CancelToken()
    out = tmp_path / "m.safetensors"

    def on_partial(payload):
        if payload["type"] == "loss" and payload["step"] >= 2:
            token.cancel()

    with pytest.raises(Cancelled):
        run_job(train_job(settings(folder, out, steps=1000)), on_partial=on_partial, cancel_token=token)
    assert load_checkpoint(out, "image-gan")[2]["step"] == 2


def test_preview_grids_stream_during_training(folder, tmp_path):
    previews = []
    run_job(
        train_job(settings(folder, tmp_path / "m.safetensors", steps=2, sample_every=1)),
        on_partial=lambda p: p["type"] == "preview" and previews.append(p),
    )
    assert [p["step"] for p in previews] == [1, 2]
    assert previews[0]["image"].ndim == 3 and previews[0]["image"].shape[2] == 3


def test_cli_train_and_resume(folder, tmp_path, capsys):
    from aigc_studio.cli.main import main

    out = tmp_path / "cli.safetensors"
    args = ["--device", "cpu", "train", "image-vae", "--data", str(folder), "--resolution", "32", "--size", "tiny"]
    assert main(args + ["--steps", "1", "--batch", "4", "--out", str(out)]) == 0
    assert main(args + ["--steps", "2", "--batch", "4", "--out", str(out), "--resume", str(out)]) == 0
    assert load_checkpoint(out, "image-vae")[2]["step"] == 2
    assert main(["train", "image-gan", "--data", str(tmp_path / "nothing"), "--steps", "1", "--out", str(out)]) == 1
    assert "not found" in capsys.readouterr().err


def test_a_gan_saved_on_cancel_draws_the_same_pictures_as_one_saved_at_the_end(folder, tmp_path):
    from aigc_studio.core.modelfile import read_card
    from aigc_studio.image.model import load_image_model

    finished, cancelled = tmp_path / "finished.safetensors", tmp_path / "cancelled.safetensors"
    run_job(train_job(settings(folder, finished, steps=3)))
    token = CancelToken()

    def on_partial(payload):
        if payload["type"] == "loss" and payload["step"] >= 3:
            token.cancel()

    with pytest.raises(Cancelled):
        run_job(train_job(settings(folder, cancelled, steps=1000)), on_partial=on_partial, cancel_token=token)
    # Cancel skipped the BatchNorm statistics to stop fast; the loader computes the same ones.
    assert read_card(cancelled).training.get("standing_stats_pending") is True
    assert "standing_stats_pending" not in read_card(finished).training
    a, b = load_image_model(finished), load_image_model(cancelled)
    z = torch.randn(6, a.net.config.z_dim, generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        assert torch.equal(a.net(z), b.net(z))


def test_a_vae_saved_on_cancel_fits_its_sampling_gaussian_on_a_spread_of_the_images(tmp_path):
    import numpy as np
    from PIL import Image

    from aigc_studio.core.modelfile import read_card
    from aigc_studio.image.model import load_image_model
    from aigc_studio.image.train_vae import QUICK_FIT_IMAGES

    many = tmp_path / "many"
    many.mkdir()
    rng = np.random.default_rng(0)
    for i in range(QUICK_FIT_IMAGES + 40):  # more pictures than a Cancel save encodes
        Image.fromarray(rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)).save(many / f"{i:03d}.png")
    out = tmp_path / "vae.safetensors"
    token = CancelToken()

    def on_partial(payload):
        if payload["type"] == "loss" and payload["step"] >= 1:
            token.cancel()

    with pytest.raises(Cancelled):
        run_job(train_job(settings(many, out, kind="image-vae", steps=1000)), on_partial=on_partial, cancel_token=token)
    assert read_card(out).training["latent_fit_images"] == QUICK_FIT_IMAGES
    model = load_image_model(out)
    assert model.latent_mean is not None and torch.isfinite(model.latent_mean).all()
