"""The short evaluation after training lands in the model card; `models info` and the picker show it."""

from __future__ import annotations

import json

import numpy as np

from aigc_studio.cli.main import main
from aigc_studio.core.jobs import run_job
from aigc_studio.core.modelfile import load_model, read_card, save_model
from aigc_studio.evaluate.card import CARD_EVALUATION_VERSION, evaluate_for_card, headline


def test_evaluation_goes_into_the_card_and_models_info_prints_it(tiny_gan, picture_folder, tmp_path, capsys):
    from PIL import Image

    held_out = np.stack([np.asarray(Image.open(p).convert("RGB")) for p in sorted(picture_folder.glob("*.png"))])
    evaluation = run_job(_CardJob(tiny_gan, held_out))
    assert evaluation["version"] == CARD_EVALUATION_VERSION
    assert evaluation["reference"] == {"what": "images at 32 px", "items": 24}
    assert {"precision_pixel16", "precision_features"} <= set(evaluation["quality"])
    assert evaluation["reference_figures"]["diversity"]["recall_pixel16"] > 0

    card, tensors = load_model(tiny_gan)
    card.evaluation = evaluation
    save_model(tiny_gan, tensors, card)
    assert read_card(tiny_gan).evaluation == json.loads(json.dumps(evaluation))
    capsys.readouterr()
    assert main(["models", "info", str(tiny_gan)]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["evaluation"]["quality"] == evaluation["quality"]
    assert "precision features" in headline(evaluation, "image-gan") and "(reference" in headline(
        evaluation, "image-gan"
    )


def test_picker_tooltip_shows_the_headline_figures(qtbot, studio_home, tiny_gan):
    from aigc_studio.core.paths import user_models_dir
    from aigc_studio.ui.model_picker import ModelPicker

    card, tensors = load_model(tiny_gan)
    card.evaluation = {"version": 1, "quality": {"precision_features": 0.5}, "reference_figures": {}}
    user_models_dir().mkdir(parents=True, exist_ok=True)
    save_model(user_models_dir() / "evaluated.safetensors", tensors, card)
    picker = ModelPicker(("image-gan",))
    qtbot.addWidget(picker)
    index = picker.findData(str(user_models_dir() / "evaluated.safetensors"))
    assert "Evaluation: precision features 0.5" in picker.itemData(index, 3)


class _CardJob:
    title = "card evaluation"

    def __init__(self, path, held_out) -> None:
        self.path, self.held_out = path, held_out

    def run(self, ctx):
        return evaluate_for_card(self.path, "image-gan", self.held_out, ctx, samples=8)
