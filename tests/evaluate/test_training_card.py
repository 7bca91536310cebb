"""A finished training run carries its short evaluation in the model card."""

from __future__ import annotations

from aigc_studio.core.jobs import run_job
from aigc_studio.core.modelfile import read_card


def test_a_finished_image_training_run_stores_its_evaluation_in_the_card(picture_folder, tmp_path):
    from aigc_studio.image.jobs import train_job
    from aigc_studio.image.training import ImageTrainSettings

    out = tmp_path / "gan.safetensors"
    settings = ImageTrainSettings(
        data=str(picture_folder), out=str(out), kind="image-gan", resolution=32, size="tiny", steps=1, batch_size=4
    )
    logs: list[str] = []
    run_job(train_job(settings), on_log=logs.append)
    evaluation = read_card(out).evaluation
    assert evaluation["version"] == 1 and evaluation["settings"]["samples"] == 4
    assert evaluation["reference"] == {"what": "training images (no held-out split) (images at 32 px)", "items": 24}
    assert 0 <= evaluation["quality"]["precision_pixel16"] <= 1
    assert "recall_pixel16" in evaluation["reference_figures"]["diversity"]
    assert any(line.startswith("Evaluation on the training images") for line in logs)


def test_a_gpt_run_is_evaluated_on_its_held_out_split(tmp_path):
    from aigc_studio.text.jobs import TrainGPTJob

    text = tmp_path / "text.txt"
    text.write_text("The quick brown fox jumps over the lazy dog, and the dog sleeps on. " * 40)
    out = tmp_path / "gpt.safetensors"
    tiny = dict(layers=1, heads=2, width=16, context=16, batch_size=4, checkpoint_every=0, tokenizer="char")
    run_job(TrainGPTJob(dict(tiny, data=[str(text)], out=str(out), steps=2)))
    evaluation = read_card(out).evaluation
    assert evaluation["reference"]["what"] == "held-out split (characters of text)"
    assert evaluation["quality"]["held_out_loss_nats_per_char"] > 0
