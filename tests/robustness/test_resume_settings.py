"""A resumed image run keeps the augmentation and flips it was trained with, whatever the new settings say."""

from __future__ import annotations

import torch

from aigc_studio.core.jobs import run_job
from aigc_studio.core.modelfile import load_model
from aigc_studio.image.jobs import train_job
from aigc_studio.image.training import ImageTrainSettings

from .harness import write_training_data


def settings(data, out, steps: int, **kw) -> ImageTrainSettings:
    base = dict(data=str(data), out=str(out), kind="image-gan", resolution=32, size="tiny", steps=steps, batch_size=4)
    return ImageTrainSettings(**{**base, **kw})


def test_resume_with_default_settings_keeps_the_checkpoints_augmentation(tmp_path, one_torch_thread):
    data = write_training_data("image-gan", tmp_path / "data")
    recipe = dict(augment="translation", flip=False, ema_decay=0.9)
    straight, split = tmp_path / "straight.safetensors", tmp_path / "split.safetensors"
    run_job(train_job(settings(data, straight, 4, **recipe)))
    run_job(train_job(settings(data, split, 2, **recipe)))
    lines: list[str] = []
    run_job(train_job(settings(data, split, 4, resume=str(split))), on_log=lines.append)  # the dialog's defaults
    assert any("checkpoint's augment = 'translation'" in line for line in lines), lines
    assert any("checkpoint's flip = False" in line for line in lines), lines
    a, b = load_model(straight)[1], load_model(split)[1]
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
