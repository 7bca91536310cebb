"""Class-conditional models: sub-folders are classes, the class travels in recipes and PNGs, bad layouts are refused."""

import numpy as np
import pytest
import torch
from PIL import Image

from aigc_studio.cli.main import main
from aigc_studio.core.jobs import run_job
from aigc_studio.core.statefile import load_checkpoint
from aigc_studio.errors import InputError
from aigc_studio.image import jobs
from aigc_studio.image.dataset import load_image_folder
from aigc_studio.image.model import load_image_model
from aigc_studio.image.recipe import read_recipe, save_png
from aigc_studio.image.training import ImageTrainSettings

from .conftest import make_gan_file, write_class_folder, write_mixed_folder


def train(folder, out, steps=2, **kw):
    settings = ImageTrainSettings(
        data=str(folder), out=str(out), resolution=32, size="tiny", steps=steps, batch_size=4, checkpoint_every=0, **kw
    )
    return run_job(jobs.train_job(settings))


def test_a_folder_of_class_folders_trains_a_conditional_model_that_draws_each_class(tmp_path):
    folder = write_class_folder(tmp_path / "pets")
    out = tmp_path / "pets.safetensors"
    train(folder, out)
    model = load_image_model(out)
    assert model.classes == ["cats", "dogs"] and model.card.config["classes"] == ["cats", "dogs"]
    result = run_job(jobs.GenerateImagesJob(str(out), count=4, seed=5, psi=0.7, classes=["dogs"]))
    assert [item["recipe"]["class"] for item in result["items"]] == ["dogs"] * 4
    assert all(item["recipe"]["class_weights"] == [0.0, 1.0] for item in result["items"])
    cats = run_job(jobs.GenerateImagesJob(str(out), count=4, seed=5, psi=0.7, classes=["cats"]))
    assert not np.array_equal(result["items"][0]["image"], cats["items"][0]["image"])  # the class steers
    anyclass = run_job(jobs.GenerateImagesJob(str(out), count=4, seed=5, psi=0.7))
    assert [item["recipe"]["class"] for item in anyclass["items"]] == ["dogs", "cats", "dogs", "cats"]


def test_a_flat_folder_still_gives_an_unconditional_model(tmp_path):
    folder = tmp_path / "flat"
    write_mixed_folder(folder, copies=2)
    out = tmp_path / "flat.safetensors"
    train(folder, out, steps=1)
    model = load_image_model(out)
    assert model.classes == []
    item = run_job(jobs.GenerateImagesJob(str(out), count=1, seed=1))["items"][0]
    assert "class" not in item["recipe"]
    with pytest.raises(InputError, match="not class-conditional"):
        run_job(jobs.GenerateImagesJob(str(out), count=1, seed=1, classes=["cats"]))


def test_no_classes_trains_one_unconditional_model_on_class_folders(tmp_path):
    out = tmp_path / "pooled.safetensors"
    train(write_class_folder(tmp_path / "pets"), out, steps=1, use_classes=False)
    assert load_image_model(out).classes == []


def test_the_class_survives_a_png_round_trip_and_redraws_the_same_picture(tmp_path):
    gan = make_gan_file(tmp_path / "pets-gan.safetensors", classes=["cats", "dogs", "birds"])
    item = run_job(jobs.GenerateImagesJob(str(gan), count=2, seed=9, psi=0.7, classes=["birds"]))["items"][1]
    path = save_png(tmp_path / "bird.png", item["image"], item["recipe"])
    recipe = read_recipe(path)
    assert recipe["class"] == "birds" and recipe["class_weights"] == [0.0, 0.0, 1.0]
    assert "Class: birds" in Image.open(path).text["parameters"]
    redrawn = run_job(
        jobs.RenderLatentsJob(str(gan), [recipe["latent"]], recipe["psi"], labels=[recipe["class_weights"]])
    )["items"][0]
    assert np.array_equal(redrawn["image"], np.asarray(Image.open(path)))
    assert redrawn["recipe"]["class"] == "birds"


def test_variations_keep_the_class_and_interpolation_and_mixing_blend_across_classes(tmp_path):
    gan = make_gan_file(tmp_path / "pets-gan.safetensors", classes=["cats", "dogs"])
    a, b = run_job(jobs.GenerateImagesJob(str(gan), count=2, seed=3))["items"]  # seed 3: dogs, then cats
    assert (a["recipe"]["class"], b["recipe"]["class"]) == ("dogs", "cats")
    la, lb = a["recipe"]["class_weights"], b["recipe"]["class_weights"]
    varied = run_job(jobs.VariationsJob(str(gan), a["recipe"]["latent"], 0.3, 3, seed=1, label=la))["items"]
    assert {v["recipe"]["class"] for v in varied} == {"dogs"}
    frames = run_job(
        jobs.InterpolateJob(str(gan), a["recipe"]["latent"], b["recipe"]["latent"], 5, label_a=la, label_b=lb)
    )["items"]
    assert [f["recipe"]["class_weights"] for f in frames][::2] == [[0.0, 1.0], [0.5, 0.5], [1.0, 0.0]]
    assert frames[1]["recipe"]["class"] == "dogs 75% + cats 25%"
    assert np.array_equal(frames[0]["image"], a["image"]) and np.array_equal(frames[-1]["image"], b["image"])
    children = run_job(
        jobs.MixJob(str(gan), a["recipe"]["latent"], b["recipe"]["latent"], 4, seed=2, label_a=la, label_b=lb)
    )["items"]
    for child in children:
        from_b = np.mean([x != y for x, y in zip(child["recipe"]["latent"], a["recipe"]["latent"])])
        assert child["recipe"]["class_weights"][0] == pytest.approx(from_b, abs=1e-6)  # share of cats = share of B


