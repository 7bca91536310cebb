"""Out of memory while training text or music: the batch halves, the user is told, and resume keeps the new batch."""

from __future__ import annotations

import pytest
import torch

from aigc_studio.core.jobs import run_job
from aigc_studio.core.modelfile import load_model
from aigc_studio.core.statefile import load_checkpoint
from aigc_studio.errors import StudioError
from aigc_studio.music.training import TrainMusicJob, train_settings_for
from aigc_studio.music.vae import MusicVAE
from aigc_studio.nn.transformer import TransformerLM
from aigc_studio.text.jobs import TrainGPTJob, TrainVAEJob
from aigc_studio.text.vae import SentenceVAE

from .harness import write_training_data

pytestmark = pytest.mark.usefixtures("one_torch_thread")

OOM = RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB (GPU 0; 7.79 GiB total capacity)")
TRAINERS = {  # kind -> (the forward pass that runs out of memory, tiny settings)
    "text-gpt": (TransformerLM, dict(tokenizer="char", layers=1, heads=2, width=16, context=16, eval_every=1000,
                                     sample_every=0)),
    "text-vae": (SentenceVAE, dict(embed=16, hidden=32, latent=8, sample_every=0)),
    "music-transformer": (TransformerLM, dict(layers=1, heads=2, width=32, context=64, eval_every=1000)),
    "music-vae": (MusicVAE, dict(hidden=32, latent=8, eval_every=1000)),
}


def job(kind: str, data, out, steps: int, **extra):
    """The real training job for ``kind`` with a batch of 8 and no checkpoints before the end."""
    settings = dict(TRAINERS[kind][1], data=[str(data)], out=str(out), steps=steps, batch_size=8, checkpoint_every=0)
    settings.update(extra)
    if kind.startswith("music"):
        return TrainMusicJob(train_settings_for(kind, **settings))
    return (TrainGPTJob if kind == "text-gpt" else TrainVAEJob)(settings)


def fail_first_calls(monkeypatch, kind: str, failures: int | None) -> None:
    """Make the first ``failures`` training forward passes (all, if None) raise a CUDA OOM error."""
    model_class = TRAINERS[kind][0]
    original = model_class.loss
    calls = {"n": 0}

    def loss(self, *args, **kwargs):
        calls["n"] += 1
        if failures is None or calls["n"] <= failures:
            raise OOM
        return original(self, *args, **kwargs)

    monkeypatch.setattr(model_class, "loss", loss)


@pytest.mark.parametrize("kind", TRAINERS)
def test_out_of_memory_halves_the_batch_and_a_resume_keeps_it(kind, tmp_path, monkeypatch):
    data = write_training_data(kind, tmp_path / "data")
    straight, split = tmp_path / "straight.safetensors", tmp_path / "split.safetensors"
    lines: list[str] = []
    fail_first_calls(monkeypatch, kind, failures=1)
    run_job(job(kind, data, straight, steps=4), on_log=lines.append)
    assert any("Out of memory at batch 8: continuing with batch 4." in line for line in lines), lines
    _, _, state = load_checkpoint(straight, kind)
    assert state["step"] == 4 and state["settings"]["batch_size"] == 4

    # The same run stopped after two steps and resumed (memory is fine now) ends with the same weights:
    # the checkpoint carried the smaller batch forward.
    fail_first_calls(monkeypatch, kind, failures=1)
    run_job(job(kind, data, split, steps=2))
    monkeypatch.undo()
    run_job(job(kind, data, split, steps=4, resume=str(split)))
    a, b = load_model(straight)[1], load_model(split)[1]
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert load_checkpoint(split, kind)[2]["settings"]["batch_size"] == 4


@pytest.mark.parametrize("kind", TRAINERS)
def test_out_of_memory_at_batch_one_is_a_clear_error(kind, tmp_path, monkeypatch):
    data = write_training_data(kind, tmp_path / "data")
    lines: list[str] = []
    fail_first_calls(monkeypatch, kind, failures=None)
    with pytest.raises(StudioError, match="Out of memory even with a batch of 1"):
        run_job(job(kind, data, tmp_path / "m.safetensors", steps=3), on_log=lines.append)
    halvings = [line for line in lines if line.startswith("Out of memory at batch")]
    assert halvings == [f"Out of memory at batch {n}: continuing with batch {n // 2}." for n in (8, 4, 2)]


@pytest.mark.parametrize("kind", ["text-gpt", "music-transformer", "music-vae"])
def test_out_of_memory_while_measuring_held_out_loss_halves_that_batch_and_training_goes_on(
    kind, tmp_path, monkeypatch
):
    data = write_training_data(kind, tmp_path / "data")
    out = tmp_path / "model.safetensors"
    model_class = TRAINERS[kind][0]
    original = model_class.loss
    failures = {"left": 1}

    def loss(self, *args, **kwargs):
        if not torch.is_grad_enabled() and failures["left"]:  # held-out loss runs without gradients
            failures["left"] -= 1
            raise OOM
        return original(self, *args, **kwargs)

    monkeypatch.setattr(model_class, "loss", loss)
    lines: list[str] = []
    run_job(job(kind, data, out, steps=2, eval_every=1), on_log=lines.append)
    assert any("Out of memory at held-out batch 8: continuing with held-out batch 4." in line for line in lines)
    _, _, state = load_checkpoint(out, kind)
    assert state["step"] == 2 and state["settings"]["batch_size"] == 8  # training's batch is untouched
