"""Checkpoints written before the training loops became one still resume, exactly.

The one loop keeps every checkpoint key but three, which older files name
otherwise: elapsed time ("seconds" in image checkpoints), torch's global RNG
("torch_rng"/"cuda_rng" in text-GPT ones, inside "rng" in image ones) and the
batch size ("batch" in image settings, with the halved batch beside them).
A file in the old layout must resume to the same weights as an unbroken run.
"""

from __future__ import annotations

import pytest
import torch

from aigc_studio.core.jobs import run_job
from aigc_studio.core.modelfile import load_model
from aigc_studio.core.statefile import load_checkpoint, save_checkpoint
from aigc_studio.image.jobs import train_job
from aigc_studio.image.settings import ImageTrainSettings
from aigc_studio.text.jobs import TrainGPTJob

from .harness import write_training_data

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def image_job(data, out, steps: int, resume=None):
    return train_job(
        ImageTrainSettings(
            data=str(data),
            out=str(out),
            kind="image-gan",
            resolution=32,
            size="tiny",
            steps=steps,
            batch_size=4,
            sample_every=0,
            resume=resume,
        )
    )


def gpt_job(data, out, steps: int, resume=None):
    return TrainGPTJob(
        dict(
            data=[str(data)],
            out=str(out),
            steps=steps,
            layers=1,
            heads=2,
            width=16,
            context=16,
            batch_size=4,
            eval_every=1000,
            sample_every=0,
            tokenizer="char",
            dropout=0.1,
            resume=resume,
        )
    )


def old_image_state(state: dict) -> dict:
    """The layout image/train_job.py wrote before the one loop."""
    state["seconds"] = state.pop("elapsed")
    del state["global_rng"]  # the global RNG was only in rng["torch_global"]
    settings = state["settings"]
    settings["batch"] = settings.pop("batch_size")
    settings["preview_every"] = settings.pop("sample_every")
    for name in ("min_lr", "warmup", "grad_clip", "eval_every"):
        del settings[name]
    return state


def old_gpt_state(state: dict) -> dict:
    """The layout text/train_gpt.py wrote before the one loop."""
    state["torch_rng"] = state.pop("global_rng")["cpu"]
    for name in ("loss_every", "grad_clip"):
        del state["settings"][name]
    return state


@pytest.mark.parametrize(
    "kind, job, old_state", [("image-gan", image_job, old_image_state), ("text-gpt", gpt_job, old_gpt_state)]
)
def test_a_checkpoint_in_the_old_layout_resumes_to_the_same_weights(kind, job, old_state, tmp_path):
    data = write_training_data(kind, tmp_path / "data")
    straight, split = tmp_path / "straight.safetensors", tmp_path / "split.safetensors"
    run_job(job(data, straight, 4))
    run_job(job(data, split, 2))
    card, tensors, state = load_checkpoint(split, kind)
    save_checkpoint(split, tensors, card, old_state(state))
    lines: list[str] = []
    run_job(job(data, split, 4, resume=str(split)), on_log=lines.append)
    assert any(line.startswith("Resumed split.safetensors at step 2") for line in lines), lines
    a, b = load_model(straight)[1], load_model(split)[1]
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
