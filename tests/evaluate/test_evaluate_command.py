"""`aigc-studio evaluate`: the JSON a user gets, the report, and one clear line for bad reference data."""

from __future__ import annotations

import json

import numpy as np

from aigc_studio.cli.main import main
from aigc_studio.evaluate.base import Reference
from aigc_studio.evaluate.images import ImageStudio


class _Ctx:
    def check_cancelled(self) -> None:
        pass

    def progress(self, fraction, message="", preview=None) -> None:
        pass


def test_images_that_are_the_reference_score_one_and_are_flagged_as_copies(picture_folder):
    from PIL import Image

    images = [np.asarray(Image.open(p).convert("RGB")) for p in sorted(picture_folder.glob("*.png"))]
    reference = Reference(str(picture_folder), images, [f"p{i}" for i in range(len(images))], "images", len(images))
    measured = ImageStudio().measure(images, reference, None, _Ctx(), None)
    assert measured.quality == {"precision_pixel16": 1.0, "precision_features": 1.0}
    assert measured.diversity["recall_pixel16"] == measured.diversity["recall_features"] == 1.0
    assert measured.novelty["nearest_distance_pixel16_median"] == 0.0
    assert measured.memorised == len(images)  # every sample is an exact copy: closer than any two references
    one = ImageStudio().measure([images[0]] * 16, reference, None, _Ctx(), None)
    assert one.diversity["recall_pixel16"] == round(1 / len(images), 4)  # only the repeated item is covered
    assert one.diversity["near_duplicate_pair_share"] == 1.0


def test_evaluate_writes_the_four_sections_with_reference_figures_and_a_report(tiny_gan, picture_folder, tmp_path):
    out, report = tmp_path / "eval.json", tmp_path / "eval.html"
    code = main(["--device", "cpu", "evaluate", "--model", str(tiny_gan), "--data", str(picture_folder),
                 "--samples", "8", "--json", str(out), "--report", str(report)])  # fmt: skip
    assert code == 0
    figures = json.loads(out.read_text())
    assert figures["model"]["kind"] == "image-gan" and len(figures["model"]["hash"]) == 64
    assert figures["reference"]["items"] == 24
    for section in ("quality", "diversity", "novelty", "efficiency"):
        assert figures[section], section
    assert 0 <= figures["quality"]["precision_features"] <= 1
    assert figures["reference_figures"]["diversity"]["recall_pixel16"] > 0
    assert figures["efficiency"]["images_per_s"] > 0 and figures["efficiency"]["parameters"] > 0
    assert len(figures["novelty"]["nearest"]) == 8
    page = report.read_text()
    assert page.count("data:image/png;base64,") == 16  # 8 pairs, sample beside reference


def test_without_reference_data_the_missing_figures_say_why(tiny_gan, tmp_path):
    out = tmp_path / "eval.json"
    assert main(["evaluate", "--model", str(tiny_gan), "--samples", "4", "--json", str(out)]) == 0
    figures = json.loads(out.read_text())
    assert "precision_pixel16" in figures["missing"] and "--data" in figures["missing"]["precision_pixel16"]
    assert "mean_pairwise_distance_pixel16" in figures["diversity"]


def test_bad_reference_data_gives_one_line_and_exit_1(tiny_gan, tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "a.png").write_bytes(b"not a png at all")
    midi = tmp_path / "tune.mid"
    midi.write_bytes(b"MThd\x00\x00\x00\x06\x00\x00\x00\x01\x00\x60")
    for data in (empty, broken, midi, tmp_path / "missing"):
        capsys.readouterr()
        assert main(["evaluate", "--model", str(tiny_gan), "--data", str(data), "--samples", "4"]) == 1
        errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("aigc-studio:")]
        assert len(errors) == 1 and errors[0].startswith("aigc-studio: error:"), errors