def test_a_resumed_conditional_run_equals_an_uninterrupted_one(tmp_path):
    folder = write_class_folder(tmp_path / "pets")
    straight, split = tmp_path / "straight.safetensors", tmp_path / "split.safetensors"
    train(folder, straight, steps=4)
    train(folder, split, steps=2)
    train(folder, split, steps=4, resume=str(split))
    _, a, state_a = load_checkpoint(straight, "image-gan")
    _, b, state_b = load_checkpoint(split, "image-gan")
    assert state_a["step"] == state_b["step"] == 4
    for key in a:
        assert torch.equal(a[key], b[key]), key


def test_resuming_on_other_classes_is_refused(tmp_path):
    out = tmp_path / "pets.safetensors"
    train(write_class_folder(tmp_path / "pets"), out, steps=1)
    other = write_class_folder(tmp_path / "zoo", classes=("cats", "owls"))
    with pytest.raises(InputError, match="trained on cats, dogs; the folder has cats, owls"):
        train(other, out, steps=2, resume=str(out))


def test_bad_class_layouts_get_a_clear_message(tmp_path):
    empty = write_class_folder(tmp_path / "empty")
    (empty / "birds").mkdir()
    with pytest.raises(InputError, match="Class folder 'birds' has no images \\(nothing\\)"):
        load_image_folder(empty, 32)
    text_only = write_class_folder(tmp_path / "text")
    (text_only / "notes").mkdir()
    (text_only / "notes" / "readme.txt").write_text("not a picture")
    with pytest.raises(InputError, match="'notes' has no images \\(only 1 other file\\(s\\) such as readme.txt\\)"):
        load_image_folder(text_only, 32)
    single = write_class_folder(tmp_path / "single")
    write_class_folder(tmp_path / "one", classes=("owls",), per_class=1)
    (tmp_path / "one" / "owls").rename(single / "owls")
    with pytest.raises(InputError, match="'owls' has only one image \\(owls0.png\\)"):
        load_image_folder(single, 32)
    broken = write_class_folder(tmp_path / "broken")
    (broken / "owls").mkdir()
    for i in range(2):
        (broken / "owls" / f"fake{i}.png").write_text("not a PNG")
    with pytest.raises(InputError, match="'owls' has 0 readable image"):
        load_image_folder(broken, 32)


def test_cli_lists_classes_and_draws_the_named_ones_in_turn(tmp_path, capsys):
    gan = make_gan_file(tmp_path / "pets-gan.safetensors", classes=["cats", "dogs", "birds"])
    assert main(["generate", "image", "--model", str(gan), "--list-classes"]) == 0
    assert capsys.readouterr().out.split() == ["cats", "dogs", "birds"]
    out = tmp_path / "out"
    args = ["generate", "image", "--model", str(gan), "--n", "3", "--seed", "1", "--out", str(out)]
    assert main(args + ["--class", "birds,cats"]) == 0
    assert [read_recipe(p)["class"] for p in sorted(out.glob("*.png"))] == ["birds", "cats", "birds"]
    assert main(args + ["--class", "fish"]) == 1
    assert "has no class 'fish'; its classes are: cats, dogs, birds" in capsys.readouterr().err


def test_the_canvas_class_picker_follows_the_model_and_draws_the_chosen_class(qtbot, studio_home, tmp_path):
    from PySide6.QtCore import QSettings

    from aigc_studio.core.paths import user_models_dir
    from aigc_studio.engine.thread import Engine
    from aigc_studio.ui.image.pane import ImagePane

    flat = make_gan_file(user_models_dir() / "flat-gan.safetensors")
    pets = make_gan_file(user_models_dir() / "pets-gan.safetensors", classes=["cats", "dogs"])
    engine = Engine("cpu")
    engine.start()
    settings = QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)
    settings.setValue("image/auto_generate", False)
    pane = ImagePane(engine, settings)
    qtbot.addWidget(pane)
    try:
        picker = pane.gen_panel.picture_class

        def pick(model):  # as the user does: choose the model in the drop-down
            index = pane.model_picker.findData(str(model))
            pane.model_picker.setCurrentIndex(index)
            pane.model_picker.activated.emit(index)

        pick(flat)
        assert not picker.isEnabled() and picker.currentText() == "any"
        pick(pets)
        assert picker.isEnabled() and [picker.itemText(i) for i in range(picker.count())] == ["any", "cats", "dogs"]
        picker.setCurrentIndex(2)
        pane.gen_panel.count.setValue(3)
        pane.generate()
        qtbot.waitUntil(lambda: not pane.is_busy() and len(pane.canvas.tiles) == 3, timeout=20000)
        assert [i["recipe"]["class"] for i in pane.canvas.items_data] == ["dogs"] * 3
    finally:
        engine.shutdown()


def test_the_train_dialog_refuses_a_bad_class_layout_before_training(qtbot, tmp_path, studio_home):
    from aigc_studio.ui.image.train_dialog import TrainDialog

    folder = write_class_folder(tmp_path / "pets")
    (folder / "birds").mkdir()
    dialog = TrainDialog(folder=str(folder))
    qtbot.addWidget(dialog)
    dialog.out.setText(str(tmp_path / "pets.safetensors"))
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QPushButton

    train = next(b for b in dialog.findChildren(QPushButton) if b.text() == "Train")
    qtbot.mouseClick(train, Qt.MouseButton.LeftButton)
    assert dialog.result() == 0  # still open, not accepted
    assert "Class folder 'birds' has no images" in dialog.error.text()
