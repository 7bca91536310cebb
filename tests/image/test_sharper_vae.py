"""The sharper VAE recipe: multi-scale structure loss and a patch discriminator that resumes exactly."""

import torch
from torch.nn import functional as F

from aigc_studio.core.jobs import run_job
from aigc_studio.core.statefile import load_checkpoint
from aigc_studio.image.jobs import train_job
from aigc_studio.image.training import ImageTrainSettings
from aigc_studio.image.vae import multiscale_ssim, ssim

from .conftest import write_class_folder


def test_multiscale_ssim_is_one_for_a_copy_and_penalises_blur():
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(2, 3, 64, 64, generator=gen) * 2 - 1
    blurred = F.avg_pool2d(x, 3, stride=1, padding=1)
    assert torch.allclose(multiscale_ssim(x, x), torch.ones(2), atol=1e-5)
    assert (multiscale_ssim(x, blurred) < 0.9).all()
    assert (multiscale_ssim(x, blurred) > ssim(x, blurred)).all()  # coarse scales forgive fine blur a little


def test_a_vae_with_a_patch_discriminator_resumes_exactly(tmp_path):
    folder = write_class_folder(tmp_path / "pets", per_class=6)

    def settings(out, steps, resume=None):
        return ImageTrainSettings(
            data=str(folder),
            out=str(out),
            kind="image-vae",
            resolution=32,
            size="tiny",
            steps=steps,
            batch_size=4,
            checkpoint_every=0,
            resume=resume,
            extra_config={"adv_start": 1},
        )

    straight, split = tmp_path / "a.safetensors", tmp_path / "b.safetensors"
    result = run_job(train_job(settings(straight, 3)))
    assert "adv" in result["losses"] and "disc" in result["losses"]  # the discriminator took part
    run_job(train_job(settings(split, 2)))
    run_job(train_job(settings(split, 3, resume=str(split))))
    card, a, state_a = load_checkpoint(straight, "image-vae")
    _, b, state_b = load_checkpoint(split, "image-vae")
    assert card.config["adv_weight"] > 0 and card.config["ssim_scales"] == 3
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert all(torch.equal(state_a["adv"]["d"][k], state_b["adv"]["d"][k]) for k in state_a["adv"]["d"])
